"""Operator commands that failed for good: listed for the platform, re-armed by its
administrator after the cause is fixed (the reconciler then tries them again)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Admin, Db, Platform
from api.schemas.common import Operator
from api.schemas.controls import FailedControlPublic, RearmRequest, RearmResult
from store import controls

router = APIRouter(prefix="/v1/controls", tags=["controls"])


@router.get("/failed", response_model=list[FailedControlPublic])
async def list_failed(
    _: Platform, db: Db, operator: Operator | None = None, enterprise_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[FailedControlPublic]:
    """Cards whose stop or resume failed for good, the most recent command first."""
    return [FailedControlPublic.model_validate(row, from_attributes=True)
            for row in await controls.failed_controls(db, limit, operator=operator,
                                                      enterprise_id=enterprise_id)]


@router.post("/rearm", response_model=RearmResult)
async def rearm(body: RearmRequest, _: Admin, db: Db) -> RearmResult:
    """Give failed cards a fresh set of attempts: their command is sent again in the
    reconciler's next round if the card still needs it. Cards not failed are left alone."""
    return RearmResult(rearmed=await controls.rearm_failed(db, body.iccids))
