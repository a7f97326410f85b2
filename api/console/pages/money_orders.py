"""The platform's orders and withdrawals (G2): every order with filters (kind, state, method,
agent, creation date in Asia/Shanghai), an order's detail — price-chain snapshot (G1-13),
price risks and the intercepted flag (G1-18), audit history (C-08), ledger transfers per
order line and fee type (G2-23) — and its refund; exports of the list and of the ledger for
finance's reconciliation; the withdrawals queue, decided by platform finance (G2-15).

Changes go through the API's own handlers (`POST /v1/orders/{id}/refund`,
`/v1/withdrawals/{id}/approve|reject`), called with the viewer's principal: the same rules,
transitions, ledger transfers, audit rows and events."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.auth import Page, Viewer
from api.console.exports import Format
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.forms import download, say
from api.console.pages.money import (
    FINANCE,
    MONEY_GUARD,
    REFUNDERS,
    may,
    names,
    refused,
    require_role,
)
from api.console.pages.money_forms import BadAmount, to_fen
from api.console.render import DEFAULT_TZ, html
from api.deps import Db, Res
from api.routers import orders as order_api
from api.routers import withdrawals as withdrawal_api
from api.schemas.orders import RefundCreate, Rejection
from domain.orders.machines import Kind
from domain.refusals import Refusal
from store import audit, ledger
from store.db import Conn
from store.errors import NotFound
from store.money_console import OrderFilter, ledger_lines, search_orders
from store.orders import Order, get_order

KINDS: tuple[str, ...] = get_args(Kind)
METHODS = ("online", "wallet", "agent_wallet")
ORDER_COLUMNS = (N_("Order"), N_("Kind"), N_("State"), N_("Method"), N_("Agent"), N_("Card"),
                 N_("Package"), N_("Amount (fen)"), N_("Fee (fen)"), N_("Price risks"),
                 N_("Intercepted"), N_("Created"), N_("Finished"))
LEDGER_COLUMNS = (N_("Order"), N_("Order line"), N_("Fee type"), N_("Transfer"),
                  N_("Debit account"), N_("Credit account"), N_("Amount (fen)"), N_("State"),
                  N_("Reverses"), N_("Time"))
router = APIRouter(prefix="/console/ops/money", dependencies=MONEY_GUARD)
Text = Annotated[str | None, Query(max_length=64)]
Day = Annotated[date | None, Query()]


def _filter(kind: str | None, state: str | None, method: str | None, agent: str | None,
            start: date | None, end: date | None) -> OrderFilter:
    """Empty fields match everything; the dates are whole days in Asia/Shanghai, `end`
    included."""
    zone = ZoneInfo(DEFAULT_TZ)
    return OrderFilter(
        kind or None, state or None, method or None, agent or None,
        datetime.combine(start, datetime.min.time(), zone) if start else None,
        datetime.combine(end + timedelta(days=1), datetime.min.time(), zone) if end else None)


def _query(request: Request) -> str:
    return str(request.url.query)


@router.get("/orders")
async def orders_page(request: Request, viewer: Page, db: Db, kind: Text = None,
                      state: Text = None, method: Text = None, agent: Text = None,
                      start: Day = None, end: Day = None) -> HTMLResponse:
    found = await search_orders(db, _filter(kind, state, method, agent, start, end))
    form = {"kind": kind or "", "state": state or "", "method": method or "",
            "agent": agent or "", "start": start or "", "end": end or ""}
    return html(request, "money_orders.html", frame(
        viewer, "money_orders", orders=found, form=form, kinds=KINDS, methods=METHODS,
        query=_query(request), **names()))


@router.get("/orders.{fmt}")
async def orders_export(request: Request, fmt: Format, viewer: Page, db: Db,
                        kind: Text = None, state: Text = None, method: Text = None,
                        agent: Text = None, start: Day = None, end: Day = None) -> Response:
    found = await search_orders(db, _filter(kind, state, method, agent, start, end),
                                limit=100_000)
    rows = [(o.order_id, o.kind, o.state, o.method or "", o.agent_id or "", o.iccid or "",
             o.package_id or "", o.amount_fen, o.fee_fen, " ".join(o.price_risks),
             say(request, N_("yes")) if o.intercepted else "", o.created_at, o.finished_at)
            for o in found]
    return download(request, fmt, "orders", ORDER_COLUMNS, rows)


@router.get("/ledger.{fmt}")
async def ledger_export(request: Request, fmt: Format, viewer: Page, db: Db,
                        start: Day = None, end: Day = None,
                        order: Text = None) -> Response:
    """Every transfer of the orders (made in the days given), by order, line and fee type."""
    bounds = _filter(None, None, None, None, start, end)
    rows = [(x.order_id, x.order_line or "", x.fee_type, x.transfer_id, x.debit_account,
             x.credit_account, x.amount, x.state, x.reverses or "", x.created_at)
            for x in await ledger_lines(db, bounds.start, bounds.end, order)]
    return download(request, fmt, "ledger", LEDGER_COLUMNS, rows)


def _refundable(order: Order) -> bool:
    """Whether the refund form is shown (POST /v1/orders/{id}/refund decides)."""
    if order.kind == "card_purchase":  # paid, its cards not delivered yet
        return order.state in ("paid", "refunding")
    return order.kind == "package" and order.state in ("paid", "fulfilling", "completed",
                                                       "partially_refunded", "refunding")


async def _order_page(request: Request, viewer: Viewer, db: Conn, order: Order, *,
                      code: int = 200, **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"error": None, "notice": None, "reason": "", "amount": "",
                              **shown}
    transfers = await ledger.order_transfers(db, order.order_id)
    return html(request, "money_order.html", frame(
        viewer, "money_orders", order=order, chain=order.price_chain,
        history=await audit.history(db, "order", order.order_id), transfers=transfers,
        can=may(viewer), refundable=_refundable(order), **names(), **values),
        status=code)


@router.get("/orders/{order_id}")
async def order_page(request: Request, order_id: str, viewer: Page, db: Db) -> HTMLResponse:
    return await _order_page(request, viewer, db, await get_order(db, order_id))


@router.post("/orders/{order_id}/refund")
async def refund(request: Request, order_id: str, viewer: Page, db: Db, res: Res,
                 channel: order_api.Gateway,
                 reason: Annotated[str, Form(max_length=400)],
                 amount: Annotated[str, Form(max_length=32)] = "") -> HTMLResponse:
    """A refund with a reason, as POST /v1/orders/{id}/refund makes it: of all that remains,
    or of `amount` 元 (a completed order, in parts)."""
    require_role(viewer, REFUNDERS)
    order = await order_api.visible_order(db, order_id, viewer.principal)
    try:
        body = RefundCreate(reason=reason.strip(),
                            amount_fen=to_fen(amount) if amount.strip() else None)
    except BadAmount as exc:
        return await _order_page(request, viewer, db, order, code=422, reason=reason,
                                 amount=amount, error=say(request, exc.message))
    except ValidationError:
        return await _order_page(request, viewer, db, order, code=422, reason=reason,
                                 amount=amount,
                                 error=say(request, N_("Give the reason of the refund.")))
    try:
        await order_api.refund_order(order_id, body, viewer.principal, db, res, request,
                                     channel)
    except Refusal as exc:
        return await _order_page(request, viewer, db,
                                 await order_api.visible_order(db, order_id, viewer.principal),
                                 code=422 if exc.field else 409, reason=reason,
                                 amount=amount, error=refused(request, exc))
    return await _order_page(request, viewer, db,
                             await order_api.visible_order(db, order_id, viewer.principal),
                             notice=say(request, N_("The refund of %(id)s is under way."),
                                        id=order_id))


async def _withdrawals_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                            **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"error": None, "notice": None, "errors": {}, "reasons": {},
                              **shown}
    every = await search_orders(db, OrderFilter(kind="withdrawal"))
    return html(request, "money_withdrawals.html", frame(
        viewer, "money_withdrawals", queue=[w for w in every if w.state == "requested"],
        history=[w for w in every if w.state != "requested"], can=may(viewer), **names(),
        **values),
        status=code)


@router.get("/withdrawals")
async def withdrawals_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _withdrawals_page(request, viewer, db)


@router.post("/withdrawals/{order_id}/decide")
async def decide(request: Request, order_id: str, viewer: Page, db: Db, res: Res,
                 channel: order_api.Gateway,
                 decision: Annotated[Literal["approve", "reject"], Form()],
                 reason: Annotated[str, Form(max_length=400)] = "") -> HTMLResponse:
    """Approve (the payout is asked of the channel) or reject with a required reason."""
    require_role(viewer, FINANCE)
    order = await order_api.visible_order(db, order_id, viewer.principal)
    if order.kind != "withdrawal":
        raise NotFound(f"withdrawal {order_id!r}")
    # approving an approved one asks the channel for its payout again (as the API does)
    if order.state not in ("requested", "approved") or (
            decision == "reject" and order.state != "requested"):
        return await _withdrawals_page(request, viewer, db, code=409, error=say(
            request, N_("The withdrawal %(id)s is decided already."), id=order_id))
    try:
        if decision == "approve":
            await withdrawal_api.approve(order_id, viewer.principal, db, res, request, channel)
            notice = N_("The withdrawal %(id)s is approved.")
        else:
            try:
                body = Rejection(reason=reason.strip())
            except ValidationError:
                return await _withdrawals_page(
                    request, viewer, db, code=422, reasons={order_id: reason},
                    errors={order_id: say(request, N_("Give the reason of the rejection."))})
            await withdrawal_api.reject(order_id, body, viewer.principal, db, res, request)
            notice = N_("The withdrawal %(id)s is rejected.")
    except Refusal as exc:
        return await _withdrawals_page(request, viewer, db, code=409,
                                       error=refused(request, exc))
    return await _withdrawals_page(request, viewer, db, notice=say(request, notice, id=order_id))
