"""Card orders delivered through the workflow (I-63): what a project did to its order, and the
link of a card-order product to its package (api/routers/delivery_cards.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class PackageLink(BaseModel):
    package_id: str | None = Field(
        max_length=64, description="the package whose card purchases the product delivers "
                                   "(null: none)")


class PackageLinkPublic(BaseModel):
    product_id: str
    package_id: str | None
    started: list[str] = Field(description="projects started now for purchases already paid")


class CardFailure(BaseModel):
    iccid: str
    reason: str


class CardOrderPublic(BaseModel):
    project_id: str
    order_id: str
    iccids: list[str] = Field(description="the cards shipped")
    logistics_no: str | None
    shipped_at: datetime | None
    activation_asked_at: datetime | None
    activated_at: datetime | None = Field(
        description="when every card was active or the failures were confirmed")
    failures: list[CardFailure]
    received_at: datetime | None = Field(description="the customer's receipt (project done)")
