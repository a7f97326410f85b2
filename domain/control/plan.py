"""Pure planning for the reconciler: what to send, in which order and batches, and when to
try again."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from core.operators import CardStatus, NetworkStatus
from domain.control.results import CardRef, Result

# Where the reconciler is with a card: sending (or waiting to), waiting for the operator to
# confirm a change it accepted, done, or given up.
ControlState = Literal["pending", "confirming", "done", "failed"]

# What the reconciler asks an operator: stop or resume an opened card, or open (activate) a
# card that was never opened (inventory, test-ready, activation-ready).
Command = Literal["stop", "resume", "activate"]


def command_toward(target: CardStatus, opened: bool) -> Command:
    """The command that drives a card to `target`: a card never opened is opened, not
    resumed (the operators open it with their own call)."""
    if target == "stopped":
        return "stop"
    return "resume" if opened else "activate"


def command(desired: CardStatus, network: NetworkStatus, opened: bool) -> Command | None:
    """The command a card needs, or None when its network status is already the desired one
    (SQL twin `cp_control_command`, migration 0030).

    An unknown network status counts as running for an opened card (operators treat unknown
    cards as active) and as not running for a card never opened: so a card never opened is
    never sent a stop, and its activation does not wait for a status read."""
    running = network == "active" or (network == "unknown" and opened)
    if (desired == "active") == running:
        return None
    return command_toward(desired, opened)


@dataclass(frozen=True)
class Work:
    """A card whose network status differs from its desired status."""

    iccid: str
    operator: str
    target: CardStatus
    attempts: int
    last_used: datetime | None
    msisdn: str | None = None
    opened: bool = True

    @property
    def card(self) -> CardRef:
        return CardRef(self.iccid, self.msisdn)

    @property
    def command(self) -> Command:
        return command_toward(self.target, self.opened)


@dataclass(frozen=True)
class Batch:
    operator: str
    target: CardStatus
    cards: list[CardRef]
    command: Command | None = None  # None: stop or resume, by the target

    def __post_init__(self) -> None:
        if self.command is None:
            object.__setattr__(self, "command", command_toward(self.target, True))
        elif (self.command == "stop") != (self.target == "stopped"):
            raise ValueError(f"command {self.command} cannot drive a card {self.target}")

    @property
    def verb(self) -> Command:
        """The command, as decided (never None after construction)."""
        return self.command or command_toward(self.target, True)

    @property
    def iccids(self) -> list[str]:
        return [c.iccid for c in self.cards]


def plan(work: Iterable[Work], max_batch: dict[str, int]) -> list[Batch]:
    """Group by operator, target and command in order of most recent usage, cut to the
    dialect's batch."""
    groups: dict[tuple[str, CardStatus, Command], list[CardRef]] = defaultdict(list)
    epoch = datetime.min.replace(tzinfo=None)
    ordered = sorted(work, key=lambda w: (w.last_used.replace(tzinfo=None) if w.last_used
                                          else epoch), reverse=True)
    for item in ordered:
        groups[(item.operator, item.target, item.command)].append(item.card)
    batches: list[Batch] = []
    for (operator, target, verb), cards in groups.items():
        size = max_batch.get(operator, 1)
        batches.extend(Batch(operator, target, cards[i:i + size], verb)
                       for i in range(0, len(cards), size))
    return batches


@dataclass(frozen=True)
class Round:
    """One reconciler round for one operator: the batches to send now, and the cards that
    must wait out their cooldown first (with the seconds to wait)."""

    batches: list[Batch]
    cooling: list[tuple[Work, float]]


def plan_round(work: Iterable[tuple[Work, datetime | None]], max_batch: dict[str, int],
               cooldown_s: float, now: datetime) -> Round:
    """Batches of the cards whose last change is at least `cooldown_s` old; the others wait.

    A card inside its cooldown is never put into a batch: OneLink refuses the whole batch
    for one such card."""
    ready: list[Work] = []
    cooling: list[tuple[Work, float]] = []
    for item, last_change in work:
        wait = not_before(last_change, cooldown_s, now)
        if wait > 0:
            cooling.append((item, wait))
        else:
            ready.append(item)
    return Round(plan(ready, max_batch), cooling)


def backoff_s(attempts: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of base·2^(attempts-1)."""
    ceiling = min(cap_s, base_s * 2 ** max(attempts - 1, 0))
    return rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Next:
    """What to record for a card after an answer."""

    state: ControlState
    attempts: int
    retry_in_s: float
    changed: bool


def after(result: Result, attempts: int, *, max_attempts: int, cooldown_s: float,
          base_s: float, cap_s: float, rng: random.Random, confirm_first_s: float = 1.0
          ) -> Next:
    """The card's next step after a command. Cooldowns and rate limits are waits, not failed
    attempts; a submitted change is confirmed from `confirm_first_s` on; an operator's own
    stop and a final refusal are not retried."""
    if result.done:
        return Next("done", 0, 0.0, result is Result.CHANGED)
    if result is Result.SUBMITTED:  # the change counts from now for the cooldown
        return Next("confirming", attempts, confirm_first_s, True)
    if result is Result.COOLDOWN:
        wait = cooldown_s if cooldown_s > 0 else backoff_s(1, base_s, cap_s, rng)
        return Next("pending", attempts, wait, False)
    if result is Result.RATE_LIMITED:
        return Next("pending", attempts, backoff_s(1, base_s, cap_s, rng), False)
    tried = attempts + 1
    if tried >= max_attempts or result.final:
        return Next("failed", tried, 0.0, False)
    return Next("pending", tried, backoff_s(tried, base_s, cap_s, rng), False)


@dataclass(frozen=True)
class Confirming:
    """How long the operator has had a submitted change, and how long it may take."""

    elapsed_s: float
    first_s: float
    cap_s: float
    deadline_s: float


def after_check(result: Result, attempts: int, waited: Confirming, *, max_attempts: int,
                base_s: float, cap_s: float, rng: random.Random) -> Next:
    """The card's next step after checking a submitted change (a status read or an order
    query). Checks back off as the wait grows (the next one after as long again as waited so
    far, within [first_s, cap_s]); past the deadline the change is sent again as a new
    attempt."""
    if result.done:
        return Next("done", 0, 0.0, False)
    if result.final:
        return Next("failed", attempts + 1, 0.0, False)
    if result is Result.SUBMITTED and waited.elapsed_s < waited.deadline_s:
        wait = min(waited.cap_s, max(waited.first_s, waited.elapsed_s),
                   waited.deadline_s - waited.elapsed_s)
        return Next("confirming", attempts, wait, False)
    if result in (Result.RATE_LIMITED, Result.COOLDOWN):  # the check was not answered
        return Next("confirming", attempts, backoff_s(1, base_s, cap_s, rng), False)
    # Not confirmed in time, the order failed, or the check failed: send the change again
    # (harmless: "already in that state" is success).
    tried = attempts + 1
    if tried >= max_attempts:
        return Next("failed", tried, 0.0, False)
    return Next("pending", tried, backoff_s(tried, base_s, cap_s, rng), False)


def not_before(last_change: datetime | None, cooldown_s: float, now: datetime) -> float:
    """Seconds to wait so that two changes of a card are at least `cooldown_s` apart."""
    if last_change is None:
        return 0.0
    return max(0.0, (last_change + timedelta(seconds=cooldown_s) - now).total_seconds())
