"""The one small interface every operator dialect implements, and what the dialects share.

Connectors only speak the wire format; rate limits, cooldowns, batching, confirmation and
retries are the reconciler's job (`controls/`), which reads `rate_per_s`, `in_flight` and
`max_batch` here. Every connector maps each answer explicitly (connectors/DIALECTS.md): an
operator code it does not know is a final refusal, never success.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Protocol

from core.operators import CardStatus
from domain.control.results import CardRef, CommandResult, Reading, Result


class OperatorError(Exception):
    """A whole call failed; `result` says whether and how to retry."""

    def __init__(self, result: Result, detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


class OperatorClient(Protocol):
    """stop/resume (batched where the dialect can), activation of cards never opened,
    confirmation, status and usage."""

    dialect: str
    max_batch: int
    rate_per_s: float
    in_flight: int
    closes_cycles: bool  # whether `cycle_bytes` can read a closed cycle's totals

    async def set_status(self, cards: Sequence[CardRef], target: CardStatus
                         ) -> list[CommandResult]:
        """Change the status of up to `max_batch` cards; one result per card."""
        ...

    async def activate(self, cards: Sequence[CardRef]) -> list[CommandResult]:
        """Open up to `max_batch` cards that were never opened (inventory, test-ready,
        activation-ready) with the dialect's own call; one result per card. A card already
        active answers `repeat`; confirmation works as for a resume (target `active`)."""
        ...

    async def confirm(self, card: CardRef, target: CardStatus, ticket: str | None
                      ) -> CommandResult:
        """Whether a submitted change has happened: `accepted` when it has, `submitted`
        while it has not, a failure when the operator says it will not."""
        ...

    async def status(self, card: CardRef) -> Reading:
        """What the network says the card's status is."""
        ...

    async def usage_bytes(self, card: CardRef) -> int:
        """Cumulative usage in the operator's current cycle (bytes), as it reports it."""
        ...

    async def cycle_bytes(self, cards: Sequence[CardRef], first_day: date, last_day: date
                          ) -> dict[str, int] | None:
        """Each card's total usage over the days `first_day`..`last_day` of a closed cycle (by
        ICCID; cards the operator cannot answer for are left out), or None when the dialect
        has no such call."""
        ...


# An operator's status code → (CardPulse status, the code's meaning, held by the operator).
StatusTable = Mapping[str, tuple[CardStatus, str, bool]]


def reading_from(table: StatusTable, code: str) -> Reading:
    """What an operator's status code means; a code not in the table is `unknown`."""
    known = table.get(code)
    if known is None:
        return Reading("unknown", code, "unknown code")
    status, name, held = known
    return Reading(status, code, name, held)


def all_failed(cards: Sequence[CardRef], error: OperatorError) -> list[CommandResult]:
    return [CommandResult(c.iccid, error.result, error.detail) for c in cards]


async def confirm_by_status(client: OperatorClient, card: CardRef, target: CardStatus
                            ) -> CommandResult:
    """Confirm a submitted change by reading the card's status."""
    try:
        reading = await client.status(card)
    except OperatorError as exc:
        return CommandResult(card.iccid, exc.result, exc.detail)
    if reading.network == target:
        return CommandResult(card.iccid, Result.CHANGED, f"{reading.code} {reading.name}")
    if reading.held and target == "active":
        return CommandResult(card.iccid, Result.HELD,
                             f"held by the operator: {reading.code} {reading.name}")
    return CommandResult(card.iccid, Result.SUBMITTED, f"still {reading.code} {reading.name}")


def _amount(text: str, unit: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise OperatorError(Result.TRANSIENT, f"usage {text!r} is not a number of {unit}")
    return value


def megabytes(text: str) -> int:
    """Bytes of an operator's "12.34MB" (1 MB = 1024 × 1024 bytes, as every client counts)."""
    number = text.strip().upper().removesuffix("MB")
    return int((_amount(number, "MB") * 1024 * 1024).to_integral_value())


def kilobytes(text: str) -> int:
    """Bytes of an operator's KB figure, possibly fractional ("123.45")."""
    return int((_amount(text, "KB") * 1024).to_integral_value())
