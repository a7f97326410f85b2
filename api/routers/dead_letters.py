"""Dead letters for platform roles: what the streams kept aside, and replay after a fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import Admin, Db, Platform, Res
from api.openapi import UNAVAILABLE
from api.schemas.dead_letters import DeadLetterPublic, ReplayRequest, ReplayResult
from store import dead_letters
from store.db import Conn
from streams.publish import Publisher, Unavailable

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


@router.get("", response_model=list[DeadLetterPublic])
async def list_dead_letters(
    _: Platform, db: Db, source: str | None = None, reason: str | None = None,
    replayed: bool = False, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterPublic]:
    """Newest first; `replayed=true` includes letters already replayed."""
    return [DeadLetterPublic.model_validate(letter, from_attributes=True)
            for letter in await dead_letters.list_letters(db, source, reason, replayed, limit)]


@router.post("/replay", response_model=ReplayResult, responses=UNAVAILABLE)
async def replay(body: ReplayRequest, _: Admin, db: Db, res: Res) -> ReplayResult:
    """Send usage kept aside for unknown cards, whose cards exist now, through the pipeline
    again. Each record still counts at most once (its dedupe key is unchanged)."""
    try:
        replayed = await replay_letters(db, res.publisher, body.limit)
    except Unavailable as exc:  # nothing is marked replayed: the letters stay for a retry
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"usage could not be queued ({type(exc).__name__}); retry",
                            headers={"Retry-After": "5"}) from None
    return ReplayResult(replayed=replayed)


async def replay_letters(db: Conn, publisher: Publisher, limit: int,
                         ids: Sequence[int] | None = None) -> int:
    """Publish the replayable letters (those of `ids` when given) again and mark them
    replayed, in one transaction: when publishing fails (`Unavailable`) none is marked.
    Returns how many were replayed (the API and the console both replay through here)."""
    async with db.transaction():
        found, by_operator = await dead_letters.replayable(db, limit, ids)
        for operator, records in by_operator.items():
            await publisher.publish_usage(operator, records)
        await dead_letters.mark_replayed(db, found)
    return len(found)
