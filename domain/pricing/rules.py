"""The bounds of every price in the book (G1-06, G1-07, G1-10, G1-11), pure.

Every price has one *bound*, the upstream amount it is checked against:
  * the platform's cost price for a top-level agent is bounded below by the package's purchase
    price (G1-06) and has no cap (the platform is not an agent);
  * anything an agent sells — its retail price, or the cost price it sets for a direct
    downstream agent — is bounded by that agent's own cost price: not below it (G1-07, G1-11,
    equal allowed) and not above MARKUP_FACTOR times it (G1-10). Per AMB-15 the base is the
    seller's own cost (what its upstream charges it), so caps compound down a chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from core.money import Fen
from domain.pricing.errors import CostBelowPurchase, MarkupCapExceeded, PriceBelowCost
from domain.refusals import Refusal

MARKUP_FACTOR: Final = 2  # G1-10, AMB-16: hard-coded ("写死的"), never a setting
PriceKind = Literal["cost", "retail"]


@dataclass(frozen=True)
class Bound:
    """The upstream amount a price is checked against: a purchase price (platform → top-level
    cost) or the seller's own cost price (an agent's sale)."""

    source: Literal["purchase", "seller_cost"]
    amount: Fen

    @staticmethod
    def purchase(amount: int) -> Bound:
        return Bound("purchase", Fen(amount))

    @staticmethod
    def seller_cost(amount: int) -> Bound:
        return Bound("seller_cost", Fen(amount))


def markup_cap(own_cost: int) -> Fen:
    """The highest price an agent whose cost is `own_cost` may sell at (G1-10)."""
    return Fen(MARKUP_FACTOR * own_cost)


def price_problem(amount: int, bound: Bound) -> Refusal | None:
    """Why `amount` breaks its bound, or None when it is within it."""
    if bound.source == "purchase":
        return CostBelowPurchase() if amount < bound.amount else None
    if amount < bound.amount:
        return PriceBelowCost()
    if amount > markup_cap(bound.amount):
        return MarkupCapExceeded()
    return None


def check_price(amount: int, bound: Bound) -> None:
    """Raise the refusal of `price_problem`, if any."""
    problem = price_problem(amount, bound)
    if problem is not None:
        raise problem
