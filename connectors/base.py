"""The one small interface every operator dialect implements, and its result types.

Connectors only speak the wire format; rate limits, cooldowns, batching and retries are the
reconciler's job (`controls/`), which reads `rate_per_s`, `in_flight` and `max_batch` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core.operators import CardStatus
from domain.control.results import CommandResult, Result


class OperatorError(Exception):
    """A whole call failed; `result` says whether and how to retry."""

    def __init__(self, result: Result, detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


class OperatorClient(Protocol):
    """stop/resume (batched where the dialect can), status and cumulative usage."""

    dialect: str
    max_batch: int
    rate_per_s: float
    in_flight: int

    async def set_status(self, iccids: Sequence[str], target: CardStatus) -> list[CommandResult]:
        """Change the status of up to `max_batch` cards; one result per card."""
        ...

    async def status(self, iccid: str) -> CardStatus:
        """What the network says the card's status is."""
        ...

    async def usage_bytes(self, iccid: str) -> int:
        """Cumulative usage this month (bytes) as the operator reports it."""
        ...


def all_failed(iccids: Sequence[str], error: OperatorError) -> list[CommandResult]:
    return [CommandResult(iccid, error.result, error.detail) for iccid in iccids]
