"""What-if pricing of a rule version (issue 17, item 9): what a version — typically a draft —
would have paid per agent over a past period, on the stored facts, beside what the rule
actually produced then. Nothing is paid. Platform staff only (§7.2 H: the rule editor)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PLATFORM_READERS, Caller, Db, forbid
from api.errors import invalid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.schemas.commission_whatif import AgentFiguresPublic, WhatIfPublic
from store import commission_whatif

Start = Annotated[datetime, Query(description="period start (RFC 3339, included)")]
End = Annotated[datetime, Query(description="period end (RFC 3339, excluded)")]
router = APIRouter(prefix="/v1/commission-rules", tags=["commission"],
                   responses={**FORBIDDEN, **NOT_FOUND})


@router.get("/{rule_id}/versions/{version}/what-if", response_model=WhatIfPublic)
async def what_if(rule_id: str, version: int, caller: Caller, db: Db, start: Start,
                  end: End) -> WhatIfPublic:
    """Run the version over the sales its agent completed in [start, end): per agent, the
    records and fen it would have produced (`would_pay`) and what the rule did produce
    (`did_pay`), and how many lines would be frozen, available or awaiting conditions."""
    if caller.role not in PLATFORM_READERS:
        raise forbid("only platform staff price rule changes")
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise invalid("query", "end", "the period needs start < end, both with an offset")
    rule = await commission_whatif.rule_version(db, rule_id, version)
    found = await commission_whatif.what_if(db, rule, start, end)
    return WhatIfPublic(
        rule_id=rule_id, version=version, start=found.start, end=found.end, cards=found.cards,
        would_pay={a: AgentFiguresPublic(records=f.records, amount_fen=f.amount_fen)
                   for a, f in found.would_pay.items()},
        did_pay={a: AgentFiguresPublic(records=f.records, amount_fen=f.amount_fen)
                 for a, f in found.did_pay.items()},
        by_state=found.by_state)
