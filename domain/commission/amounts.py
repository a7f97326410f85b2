"""Commission amounts (C-01…C-03, H-02, H-14, H-16, H-28): integer fen, percentages in basis
points rounded half-up once on the final product, the tier in force, the traffic-card cap."""

from __future__ import annotations

from core.money import BP_PER_WHOLE, Fen
from domain.commission.rules import Amount, Tiers


def percent_of(base_fen: int, bp: int) -> Fen:
    """`bp` basis points of `base_fen`, half-up to the fen, in integers only (C-03):
    5 % of 5999 = 300, of 5989 = 299."""
    numerator = abs(base_fen) * bp
    rounded = (2 * numerator + BP_PER_WHOLE) // (2 * BP_PER_WHOLE)
    return Fen(rounded if base_fen >= 0 else -rounded)


def tier_value(tiers: Tiers, metric_value: int) -> int:
    """The value of the last row whose threshold ≤ the metric (inclusive, H-28)."""
    value = tiers.rows[0][1]
    for threshold, v in tiers.rows:
        if threshold > metric_value:
            break
        value = v
    return value


def amount_for(rule_amount: Amount, base_fen: int, tier: int | None = None) -> Fen:
    """One unit's commission: the fixed fen, or the percentage of `base_fen`; a tier value,
    when one applies, replaces the rule's value in the same mode (H-28)."""
    value = rule_amount.value if tier is None else tier
    if rule_amount.mode == "fixed":
        return Fen(value)
    return percent_of(base_fen, value)


def capped(amount: int, recharge_fen: int) -> Fen:
    """H-14: a traffic-card one-time commission never exceeds its qualifying recharge."""
    return Fen(max(0, min(amount, recharge_fen)))
