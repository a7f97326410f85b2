"""Money: integer fen (分, 1 yuan = 100 fen), percentages in basis points, half-up rounding.

No float ever holds an amount (shared/specs/business.md, C-01…C-03): a percentage of an amount
is computed exactly in integers and rounded once, half-up, to the fen.
"""

from __future__ import annotations

import re
from typing import NewType

Fen = NewType("Fen", int)
BasisPoints = NewType("BasisPoints", int)  # 1 % = 100 bp

BP_PER_WHOLE = 10_000
_YUAN = re.compile(r"^(-)?([0-9]+)(?:\.([0-9]{1,2}))?$")  # ASCII digits only


def fen(amount: int) -> Fen:
    """An integer amount in fen (refuses bools and floats, which are never money)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"an amount in fen must be an int, got {type(amount).__name__}")
    return Fen(amount)


def share(amount: Fen, rate: BasisPoints) -> Fen:
    """`rate` basis points of `amount`, rounded half-up to the fen (away from zero at .5).

    5 % of 5999 fen is 299.95 → 300; 5 % of 5989 is 299.45 → 299."""
    numerator = abs(amount) * rate
    rounded = (2 * numerator + BP_PER_WHOLE) // (2 * BP_PER_WHOLE)
    return Fen(rounded if amount >= 0 else -rounded)


def yuan(amount: Fen) -> str:
    """The amount as yuan with two decimals, as people read it (`-12.05`)."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"


def parse_yuan(text: str) -> Fen:
    """Fen from a yuan amount written with at most two decimals (`"50"`, `"12.5"`, `"-0.05"`).

    Raises ValueError naming the problem for anything else (three decimals, exponents, …)."""
    found = _YUAN.match(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not an amount in yuan with at most two decimals")
    negative, whole, cents = found.groups()
    value = int(whole) * 100 + int((cents or "0").ljust(2, "0"))
    return Fen(-value if negative else value)
