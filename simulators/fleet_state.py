"""The simulated operator's state: pure, clock-injected and free of I/O, shared by every dialect.

Holds the cards (status, cooldown, month-to-date usage), OneLink tokens and batch jobs, the Jasper
per-account rate limiter and the seeded fault injector. Every time-dependent method takes `now`
(seconds on the simulator's clock) so tests move time without sleeping.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Literal

from core.operators import CardStatus

Outcome = Literal["accepted", "repeat", "cooldown"]
CardOutcome = Literal["accepted", "repeat", "cooldown", "error"]
Fault = Literal["rate_limited", "error"]
UsageLag = Literal["none", "t-1"]

DAY_S = 86_400.0
CHANGE_LOG_SIZE = 200_000  # accepted changes kept for `GET /_sim/changes`


def day_of(now: float) -> int:
    """The simulator's day number of `now`; usage is bucketed by it for the T-1 lag."""
    return int(now // DAY_S)


@dataclass
class SimCard:
    """One card: its status, how often it changed, when last, and its usage per day (bytes)."""

    status: CardStatus = "active"
    status_changes: int = 0
    last_change: float | None = None
    usage: dict[int, int] = field(default_factory=dict)


@dataclass
class TokenBook:
    """OneLink tokens: each belongs to one appid and expires `ttl_s` after it was issued."""

    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def issue(self, appid: str, now: float, ttl_s: float) -> str:
        """A new token for `appid`; earlier tokens stay valid until they expire, like OneLink."""
        self._forget_expired(now)
        token = secrets.token_hex(16)
        self.tokens[token] = (appid, now + ttl_s)
        return token

    def appid_of(self, token: str | None, now: float) -> str | None:
        """The appid a still-valid token was issued to, or None (unknown or expired)."""
        appid, expires = self.tokens.get(token or "", ("", 0.0))
        return appid if appid and now < expires else None

    def _forget_expired(self, now: float) -> None:
        # Connectors refresh tokens for ever; without this the book grows for the whole run.
        for token in [t for t, (_, expires) in self.tokens.items() if expires <= now]:
            del self.tokens[token]


@dataclass(frozen=True)
class CardResult:
    """What a batch job did to one card."""

    iccid: str
    outcome: CardOutcome


@dataclass
class BatchJob:
    """A OneLink batch status change; `results` stays None while the job is processing."""

    job_id: str
    iccids: list[str]
    target: CardStatus
    due: float
    results: list[CardResult] | None = None


@dataclass
class RateLimiter:
    """Jasper's limit per account: a token bucket of `rate_per_s` and one call in flight."""

    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)

    def acquire(self, account: str, now: float, rate_per_s: float) -> bool:
        """Admit one call of `account` now (then `release` it), or refuse it: over the limit."""
        if account in self.in_flight:
            return False
        capacity = max(1.0, rate_per_s)  # a full second's worth of calls may come in a burst
        tokens, last = self.buckets.get(account, (capacity, now))
        tokens = min(capacity, tokens + max(0.0, now - last) * rate_per_s)
        if tokens < 1.0:
            self.buckets[account] = (tokens, now)
            return False
        self.buckets[account] = (tokens - 1.0, now)
        self.in_flight.add(account)
        return True

    def release(self, account: str) -> None:
        """The admitted call of `account` has been answered."""
        self.in_flight.discard(account)


class Faults:
    """Injected rate limits and transient errors, drawn from a seeded generator (reproducible)."""

    def __init__(self, seed: int = 1) -> None:
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the sequence of draws from `seed`."""
        # Not for security: a reproducible sequence of simulated failures is the point.
        self.rng = random.Random(seed)  # noqa: S311

    def hit(self, rate: float) -> bool:
        """True with probability `rate`."""
        return self.rng.random() < rate

    def draw(self, limit_rate: float, error_rate: float) -> Fault | None:
        """The fault to inject into one call, if any; a rate limit wins over an error."""
        # Draw both every time so the sequence depends only on the number of calls.
        limited, failed = self.hit(limit_rate), self.hit(error_rate)
        return "rate_limited" if limited else "error" if failed else None


@dataclass
class SimNetwork:
    """Every card the operator knows; an unseen valid ICCID is an active card."""

    cooldown_s: float
    usage_lag: UsageLag = "none"
    cards: dict[str, SimCard] = field(default_factory=dict)
    stats: Counter[tuple[str, str]] = field(default_factory=Counter)
    tokens: TokenBook = field(default_factory=TokenBook)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    faults: Faults = field(default_factory=Faults)
    jobs: dict[str, BatchJob] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    changes: deque[tuple[int, str, CardStatus, float]] = field(
        default_factory=lambda: deque(maxlen=CHANGE_LOG_SIZE))

    def card(self, iccid: str) -> SimCard:
        """The card, created active on first sight."""
        return self.cards.setdefault(iccid, SimCard())

    def change(self, iccid: str, target: CardStatus, now: float) -> Outcome:
        """Apply a status change like OneLink does: a repeat is success, too soon is refused."""
        card = self.card(iccid)
        if card.status == target:
            return "repeat"
        if card.last_change is not None and now - card.last_change < self.cooldown_s:
            return "cooldown"
        card.status = target
        card.status_changes += 1
        card.last_change = now
        seq = self.changes[-1][0] + 1 if self.changes else 1
        self.changes.append((seq, iccid, target, now))
        return "accepted"

    def changes_after(self, seq: int, limit: int) -> list[tuple[int, str, CardStatus, float]]:
        """Accepted status changes with a sequence number above `seq`, oldest first."""
        return [c for c in self.changes if c[0] > seq][:limit]

    def add_usage(self, iccid: str, nbytes: int, now: float) -> None:
        """Add usage to the card's counter for the day of `now`."""
        usage = self.card(iccid).usage
        usage[day_of(now)] = usage.get(day_of(now), 0) + nbytes

    def usage_bytes(self, iccid: str, now: float) -> int:
        """Month-to-date usage as the operator reports it: without today when the lag is T-1."""
        today = day_of(now)
        usage = self.card(iccid).usage
        return sum(n for day, n in usage.items() if self.usage_lag == "none" or day < today)

    def submit_batch(self, iccids: list[str], target: CardStatus, now: float, delay_s: float
                     ) -> str:
        """Queue a batch change that completes `delay_s` from now; returns the job id."""
        job_id = str(100_000 + len(self.jobs) + 1)
        self.jobs[job_id] = BatchJob(job_id, list(iccids), target, now + delay_s)
        self.pending.append(job_id)
        return job_id

    def settle(self, now: float, error_rate: float = 0.0) -> None:
        """Complete every job due by `now`, in due order, each at its own due time."""
        due = sorted((self.jobs[j] for j in self.pending if self.jobs[j].due <= now),
                     key=lambda job: job.due)
        for job in due:
            job.results = [self._batch_change(i, job.target, job.due, error_rate)
                           for i in job.iccids]
            self.pending.remove(job.job_id)

    def _batch_change(self, iccid: str, target: CardStatus, now: float,
                      error_rate: float) -> CardResult:
        # A batch fails card by card on the real platform, so faults are injected per card.
        if self.faults.hit(error_rate):
            return CardResult(iccid, "error")
        return CardResult(iccid, self.change(iccid, target, now))

    def count(self, dialect: str, outcome: str) -> None:
        """Count one dialect request by its outcome."""
        self.stats[(dialect, outcome)] += 1

    def stats_view(self) -> dict[str, dict[str, int]]:
        """The request counts as `{dialect: {outcome: n}}`."""
        view: dict[str, dict[str, int]] = {}
        for (dialect, outcome), n in sorted(self.stats.items()):
            view.setdefault(dialect, {})[outcome] = n
        return view
