"""Card attribution (H-29) and the monthly activation report (H-30)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AttributionPut(BaseModel):
    """Exactly one of `agent_id` and `promotion_code` (an active promotion link's agent)."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str | None = Field(default=None, min_length=1, max_length=64)
    promotion_code: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def one_of(self) -> AttributionPut:
        if (self.agent_id is None) == (self.promotion_code is None):
            raise ValueError("give exactly one of agent_id and promotion_code")
        return self


class AttributionPublic(BaseModel):
    iccid: str
    agent_id: str
    source: Literal["order", "promotion", "platform"] = Field(
        description="order: the card's first completed package order; promotion: a promotion "
                    "link; platform: set by the platform (overrides)")
    source_ref: str = Field(description="the order id, the promotion code, or who set it")
    at: datetime


class ActivationMonth(BaseModel):
    month: str = Field(description="YYYY-MM (Asia/Shanghai)")
    activations: int | None = Field(description="the snapshot taken at the month's end; the "
                                                "live count for the current month; null: none")
    taken_at: datetime | None = Field(description="the month boundary the snapshot is of")
    live: bool = Field(description="true: the current month, counted now (not yet fixed)")


class AgentActivations(BaseModel):
    agent_id: str
    months: list[ActivationMonth]


class ReportNote(BaseModel):
    message_zh: str
    message_en: str


class ActivationReport(BaseModel):
    from_month: str
    to_month: str
    timezone: str
    agents: list[AgentActivations]
    note: ReportNote
