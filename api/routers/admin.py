"""Platform administration: the test clock (only when CARDPULSE_TEST_CLOCK is set)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from api.deps import Admin, Db, Res
from api.openapi import NOT_FOUND
from api.schemas.admin import ClockUpdate
from core.clock import CLOCK
from store import clock

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.put("/clock", status_code=status.HTTP_204_NO_CONTENT,
            responses=NOT_FOUND)  # the test clock is off
async def set_clock(body: ClockUpdate, _: Admin, db: Db, res: Res) -> Response:
    """Shift the platform clock (billing cycles, rollover) by `offset_seconds`, for demos and
    tests; refused unless the platform runs with CARDPULSE_TEST_CLOCK=true."""
    if not res.settings.test_clock:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            "the test clock is off; start with CARDPULSE_TEST_CLOCK=true")
    await clock.set_offset(db, body.offset_seconds)
    CLOCK.set_offset(body.offset_seconds)  # other processes follow within a second
    return Response(status_code=status.HTTP_204_NO_CONTENT)
