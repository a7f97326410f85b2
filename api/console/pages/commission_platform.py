"""The platform's commission pages (§5 H, §7.2 "H commission"): every agent's commissions of a
month with filters, totals per agent and per settlement batch (H-40, H-34) and exports; each
line's explanation (H-39); the unfreeze approvals (SM-H-APPROVAL) — pending first, oldest
first, decided singly or in batch by platform finance, a rejection with its reason
(请填写驳回原因 at the field) — and the monthly activation report of every agent (H-30).

Who: every platform role reads; only `platform_finance` decides unfreezes (§7.2: "approve/
reject unfreeze — A" for finance alone), so only finance sees the controls and anyone else's
decision is a 403 before the form is read. Decisions go through
`store.commission_views.decide_once` → `store.commissions.decide`, as
`POST /v1/commission-approvals/batch` does: the same ledger moves, audit rows and events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from api.console.auth import Page, Viewer
from api.console.exports import Format
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.commission_agent import (
    ACTIVATION_COLUMNS,
    RECORD_COLUMNS,
    YEAR,
    KindQuery,
    Month,
    StateQuery,
    chosen_month,
    commission_words,
    lines,
    query_of,
    record_row,
)
from api.console.pages.forms import download, say
from api.console.pages.money import MONEY_GUARD, refused
from api.console.render import html
from api.deps import Db, Res, actor
from api.routers import commissions as commission_api
from core.clock import now
from domain.commission.machines import RejectionReasonRequired
from domain.orders.report import month_of
from domain.refusals import Refusal
from store import commission_facts
from store import commission_views as views
from store.db import Conn

DECIDERS = ("platform_finance",)
AgentQuery = Annotated[str | None, Query(max_length=64)]
FormIds = Annotated[list[str], Form(min_length=1, max_length=500)]


async def _decider(request: Request, viewer: Page) -> None:
    """Only platform finance decides an unfreeze (§7.2); reading is the money guard's."""
    if request.method not in ("GET", "HEAD", "OPTIONS") \
            and viewer.principal.role not in DECIDERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "only platform finance approves or rejects commission unfreezes")


router = APIRouter(prefix="/console/ops/money",
                   dependencies=[*MONEY_GUARD, Depends(_decider)])


@router.get("/commissions")
async def commissions_page(request: Request, viewer: Page, db: Db, month: Month = None,
                           agent_id: AgentQuery = None, state: StateQuery = None,
                           kind: KindQuery = None) -> HTMLResponse:
    """Every agent's lines of a month; totals by state, kind, agent and batch (H-40, H-34)."""
    chosen = chosen_month(month)
    summary = await commission_api.summary(viewer.principal, db, agent_id or None, chosen)
    return html(request, "commission_platform.html", frame(
        viewer, "commissions", summary=summary, month=chosen,
        lines=await lines(db, agent_id or None, chosen, state, kind),
        chosen={"agent_id": agent_id or "", "state": state or "", "kind": kind or ""},
        query=query_of(month=chosen, agent_id=agent_id, state=state, kind=kind),
        **commission_words()))


@router.get("/commissions.{fmt}")
async def commissions_export(request: Request, fmt: Format, viewer: Page, db: Db,
                             month: Month = None, agent_id: AgentQuery = None,
                             state: StateQuery = None, kind: KindQuery = None) -> Response:
    chosen = chosen_month(month)
    rows = [record_row(request, r)
            for r in await lines(db, agent_id or None, chosen, state, kind)]
    return download(request, fmt, f"commissions-{chosen}", RECORD_COLUMNS, rows)


@router.get("/commissions/{record_id}")
async def commission_page(request: Request, record_id: str, viewer: Page, db: Db
                          ) -> HTMLResponse:
    detail = await commission_api.get_commission(record_id, viewer.principal, db)
    return html(request, "commission_line.html", frame(
        viewer, "commissions", line=detail, back="/console/ops/money/commissions",
        agent=None, **commission_words()))


async def _approvals_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                          **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"error": None, "notice": None, "errors": {}, "reason": "",
                              "picked": [], **shown}
    every = await views.approval_queue(db, None)
    return html(request, "commission_approvals.html", frame(
        viewer, "commission_approvals", queue=[a for a in every if a.state == "pending"],
        history=[a for a in every if a.state != "pending"],
        may_decide=viewer.principal.role in DECIDERS, **commission_words(), **values),
        status=code)


@router.get("/commission-approvals")
async def approvals_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _approvals_page(request, viewer, db)


@router.post("/commission-approvals/decide")
async def decide(request: Request, viewer: Page, db: Db, res: Res, approval_ids: FormIds,
                 decision: Annotated[str, Form(pattern="^(approve|reject)$")],
                 reason: Annotated[str, Form(max_length=200)] = "") -> HTMLResponse:
    """Approve or reject the ticked approvals (one or many) at once, all or none."""
    approve = decision == "approve"
    text = reason.strip() or None
    try:
        if not approve and text is None:
            raise RejectionReasonRequired()
        decided = await views.decide_once(db, approval_ids, approve,
                                          actor(viewer.principal, request), now(),
                                          res.settings.orders_topic, text, None)
    except Refusal as exc:
        if exc.field == "reason":
            return await _approvals_page(request, viewer, db, code=422, picked=approval_ids,
                                         reason=reason, errors={"reason": refused(request, exc)})
        return await _approvals_page(request, viewer, db, code=409, picked=approval_ids,
                                     error=refused(request, exc))
    notice = (N_("%(count)s unfreezes approved.") if approve
              else N_("%(count)s unfreezes rejected."))
    return await _approvals_page(request, viewer, db, notice=say(request, notice,
                                                                  count=len(decided)))


@router.get("/activations")
async def activations_page(request: Request, viewer: Page, db: Db,
                           year: Annotated[str | None, Query(pattern=YEAR)] = None
                           ) -> HTMLResponse:
    """H-30 for every agent: each month's snapshot, fixed once taken."""
    chosen = year or month_of(now())[:4]
    found = await commission_facts.snapshots(db, None, f"{chosen}-01", f"{chosen}-12")
    return html(request, "commission_activations.html", frame(
        viewer, "activations", agent=None, year=chosen, snapshots=found,
        query=query_of(year=chosen), base="/console/ops/money/activations"))


@router.get("/activations.{fmt}")
async def activations_export(request: Request, fmt: Format, viewer: Page, db: Db,
                             year: Annotated[str | None, Query(pattern=YEAR)] = None
                             ) -> Response:
    chosen = year or month_of(now())[:4]
    found = await commission_facts.snapshots(db, None, f"{chosen}-01", f"{chosen}-12")
    return download(request, fmt, f"activations-{chosen}", ACTIVATION_COLUMNS,
                    [[s.agent_id, s.month, s.activations, s.taken_at] for s in found])
