"""Refund requests (§7.2 "refund package order": requested by the platform operator,
approved or rejected by platform finance; SM-G2-ORDER)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.orders import OrderPublic, RefundCreate, Rejection

RefundRequestCreate = RefundCreate  # why, and how much (absent: all that remains)
RefundRequestRejection = Rejection  # why (required)


class RefundRequestPublic(BaseModel):
    request_id: str
    order_id: str
    amount_fen: int | None = Field(description="null: all that remains refundable")
    reason: str
    state: Literal["requested", "approved", "rejected", "failed"]
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None = Field(description="a rejection's reason")
    failure: dict[str, Any] | None = Field(
        description="failed: the refusal the refund met at approval (code, message_zh, "
                    "message_en)")
    order: OrderPublic | None = Field(
        default=None, description="the order as it is now (approve, GET by id)")
