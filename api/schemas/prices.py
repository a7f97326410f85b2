"""The price book (G1-05…G1-14, SM-G1-PRICE)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from api.schemas.common import Ident, Strict

Kind = Literal["cost", "retail"]


class PriceCreate(Strict):
    """A new version of a price: the platform sets top-level agents' cost prices, an agent's
    admin the cost prices of its direct downstream agents and its own retail prices."""

    kind: Kind
    package_id: Ident
    agent_id: Ident | None = Field(
        default=None, description="whose price: the downstream agent for a cost price, the "
                                  "selling agent for a retail price (default: the caller's)")
    amount_fen: Annotated[int, Field(gt=0, le=10**12, description="integer fen (C-01)")]
    valid_from: AwareDatetime | None = Field(
        default=None, description="when it takes effect on the platform clock (default now)")
    valid_to: AwareDatetime | None = Field(default=None, description="when it ends (none: open)")


class PricePublic(BaseModel):
    price_id: int
    kind: Kind
    package_id: str
    agent_id: str
    version: int
    amount_fen: int
    valid_from: datetime
    valid_to: datetime | None
    status: Literal["active", "invalid", "deleted"]
    status_reason: str | None
    created_at: datetime


class Invalidation(BaseModel):
    """A price a change made invalid (G1-12), and the rule it now breaks."""

    price: PricePublic
    code: str


class PriceSetPublic(BaseModel):
    price: PricePublic
    invalidated: list[Invalidation] = Field(
        description="dependent prices this change invalidated (G1-12); their owners are "
                    "notified")
