"""The platform's refund requests (§7.2 "refund package order"): the queue of requested
refunds, approved or rejected with a reason by platform finance (or admin), and the history
below. Decisions go through the API's own handlers (`POST /v1/refund-requests/{id}/approve|
reject`) with the viewer's principal: the same refund, ledger transfers, audit rows and
events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.auth import Page, Viewer
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.forms import say
from api.console.pages.money import FINANCE, MONEY_GUARD, may, names, refused, require_role
from api.console.render import html
from api.deps import Db, Res
from api.routers import orders as order_api
from api.routers import refund_requests as refund_api
from api.schemas.orders import Rejection
from domain.refusals import Refusal
from store import refund_requests
from store.db import Conn

router = APIRouter(prefix="/console/ops/money", dependencies=MONEY_GUARD)


async def _refunds_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                        **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"error": None, "notice": None, "errors": {}, "reasons": {},
                              **shown}
    every = await refund_requests.search(db)
    return html(request, "money_refunds.html", frame(
        viewer, "money_refunds", queue=[r for r in every if r.state == "requested"],
        history=[r for r in every if r.state != "requested"], can=may(viewer), **names(),
        **values), status=code)


@router.get("/refunds")
async def refunds_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _refunds_page(request, viewer, db)


@router.post("/refunds/{request_id}/decide")
async def decide(request: Request, request_id: str, viewer: Page, db: Db, res: Res,
                 channel: order_api.Gateway,
                 decision: Annotated[Literal["approve", "reject"], Form()],
                 reason: Annotated[str, Form(max_length=400)] = "") -> HTMLResponse:
    """Approve (the refund runs) or reject with a required reason."""
    require_role(viewer, FINANCE)
    await refund_requests.get(db, request_id)  # 404 before anything else
    try:
        if decision == "approve":
            await refund_api.approve_refund_request(request_id, viewer.principal, db, res,
                                                    request, channel)
            notice = N_("The refund request %(id)s is approved.")
        else:
            try:
                body = Rejection(reason=reason.strip())
            except ValidationError:
                return await _refunds_page(
                    request, viewer, db, code=422, reasons={request_id: reason},
                    errors={request_id: say(request, N_("Give the reason of the rejection."))})
            await refund_api.reject_refund_request(request_id, body, viewer.principal, db,
                                                   res, request)
            notice = N_("The refund request %(id)s is rejected.")
    except Refusal as exc:
        return await _refunds_page(request, viewer, db, code=422 if exc.field else 409,
                                   error=refused(request, exc))
    return await _refunds_page(request, viewer, db, notice=say(request, notice, id=request_id))
