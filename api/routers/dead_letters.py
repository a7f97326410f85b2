"""Dead letters for platform roles: what the streams kept aside, and replay after a fix."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import Admin, Db, Platform, Res
from api.schemas import Strict
from store import dead_letters

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


class DeadLetter(BaseModel):
    id: int
    source: str
    reason: str
    operator: str | None
    iccid: str | None
    payload: Any
    created_at: datetime
    replayed_at: datetime | None


class ReplayRequest(Strict):
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000


class ReplayResult(BaseModel):
    replayed: int


@router.get("", response_model=list[DeadLetter])
async def list_dead_letters(
    _: Platform, db: Db, source: str | None = None, reason: str | None = None,
    replayed: bool = False, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetter]:
    """Newest first; `replayed=true` includes letters already replayed."""
    names = DeadLetter.model_fields.keys()
    rows = await dead_letters.list_letters(db, source, reason, replayed, limit)
    return [DeadLetter.model_validate(dict(zip(names, row, strict=True))) for row in rows]


@router.post("/replay", response_model=ReplayResult)
async def replay(body: ReplayRequest, _: Admin, db: Db, res: Res) -> ReplayResult:
    """Send usage kept aside for unknown cards, whose cards exist now, through the pipeline
    again. Each record still counts at most once (its dedupe key is unchanged)."""
    async with db.transaction():
        ids, by_operator = await dead_letters.replayable(db, body.limit)
        for operator, records in by_operator.items():
            await res.publisher.publish_usage(operator, records)
        await dead_letters.mark_replayed(db, ids)
    return ReplayResult(replayed=len(ids))
