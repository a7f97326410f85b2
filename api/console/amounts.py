"""Amounts of data as people type them in the console's forms (a number and a unit, MB or GB,
counted as operators count: 1 GB = 1024 MB) and as the forms show a stored byte count."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from api.console.i18n import N_

Unit = Literal["MB", "GB"]
UNITS: dict[str, int] = {"MB": 1 << 20, "GB": 1 << 30}
MAX_BYTES = 1 << 62  # what the API accepts (api.schemas.common.Bytes)

NOT_A_NUMBER = N_("Enter a number, for example 1.5.")
NEGATIVE = N_("The amount may not be negative.")
TOO_LARGE = N_("The amount is too large.")
BAD_UNIT = N_("Choose MB or GB.")
REQUIRED = N_("Enter an amount.")


@dataclass(frozen=True)
class Amount:
    """What a form shows or received: the number as typed and its unit."""

    number: str
    unit: str


class Refused(ValueError):
    """An amount that is not one: `message` is a catalogue message saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def shown(value: int | None) -> Amount:
    """A byte count as a form shows it: in GB from 1 GB up, else in MB, up to 3 decimals."""
    if value is None:
        return Amount("", "GB")
    unit: Unit = "GB" if value >= UNITS["GB"] else "MB"
    number = (Decimal(value) / UNITS[unit]).quantize(Decimal("0.001"))
    text = format(number.normalize(), "f") if number else "0"
    return Amount(text, unit)


def to_bytes(amount: Amount, *, required: bool) -> int | None:
    """The byte count of a typed amount (None for an empty optional one); `Refused` says why
    it is not an amount."""
    text = amount.number.strip().replace(",", "")
    if not text:
        if required:
            raise Refused(REQUIRED)
        return None
    if amount.unit not in UNITS:
        raise Refused(BAD_UNIT)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Refused(NOT_A_NUMBER) from None
    if not number.is_finite():
        raise Refused(NOT_A_NUMBER)
    if number < 0:
        raise Refused(NEGATIVE)
    if number > Decimal(MAX_BYTES) / UNITS[amount.unit]:
        raise Refused(TOO_LARGE)
    return int((number * UNITS[amount.unit]).to_integral_value())
