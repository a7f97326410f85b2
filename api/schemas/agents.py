"""Agents (G1-19…G1-21) and their notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Ident, Strict

BusinessLine = Literal["traffic_card", "number_card"]
Lines = Annotated[list[BusinessLine], Field(min_length=1, max_length=2)]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]


def _traffic() -> list[BusinessLine]:
    return ["traffic_card"]


class AgentCreate(Strict):
    agent_id: Ident
    name: Name
    parent_id: Ident | None = Field(
        default=None, description="the upstream agent; none for a top-level agent (platform)")
    business_lines: Lines = Field(default_factory=lambda: _traffic())


class AgentMove(Strict):
    parent_id: Ident | None = Field(description="the new upstream agent; null: top level")


class AgentPublic(BaseModel):
    agent_id: str
    name: str
    parent_id: str | None
    depth: int = Field(description="1 for a top-level agent")
    status: Literal["active", "disabled"]
    business_lines: list[BusinessLine]
    created_at: datetime
    updated_at: datetime


class NotificationPublic(BaseModel):
    notification_id: int
    template: str
    data: dict[str, Any]
    status: str
    created_at: datetime


class PromotionLinkCreate(Strict):
    package_id: Ident = Field(description="a listed number card (G1-16)")
    medium: Literal["link", "board"] = Field(default="link",
                                             description="推广链接 (link) or 卡板 (board)")


class PromotionLinkPublic(BaseModel):
    code: str = Field(description="what the link or board carries; activations through it "
                                  "are attributed to the agent")
    agent_id: str
    package_id: str
    medium: Literal["link", "board"]
    status: Literal["active", "revoked"]
    created_at: datetime
