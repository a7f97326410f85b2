"""Pure planning for the reconciler: what to send, in which order and batches, and when to
try again."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from core.operators import CardStatus
from domain.control.results import Result

# Where the reconciler is with a card: sending (or waiting to), done, or given up.
ControlState = Literal["pending", "done", "failed"]


@dataclass(frozen=True)
class Work:
    """A card whose network status differs from its desired status."""

    iccid: str
    operator: str
    target: CardStatus
    attempts: int
    last_used: datetime | None


@dataclass(frozen=True)
class Batch:
    operator: str
    target: CardStatus
    iccids: list[str]


def plan(work: Iterable[Work], max_batch: dict[str, int]) -> list[Batch]:
    """Group by operator and target in order of most recent usage, cut to the dialect's batch."""
    groups: dict[tuple[str, CardStatus], list[str]] = defaultdict(list)
    epoch = datetime.min.replace(tzinfo=None)
    ordered = sorted(work, key=lambda w: (w.last_used.replace(tzinfo=None) if w.last_used
                                          else epoch), reverse=True)
    for item in ordered:
        groups[(item.operator, item.target)].append(item.iccid)
    batches: list[Batch] = []
    for (operator, target), iccids in groups.items():
        size = max_batch.get(operator, 1)
        batches.extend(Batch(operator, target, iccids[i:i + size])
                       for i in range(0, len(iccids), size))
    return batches


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
          base_s: float, cap_s: float, rng: random.Random) -> Next:
    """The card's next step. Cooldowns and rate limits are waits, not failed attempts."""
    if result.done:
        return Next("done", 0, 0.0, result is Result.CHANGED)
    if result is Result.COOLDOWN:
        return Next("pending", attempts, cooldown_s, False)
    if result is Result.RATE_LIMITED:
        return Next("pending", attempts, backoff_s(1, base_s, cap_s, rng), False)
    tried = attempts + 1
    if tried >= max_attempts or result is Result.REJECTED:
        return Next("failed", tried, 0.0, False)
    return Next("pending", tried, backoff_s(tried, base_s, cap_s, rng), False)


def not_before(last_change: datetime | None, cooldown_s: float, now: datetime) -> float:
    """Seconds to wait so that two changes of a card are at least `cooldown_s` apart."""
    if last_change is None:
        return 0.0
    return max(0.0, (last_change + timedelta(seconds=cooldown_s) - now).total_seconds())
