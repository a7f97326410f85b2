"""Number-card settlements (H-31 … H-36) and the long-term verification template (H-21):
platform roles read them (admin, platform operator, platform finance — §7 H commission);
agents do not. Statements are uploaded through the import task list (kind
`number_card_settlement`)."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response

from api.deps import Caller, Db, forbid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.schemas.settlements import (
    SettlementBatchPublic,
    SettlementDetail,
    SettlementLinePublic,
)
from core.clock import now
from domain.refusals import Refusal
from store import commission_imports, settlements

router = APIRouter(tags=["commission settlements"], responses=FORBIDDEN)
READERS = ("admin", "platform_operator", "platform_finance")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CYCLE = re.compile(r"(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])")


class BadCycle(Refusal):
    code = "invalid_cycle"
    message_zh = "账期格式应为YYYY-MM"
    message_en = "cycle must be a month written YYYY-MM"
    field = "cycle"


def _readers(role: str) -> None:
    if role not in READERS:
        raise forbid("platform roles read settlements")


@router.get("/v1/settlements", response_model=list[SettlementBatchPublic])
async def list_settlements(caller: Caller, db: Db,
                           limit: Annotated[int, Query(ge=1, le=500)] = 100
                           ) -> list[SettlementBatchPublic]:
    """The batches, newest first, with totals and the platform's retained profit (H-34)."""
    _readers(caller.role)
    return [SettlementBatchPublic.model_validate(b, from_attributes=True)
            for b in await settlements.batches(db, limit)]


@router.get("/v1/settlements/{batch_id}", response_model=SettlementDetail,
            responses=NOT_FOUND)
async def get_settlement(
        batch_id: str, caller: Caller, db: Db,
        status: Annotated[Literal["matched", "unmatched"] | None, Query()] = None,
        negative_margin: Annotated[bool, Query()] = False,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
        offset: Annotated[int, Query(ge=0)] = 0) -> SettlementDetail:
    """A batch and its lines (by line number; `status=unmatched` lists the platform-profit
    lines, `negative_margin=true` the flagged ones), each with its live retained profit."""
    _readers(caller.role)
    found = await settlements.batch(db, batch_id)
    items = await settlements.lines(db, batch_id, status=status,
                                    negative_only=negative_margin, limit=limit, offset=offset)
    return SettlementDetail(
        **SettlementBatchPublic.model_validate(found, from_attributes=True).model_dump(),
        line_items=[SettlementLinePublic.model_validate(ln, from_attributes=True)
                    for ln in items])


@router.get("/v1/commissions/long-term/verification-template.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}}, 422: {"description": "`invalid_cycle`"}})
async def verification_template(caller: Caller, db: Db,
                                cycle: Annotated[str | None, Query()] = None) -> Response:
    """H-21: the long-term verification template pre-filled with the cards that have frozen
    long-term commissions and their advisory 在网状态 / 是否三无 for billing cycle `cycle`
    (YYYY-MM; default: the current month in the platform clock, UTC+8)."""
    _readers(caller.role)
    month = cycle if cycle is not None else _this_month()
    if not _CYCLE.fullmatch(month):
        raise BadCycle()
    body = await commission_imports.verification_template(db, month)
    return Response(body, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="long-term-verification-{month}.xlsx"'})


def _this_month() -> str:
    return now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
