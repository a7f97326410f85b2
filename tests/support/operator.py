"""A scripted operator client: the test double for an operator's API (outside our process).

`ScriptedOperator` implements `connectors.base.OperatorClient`. It records every call in
order and answers from a script: per call (`next_calls`: a `Result` for every card of the
call, or an `OperatorError` to raise) before per card (`answer`: that card's next results).
Unscripted, it behaves like a well-mannered network: a card already in the asked state
answers `ALREADY`, any other `CHANGED`. Cards changed by a done answer change `status`; a
`SUBMITTED` answer changes it only when the test says the operator completed it
(`complete`), and `confirm` reads the status like the real connectors do.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from connectors.base import OperatorError, confirm_by_status
from core.operators import CardStatus
from domain.control.results import CardRef, CommandResult, Reading, Result

Method = Literal["set_status", "activate", "status", "usage_bytes", "confirm"]


@dataclass(frozen=True)
class Call:
    """One call the client received; `at` is `time.monotonic()` when it arrived."""

    method: Method
    iccids: tuple[str, ...]
    target: CardStatus | None
    at: float


class ScriptedOperator:
    """An operator whose answers the test writes; limits as the reconciler reads them."""

    def __init__(self, dialect: str = "onelink", *, max_batch: int = 100,
                 rate_per_s: float = 1000.0, in_flight: int = 4) -> None:
        self.dialect = dialect
        self.closes_cycles = False
        self.max_batch = max_batch
        self.rate_per_s = rate_per_s
        self.in_flight = in_flight
        self.calls: list[Call] = []
        self.statuses: dict[str, CardStatus] = {}
        self.held: set[str] = set()
        self.submitted: dict[str, CardStatus] = {}
        self.usage: dict[str, int] = {}
        self._per_call: deque[Result | OperatorError | list[CommandResult]] = deque()
        self._per_card: dict[str, deque[Result]] = {}

    def answer(self, iccid: str, *results: Result) -> None:
        """Queue the next answers to status changes of `iccid`, one per call."""
        self._per_card.setdefault(iccid, deque()).extend(results)

    def next_calls(self, *answers: Result | OperatorError) -> None:
        """Queue whole-call answers: a result for every card of the call, or an error raised."""
        self._per_call.extend(answers)

    def next_results(self, results: list[CommandResult]) -> None:
        """Queue the exact results of the next call (say, a batch refused as a whole)."""
        self._per_call.append(results)

    def changes(self) -> list[tuple[CardStatus | None, tuple[str, ...]]]:
        """The status changes asked for, in order: (target, cards of the call)."""
        return [(c.target, c.iccids) for c in self.calls if c.method == "set_status"]

    def activations(self) -> list[tuple[str, ...]]:
        """The activations asked for, in order: the cards of each call."""
        return [c.iccids for c in self.calls if c.method == "activate"]

    def complete(self) -> None:
        """The operator completes every submitted change."""
        self.statuses.update(self.submitted)
        self.submitted.clear()

    def _record(self, method: Method, iccids: Sequence[str], target: CardStatus | None = None
                ) -> None:
        self.calls.append(Call(method, tuple(iccids), target, time.monotonic()))

    def _one(self, iccid: str, target: CardStatus, whole: Result | None) -> CommandResult:
        queued = self._per_card.get(iccid)
        result = whole or (queued.popleft() if queued else None)
        if result is None:  # a change in flight counts as made, as operators answer
            was = self.submitted.get(iccid, self.statuses.get(iccid, "active"))
            result = Result.ALREADY if was == target else Result.CHANGED
        if result.done:
            self.statuses[iccid] = target
            self.submitted.pop(iccid, None)  # the newer change wins
        if result is Result.SUBMITTED:
            self.submitted[iccid] = target
        return CommandResult(iccid, result, f"scripted {result.value}")

    async def set_status(self, cards: Sequence[CardRef], target: CardStatus
                         ) -> list[CommandResult]:
        iccids = [c.iccid for c in cards]
        self._record("set_status", iccids, target)
        whole = self._per_call.popleft() if self._per_call else None
        if isinstance(whole, OperatorError):
            raise whole
        if isinstance(whole, list):
            return whole
        return [self._one(iccid, target, whole) for iccid in iccids]

    async def activate(self, cards: Sequence[CardRef]) -> list[CommandResult]:
        """Like a resume, from the card's status (a card never seen counts as active)."""
        iccids = [c.iccid for c in cards]
        self._record("activate", iccids, "active")
        whole = self._per_call.popleft() if self._per_call else None
        if isinstance(whole, OperatorError):
            raise whole
        if isinstance(whole, list):
            return whole
        return [self._one(iccid, "active", whole) for iccid in iccids]

    async def confirm(self, card: CardRef, target: CardStatus, ticket: str | None
                      ) -> CommandResult:
        self._record("confirm", [card.iccid], target)
        return await confirm_by_status(self, card, target)

    async def status(self, card: CardRef) -> Reading:
        self._record("status", [card.iccid])
        status = self.statuses.get(card.iccid, "active")
        return Reading(status, status, "scripted", card.iccid in self.held)

    async def usage_bytes(self, card: CardRef) -> int:
        self._record("usage_bytes", [card.iccid])
        return self.usage.get(card.iccid, 0)

    async def cycle_bytes(self, cards: Sequence[CardRef], first_day: date, last_day: date
                          ) -> dict[str, int] | None:
        return None
