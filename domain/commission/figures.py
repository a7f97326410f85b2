"""The numbers of a commission line: its amount from a rule's amount and a base (C-03: a
percentage rounded half-up to the fen once, on the final product), the tier row that applies
(H-28: the last whose threshold ≤ the metric), and the formula as the explanation shows it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class AmountLike(Protocol):
    @property
    def mode(self) -> str: ...

    @property
    def value(self) -> int: ...


def percent_half_up(base_fen: int, bp: int) -> int:
    """`bp` basis points of `base_fen`, half-up to the fen, in integers (5 % of 5999 = 300,
    of 5989 = 299)."""
    return (base_fen * bp * 2 + 10000) // 20000


def amount_of(amount: AmountLike, base_fen: int) -> int:
    """A fixed amount as it is; a percentage of `base_fen`."""
    return amount.value if amount.mode == "fixed" else percent_half_up(base_fen, amount.value)


def tier_row(rows: Sequence[tuple[int, int]], metric: int) -> tuple[int, int]:
    """The (threshold, value) row of the tier table that applies to `metric` (inclusive)."""
    chosen = rows[0]
    for row in rows:
        if row[0] <= metric:
            chosen = row
    return chosen


def formula(amount: AmountLike, base_fen: int, result: int) -> str:
    """How `result` came from the amount and the base, e.g. `6000 × 500 bp = 300.00 → 300
    (half-up)` or `fixed 1000`."""
    if amount.mode == "fixed":
        return f"fixed {amount.value}"
    exact = base_fen * amount.value
    return f"{base_fen} × {amount.value} bp = {exact // 10000}.{exact % 10000:04d} → {result} (half-up)"
