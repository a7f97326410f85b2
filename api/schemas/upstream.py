"""Operator pushes: usage (parsed by hand for speed, see the router), status events and card
events."""

from __future__ import annotations

from typing import Annotated, Literal

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


class CardEventIn(Strict):
    """An operator's card event (G2-09): `amount_fen` on `recharged` only."""

    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    iccid: Iccid
    type: Literal["real_name_verified", "activated", "recharged"]
    amount_fen: Annotated[int, Field(gt=0, le=10**12)] | None = None
    at: AwareDatetime


class CardEventPush(Strict):
    events: Annotated[list[CardEventIn], Field(min_length=1, max_length=10_000)]


class CardEventsAccepted(BaseModel):
    accepted: int
    stored: int = Field(description="events stored now (a repeat of an event id is not)")
    number_card_orders: list[str] = Field(description="number_card_event orders made now")
    unknown_cards: int = Field(description="events for cards CardPulse does not know "
                                           "(kept in the dead letters)")
