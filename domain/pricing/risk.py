"""Price-risk monitoring (G1-18, AMB-49), pure: an order whose realised sale price is below the
seller's cost price, or on which the platform would receive less than the purchase price
(negative gross margin), is flagged; orders (G2/G4) intercept flagged orders until a platform
user releases them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.money import Fen
from domain.pricing.chain import PriceChain

RiskCode = Literal["below_seller_cost", "negative_margin"]


@dataclass(frozen=True)
class PriceRisk:
    code: RiskCode
    message_zh: str  # (proposed)
    message_en: str


BELOW_COST = PriceRisk("below_seller_cost", "成交价低于卖方成本价",
                       "The sale price is below the seller's cost price")
NEGATIVE_MARGIN = PriceRisk("negative_margin", "平台收入低于进货价（毛利为负）",
                            "The platform receives less than the purchase price (negative margin)")


def platform_receipts(chain: PriceChain, realised: Fen) -> Fen:
    """What the platform keeps of a sale at `realised`: the top-level agent's cost price, or
    the whole price when the money stops short of it."""
    top = chain.levels[0].cost_price_fen if chain.levels else chain.retail_price_fen
    return Fen(min(top, realised))


def price_risks(chain: PriceChain, realised: Fen) -> list[PriceRisk]:
    """The risks of selling along `chain` at `realised` (empty: no risk). Number cards are
    priced and paid to the factory (G1-15): the platform takes no margin on them."""
    if chain.business_line == "number_card" or chain.purchase_price_fen is None:
        return []
    risks = []
    if realised < chain.levels[-1].cost_price_fen:
        risks.append(BELOW_COST)
    if platform_receipts(chain, realised) < chain.purchase_price_fen:
        risks.append(NEGATIVE_MARGIN)
    return risks
