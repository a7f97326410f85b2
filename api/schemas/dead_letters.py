"""Dead letters: what the streams kept aside, and replays."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.schemas.common import Strict


class DeadLetterPublic(BaseModel):
    id: int
    source: str
    reason: str
    operator: str | None
    iccid: str | None
    payload: Any
    created_at: datetime
    replayed_at: datetime | None


class ReplayRequest(Strict):
    limit: Annotated[int, Field(ge=1, le=100_000)] = 10_000


class ReplayResult(BaseModel):
    replayed: int
