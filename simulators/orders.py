"""Status changes that take time: single-card orders and OneLink batch jobs, and the schedule
that completes them when they fall due (lazily, from the simulator's clock).

A single-card change accepted by any dialect (OneLink `change/sim-status`, a Jasper PUT, a
CTCC `disabledNumber`) is an `Order` due `completion_ms` after acceptance; a OneLink batch is a
`BatchJob` due `batch_delay_ms` after submission.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from core.operators import CardStatus

# "unopened": a resume asked of a card never opened (only the dialect's open call opens it).
Outcome = Literal["accepted", "repeat", "cooldown", "held", "unopened"]
CardOutcome = Literal["accepted", "repeat", "cooldown", "held", "unopened", "error"]
OrderState = Literal["inProgress", "completed", "failed"]

BOOK_SIZE = 200_000  # orders and jobs kept for their queries

K = TypeVar("K")
V = TypeVar("V")


@dataclass(eq=False)
class Order:
    """One accepted single-card change: its number, card, target, acceptance and due time."""

    number: str
    iccid: str
    target: CardStatus
    accepted: float
    due: float
    state: OrderState = "inProgress"


@dataclass(frozen=True)
class CardResult:
    """What a batch job did to one card."""

    iccid: str
    outcome: CardOutcome
    detail: str = ""  # the operator's reason when the card is held


@dataclass(eq=False)
class BatchJob:
    """A OneLink batch status change; `results` stays None while the job is processing."""

    job_id: str
    iccids: list[str]
    target: CardStatus
    submitted: float
    due: float
    results: list[CardResult] | None = None


Scheduled = Order | BatchJob


@dataclass
class Schedule:
    """Orders and jobs waiting for their due time; ties complete in submission order."""

    heap: list[tuple[float, int, Scheduled]] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, item: Scheduled) -> None:
        """Wait for `item.due`."""
        heapq.heappush(self.heap, (item.due, next(self.counter), item))

    def pop_due(self, now: float) -> list[Scheduled]:
        """Every waiting item due by `now`, soonest first, no longer waiting."""
        due = []
        while self.heap and self.heap[0][0] <= now:
            due.append(heapq.heappop(self.heap)[2])
        return due

    def __len__(self) -> int:
        return len(self.heap)


def remember(book: dict[K, V], key: K, value: V, size: int = BOOK_SIZE) -> None:
    """Keep `value` under `key`, forgetting the oldest entry beyond `size`."""
    book[key] = value
    if len(book) > size:
        del book[next(iter(book))]
