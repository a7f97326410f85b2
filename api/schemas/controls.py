"""Operator commands that failed for good, and re-arming them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.common import CardStatus, Iccid, Operator, Strict


class FailedControlPublic(BaseModel):
    """A card whose stop or resume the operator refused, or that kept failing, until the
    reconciler gave up; it is tried again only when re-armed or when its desired state
    changes."""

    iccid: str
    enterprise_id: str
    operator: Operator
    target: CardStatus = Field(description="the network status the command was driving toward")
    attempts: int
    last_outcome: str | None = Field(
        description="the last answer's outcome (e.g. `operator_held`: the operator stopped the "
                    "card itself and refuses to resume it)")
    last_error: str | None
    last_command_at: datetime | None


class RearmRequest(Strict):
    iccids: Annotated[list[Iccid], Field(min_length=1, max_length=10_000)]


class RearmResult(BaseModel):
    rearmed: int = Field(description="cards given a fresh set of attempts (those of the "
                                     "request that were failed; others are left alone)")
