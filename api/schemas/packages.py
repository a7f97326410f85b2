"""Packages and number-card products (G1-01…G1-04, G1-15/16) and the price chain (G1-13)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.agents import BusinessLine, Name
from api.schemas.common import Bytes, Ident, Strict
from api.schemas.prices import Invalidation

FenAmount = Annotated[int, Field(gt=0, le=10**12, description="integer fen (C-01), > 0")]


class PackageCreate(Strict):
    package_id: Ident
    name: Name
    business_line: BusinessLine
    card_managed: bool = Field(default=True, description="G1-02: false for traffic sold by "
                               "volume to large agents (no cards, quota or stop/resume)")
    purchase_price_fen: FenAmount | None = Field(
        default=None, description="traffic cards: the platform's purchase price (G1-04)")
    factory_price_fen: FenAmount | None = Field(
        default=None, description="number cards: the factory's fixed price (G1-15)")
    package_bytes: Bytes | None = None
    voice_minutes: Annotated[int, Field(ge=0, le=10**6)] | None = None
    validity_cycles: Annotated[int, Field(ge=1, le=120)] = 1
    listed: bool = True
    card_price_fen: FenAmount | None = Field(
        default=None, description="one physical card of the product (card purchases, G2-01)")


class PackageUpdate(Strict):
    """Only the fields sent change."""

    name: Name | None = None
    purchase_price_fen: FenAmount | None = None
    factory_price_fen: FenAmount | None = None
    package_bytes: Bytes | None = None
    voice_minutes: Annotated[int, Field(ge=0, le=10**6)] | None = None
    validity_cycles: Annotated[int, Field(ge=1, le=120)] | None = None
    listed: bool | None = None
    card_price_fen: FenAmount | None = None


class PackagePublic(BaseModel):
    """A package as agents and end users see it: never the purchase price (G1-14)."""

    package_id: str
    name: str
    business_line: BusinessLine
    card_managed: bool
    factory_price_fen: int | None
    package_bytes: int | None
    voice_minutes: int | None
    validity_cycles: int
    listed: bool
    version: int
    card_price_fen: int | None = None


class PackagePlatform(PackagePublic):
    """A package as platform roles see it."""

    purchase_price_fen: int | None
    created_at: datetime
    updated_at: datetime


class PackageChanged(BaseModel):
    package: PackagePlatform
    invalidated: list[Invalidation] = Field(
        description="cost prices of top-level agents the new purchase price invalidated")


class ChainLevelPublic(BaseModel):
    agent_id: str
    cost_price_id: int
    cost_version: int
    cost_price_fen: int


class PriceChainPublic(BaseModel):
    """Everything an order snapshots (G1-13)."""

    package_id: str
    package_version: int
    business_line: BusinessLine
    card_managed: bool
    package_bytes: int | None
    validity_cycles: int
    at: datetime
    seller_agent_id: str
    agent_path: list[str] = Field(description="agent ids, top-level first, the seller last")
    purchase_price_fen: int | None
    factory_price_fen: int | None
    levels: list[ChainLevelPublic]
    retail_price_id: int | None
    retail_version: int | None
    retail_price_fen: int


class OfferPublic(BaseModel):
    """What a package costs through one agent now: its retail price, and for the agent's own
    people its own cost price."""

    package_id: str
    agent_id: str
    business_line: BusinessLine
    at: datetime
    retail_price_fen: int
    cost_price_fen: int | None = Field(description="the agent's own cost (agent roles only)")
