"""Operator pushes: usage (parsed by hand for speed, see the router) and status events."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from api.schemas.common import CardStatus, Iccid, Strict


class UsageAccepted(BaseModel):
    accepted: int


class StatusEvent(Strict):
    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    iccid: Iccid
    status: CardStatus
    at: AwareDatetime


class StatusPush(Strict):
    events: Annotated[list[StatusEvent], Field(max_length=10_000)]


class StatusAccepted(BaseModel):
    accepted: int
    applied: int = Field(description="events newer than what was known")
    unknown_cards: int
