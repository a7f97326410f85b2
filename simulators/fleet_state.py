"""The simulated operator's state: pure, clock-injected and free of I/O, shared by every dialect.

Holds the cards (status, stop reason, freeze, cooldown, usage per Beijing date), the numbers
they are known by, the pending orders and batch jobs, and the gates (`simulators.gates`). Every
time-dependent method takes `now` (unix seconds on the simulator's clock) so tests move time
without sleeping; due orders and jobs complete lazily in `settle`.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TypedDict

from core.operators import CardStatus
from simulators.beijing import ONE_DAY
from simulators.gates import Faults, RateLimiter, TokenBook
from simulators.numbers import Numbers
from simulators.orders import (
    BatchJob,
    CardResult,
    Order,
    Outcome,
    Schedule,
    remember,
)

UsageLag = Literal["none", "t-1"]
Platform = Literal["ct", "pb"]
# A card never opened, as the operator keeps it: in inventory, ready for a test period, or
# ready to be activated. It does not run; only the dialect's open call opens it.
Stage = Literal["inventory", "test_ready", "activation_ready"]
STAGES: tuple[Stage, ...] = ("inventory", "test_ready", "activation_ready")

OWN_STOP = "主动停机"  # the stop reason of our own stops: the only one we may resume
FREEZE = "管理停机冻结"  # the reason a management freeze is given as
CHANGE_LOG_SIZE = 200_000  # changes kept for `GET /_sim/changes`


class CardEdit(TypedDict, total=False):
    """What the operator itself may change on a card (`PUT /_sim/cards/{iccid}`)."""

    msisdn: str | None
    platform: Platform
    status: CardStatus
    stop_reason: str | None
    frozen: bool
    stage: Stage | None


@dataclass(slots=True)
class SimCard:
    """One card: status and why, its number, cooldown, pending orders and usage per day."""

    status: CardStatus = "active"
    status_changes: int = 0
    # The cooldown's start: when our last change was accepted or the operator's own was made.
    last_change: float | None = None
    changed_at: float | None = None  # when the status last changed on the network
    created: float = 0.0
    msisdn: str | None = None
    platform: Platform = "ct"
    stop_reason: str | None = None
    frozen: bool = False
    stage: Stage | None = None  # never opened (stopped until opened); None once opened
    pending: list[Order] = field(default_factory=list)
    usage: dict[date, int] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        """Frozen, or stopped by the operator for a reason of its own: our resume is refused."""
        return self.frozen or (self.status == "stopped"
                               and self.stop_reason not in (None, OWN_STOP))

    @property
    def hold_reason(self) -> str:
        """Why the card is held: the operator's stop reason, else the freeze."""
        reason = self.stop_reason
        return reason if reason is not None and reason != OWN_STOP else FREEZE

    @property
    def target(self) -> CardStatus:
        """The status the card will have once its pending orders are done."""
        return self.pending[-1].target if self.pending else self.status

    @property
    def last_status_time(self) -> float:
        """When the status last changed, or when the card came to be."""
        return self.changed_at if self.changed_at is not None else self.created


@dataclass
class SimNetwork:
    """Every card the operator knows; an unseen valid ICCID is an active card."""

    cooldown_s: float
    usage_lag: UsageLag = "none"
    cards: dict[str, SimCard] = field(default_factory=dict)
    numbers: Numbers = field(default_factory=Numbers)
    stats: Counter[tuple[str, str]] = field(default_factory=Counter)
    tokens: TokenBook = field(default_factory=TokenBook)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    faults: Faults = field(default_factory=Faults)
    orders: dict[str, Order] = field(default_factory=dict)
    jobs: dict[str, BatchJob] = field(default_factory=dict)
    schedule: Schedule = field(default_factory=Schedule)
    serial: int = 0
    changes: deque[tuple[int, str, CardStatus, float]] = field(
        default_factory=lambda: deque(maxlen=CHANGE_LOG_SIZE))

    def card(self, iccid: str, now: float = 0.0) -> SimCard:
        """The card, created active on first sight (at `now`)."""
        card = self.cards.get(iccid)
        if card is None:
            card = self.cards[iccid] = SimCard(created=now)
        return card

    def iccid_of(self, msisdn: str) -> str | None:
        """The card a number belongs to, or None."""
        return self.numbers.owner(msisdn)

    # --- status changes ------------------------------------------------------------------

    def check(self, card: SimCard, target: CardStatus, now: float, opening: bool = False
              ) -> Outcome:
        """Whether our change to `target` may go ahead now, and if not why not; a card never
        opened goes `active` only by an open call (`opening`)."""
        if card.target == target:
            return "repeat"
        if target == "active" and card.stage is not None and not opening:
            return "unopened"
        if target == "active" and card.held:
            return "held"
        if self.in_cooldown(card, now):
            return "cooldown"
        return "accepted"

    def in_cooldown(self, card: SimCard | None, now: float) -> bool:
        """Whether our last change of `card` was accepted less than `cooldown_s` ago."""
        last = card.last_change if card is not None else None
        return last is not None and now - last < self.cooldown_s

    def request(self, iccid: str, target: CardStatus, now: float,
                completion_s: float, opening: bool = False) -> tuple[Outcome, Order | None]:
        """A single-card change (`opening`: by the dialect's open call): an order due
        `completion_s` from now, unless refused."""
        card = self.card(iccid, now)
        outcome = self.check(card, target, now, opening)
        if outcome != "accepted":
            return outcome, None
        card.last_change = now
        self.serial += 1
        order = Order(str(800_000_000_000 + self.serial), iccid, target, now, now + completion_s)
        card.pending.append(order)
        remember(self.orders, order.number, order)
        if completion_s > 0:
            self.schedule.add(order)
        else:
            self.complete(order)
        return "accepted", order

    def complete(self, order: Order) -> None:
        """The order falls due: the card changes, unless the operator holds it by now."""
        card = self.cards[order.iccid]
        card.pending.remove(order)
        if order.target == "active" and card.held:
            order.state = "failed"
            return
        order.state = "completed"
        self.apply(order.iccid, order.target, order.due, OWN_STOP)

    def apply(self, iccid: str, target: CardStatus, at: float, reason: str | None) -> bool:
        """A status change taking effect on the network at `at` (logged); False if none.

        A stop records `reason`; a resume clears the stop reason and opens a card never
        opened.
        """
        card = self.card(iccid, at)
        if target == "active":
            card.stage = None
        if card.status == target:
            return False
        card.status, card.changed_at = target, at
        card.stop_reason = reason if target == "stopped" else None
        card.status_changes += 1
        seq = self.changes[-1][0] + 1 if self.changes else 1
        self.changes.append((seq, iccid, target, at))
        return True

    def changes_after(self, seq: int, limit: int) -> list[tuple[int, str, CardStatus, float]]:
        """Status changes with a sequence number above `seq`, oldest first."""
        return [c for c in self.changes if c[0] > seq][:limit]

    # --- batch jobs ------------------------------------------------------------------------

    def submit_batch(self, iccids: list[str], target: CardStatus, now: float, delay_s: float
                     ) -> str:
        """Queue a batch change that completes `delay_s` from now; returns the job id."""
        self.serial += 1
        job = BatchJob(str(100_000 + self.serial), list(iccids), target, now, now + delay_s)
        remember(self.jobs, job.job_id, job)
        self.schedule.add(job)
        return job.job_id

    def settle(self, now: float, error_rate: float = 0.0) -> None:
        """Complete every order and job due by `now`, in due order, each at its due time."""
        for item in self.schedule.pop_due(now):
            if isinstance(item, Order):
                self.complete(item)
            else:
                item.results = [self._batch_change(i, item.target, item.due, error_rate)
                                for i in item.iccids]

    def _batch_change(self, iccid: str, target: CardStatus, at: float,
                      error_rate: float) -> CardResult:
        # A batch fails card by card on the real platform, so faults are injected per card.
        if self.faults.hit(error_rate):
            return CardResult(iccid, "error")
        card = self.card(iccid, at)
        outcome = self.check(card, target, at)
        if outcome == "accepted":
            card.last_change = at
            self.apply(iccid, target, at, OWN_STOP)
        return CardResult(iccid, outcome, card.hold_reason if outcome == "held" else "")

    # --- the operator's own doing ----------------------------------------------------------

    def register(self, iccid: str, msisdn: str | None, platform: Platform, now: float) -> None:
        """Give the card its number and platform (the number must not belong to another)."""
        card = self.card(iccid, now)
        self.numbers.rebind(iccid, card.msisdn, msisdn)
        card.msisdn, card.platform = msisdn, platform

    def edit(self, iccid: str, edit: CardEdit, now: float) -> SimCard:
        """The operator changes the card itself: number, platform, status, reason, freeze.

        A status change takes effect at once and starts the card's cooldown, as any change of
        the card does. Freezing an active card without naming a status stops it (a management
        stop); a resume without a reason clears the stop reason. A `stage` makes the card one
        never opened (not running, no change logged: it never ran); `status: "active"` opens it.
        """
        card = self.card(iccid, now)
        if "msisdn" in edit or "platform" in edit:
            self.register(iccid, edit.get("msisdn", card.msisdn),
                          edit.get("platform", card.platform), now)
        if edit.get("stage") is not None:
            card.stage, card.status, card.stop_reason = edit["stage"], "stopped", None
        card.frozen = edit.get("frozen", card.frozen)
        status = edit.get("status", "stopped" if edit.get("frozen") else card.status)
        reason = edit.get("stop_reason", card.stop_reason)
        if self.apply(iccid, status, now, reason):
            card.last_change = now
        if card.status == "stopped" or "stop_reason" in edit:
            card.stop_reason = reason
        return card

    # --- usage -----------------------------------------------------------------------------

    def add_usage(self, iccid: str, nbytes: int, day: date, now: float = 0.0) -> None:
        """Add usage to the card's counter for the Beijing date `day`."""
        usage = self.card(iccid, now).usage
        usage[day] = usage.get(day, 0) + nbytes

    def last_visible(self, card: SimCard, today: date) -> date:
        """The last day the operator reports: yesterday for PB numbers (T-1), else today."""
        return today - ONE_DAY if self.usage_lag == "t-1" or card.platform == "pb" else today

    def usage_between(self, card: SimCard, first: date, last: date) -> int:
        """The card's bytes from `first` to `last` (inclusive)."""
        return sum(n for day, n in card.usage.items() if first <= day <= last)

    def usage_since(self, card: SimCard, first: date, today: date) -> int:
        """Cumulative bytes since `first` as the operator reports them today (lag included)."""
        return self.usage_between(card, first, self.last_visible(card, today))

    def usage_days(self, card: SimCard, first: date, today: date) -> int:
        """How many days since `first` the card used data, as reported today."""
        last = self.last_visible(card, today)
        return sum(1 for day, n in card.usage.items() if first <= day <= last and n > 0)

    # --- request counts --------------------------------------------------------------------

    def count(self, dialect: str, outcome: str) -> None:
        """Count one dialect request by its outcome."""
        self.stats[(dialect, outcome)] += 1

    def stats_view(self) -> dict[str, dict[str, int]]:
        """The request counts as `{dialect: {outcome: n}}`."""
        view: dict[str, dict[str, int]] = {}
        for (dialect, outcome), n in sorted(self.stats.items()):
            view.setdefault(dialect, {})[outcome] = n
        return view
