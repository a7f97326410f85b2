"""An agent's money pages, for its admin and viewer (§7.2): the price book (its own cost
prices, its retail prices with their status and a form to set one; the cost prices it set for
its direct downstream and a form to set one), its orders (filters, pages, exports, one order's
history and ledger entries, a Flow-2 order for a customer), its wallet (balances, the monthly
statement of G2-25 with exports, a recharge) and its withdrawals. Every change goes through the
same store calls as `/v1/prices`, `/v1/orders`, `/v1/wallets/recharges` and
`/v1/withdrawals`, so the rules (and their refusals, shown at the field in the spec's words)
are theirs; the purchase price and the upstream's cost are never shown (G1-14)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.console.auth import Page, Viewer
from api.console.exports import Format
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.forms import download, problem_of, say
from api.console.pages.money_forms import (
    AGENT_GUARD,
    FEE_NAMES,
    NOT_A_CARD,
    ORDER_WORDS,
    BadAmount,
    Errors,
    month_of,
    refusal_text,
    to_fen,
)
from api.console.render import DEFAULT_TZ, html
from api.deps import Db, Res, actor
from api.routers.orders import Gateway, ask_payment, new_order_id
from api.routers.prices import may_set
from api.schemas.orders import PackageOrderCreate, WithdrawalCreate
from core.clock import now
from core.money import BasisPoints, Fen
from domain.ledger import agent_available, agent_commission_frozen, agent_withdrawing
from domain.orders.machines import MACHINES
from domain.orders.machines import states as machine_states
from domain.pricing.errors import CostBelowPurchase, MarkupCapExceeded, NoOwnCost, PriceBelowCost
from domain.pricing.rules import PriceKind
from domain.pricing.visibility import price_scope
from domain.refusals import Refusal
from store import (
    agents,
    audit,
    ledger,
    order_lists,
    orders,
    package_orders,
    packages,
    pricing,
    wallet_orders,
)
from store.agents import Agent
from store.db import Conn
from store.errors import NotFound
from store.order_lists import OrderFilter
from store.orders import NewOrder, Order

router = APIRouter(prefix="/console/a/{agent_id}", dependencies=AGENT_GUARD)
PAGE_SIZE = 50
ONE_DAY = timedelta(days=1)
EXPORTED = 5000  # the most orders an export holds
KINDS = tuple(MACHINES)
STATES = tuple(sorted({state for kind in MACHINES for state in machine_states(kind)}))
METHODS = ("online", "wallet", "agent_wallet")
FormText = Annotated[str, Form(max_length=256)]
ORDER_COLUMNS = (N_("Order"), N_("Created"), N_("Kind"), N_("State"), N_("Method"),
                 N_("Package"), N_("ICCID"), N_("Amount (fen)"), N_("Fee (fen)"))
STATEMENT_COLUMNS = (N_("Time"), N_("Order"), N_("Fee type"), N_("Amount (fen)"),
                     N_("Balance after (fen)"), N_("Transfer"))
# Why a price is invalid (G1-12): the rule it now breaks, in the spec's words (zh, en).
REASONS = {cls.code: (cls.message_zh, cls.message_en)
           for cls in (CostBelowPurchase, PriceBelowCost, MarkupCapExceeded, NoOwnCost)}
PRICE_FIELDS = ("package_id", "valid_from", "valid_to")  # a refusal's field on the form
NOT_A_MOMENT = N_("Enter a date and time, for example 2026-01-31 08:00.")
NO_PACKAGE = N_("Choose a package.")
NO_AGENT = N_("Choose a downstream agent.")
NO_ACCOUNT = N_("Enter the account to pay out to.")


def _tz() -> str:
    return DEFAULT_TZ


async def _page(request: Request, viewer: Viewer, db: Conn, template: str, section: str,
                agent_id: str, status: int = 200, **values: Any) -> HTMLResponse:
    agent = await agents.get_agent(db, agent_id)
    return html(request, template, frame(viewer, section, None, agent=agent, fee_names=FEE_NAMES,
                                         words=ORDER_WORDS,
                                         may_change=viewer.principal.role == "agent_admin",
                                         **values), status=status)


# --- price book ---------------------------------------------------------------------------

async def _price_book(db: Conn, viewer: Viewer, agent: Agent) -> dict[str, Any]:
    """The agent's part of the menu (G1-14): its own cost and retail prices, the costs it set
    for its direct downstream; the packages it may sell and its direct downstream agents."""
    found = await pricing.list_prices(db, price_scope(viewer.principal.role, agent.agent_id))
    own = [p for p in found if p.agent_id == agent.agent_id]
    downstream = [a for a in await agents.list_agents(db, agent)
                  if a.parent_id == agent.agent_id]
    sold = await packages.list_packages(db, everything=False, agent_id=agent.agent_id)
    return {"costs": [p for p in own if p.kind == "cost"],
            "retail": [p for p in own if p.kind == "retail"],
            "downstream_costs": [p for p in found
                                 if p.kind == "cost" and p.agent_id != agent.agent_id],
            "downstream": [(a.agent_id, f"{a.name} ({a.agent_id})") for a in downstream],
            "reasons": REASONS,
            "packages": [(k.package_id, k.name) for k in sold
                         if k.business_line == "traffic_card"]}


async def _prices_page(request: Request, viewer: Viewer, db: Conn, agent_id: str, *,
                       status: int = 200, errors: Errors | None = None,
                       values: dict[str, str] | None = None, form: str = "",
                       notice: str | None = None) -> HTMLResponse:
    agent = await agents.get_agent(db, agent_id)
    book = await _price_book(db, viewer, agent)
    return await _page(request, viewer, db, "agent_prices.html", "prices", agent_id,
                       status=status, errors=errors or {}, values=values or {}, form=form,
                       notice=notice, **book)


@router.get("/prices")
async def prices_page(request: Request, agent_id: str, viewer: Page, db: Db,
                      saved: str | None = None) -> HTMLResponse:
    notice = N_("The price is saved.") if saved else None
    return await _prices_page(request, viewer, db, agent_id, notice=notice)


def _moment(text: str, name: str, errors: Errors, request: Request) -> datetime | None:
    """A date and time typed in the page's zone (`YYYY-MM-DDTHH:MM`); empty: None."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=ZoneInfo(_tz()))
    except ValueError:
        errors[name] = say(request, NOT_A_MOMENT)
        return None


async def _set_price(request: Request, viewer: Viewer, db: Conn, kind: PriceKind,
                     agent_id: str, form: str, values: dict[str, str]) -> Response:
    """A new price version through the rules of `POST /v1/prices`; a refusal at its field."""
    errors: Errors = {}
    if not values["package_id"]:
        errors["package_id"] = say(request, NO_PACKAGE)
    if not values["target"]:
        errors["target"] = say(request, NO_AGENT)
    fen: Fen | None = None
    try:
        fen = to_fen(values["amount"])
    except BadAmount as bad:
        errors["amount"] = say(request, bad.message)
    start = _moment(values["valid_from"], "valid_from", errors, request)
    end = _moment(values["valid_to"], "valid_to", errors, request)
    if not errors and fen is not None:
        try:
            target = await agents.get_agent(db, values["target"])
            await may_set(db, viewer.principal, kind, target)
            await pricing.set_price(db, kind, values["package_id"], target, fen, start, end,
                                    actor(viewer.principal, request), None)
        except NotFound as gone:
            missing = "package_id" if str(gone).startswith("package") else "target"
            errors[missing] = say(request, NO_PACKAGE if missing == "package_id" else NO_AGENT)
        except Refusal as refused:
            field = refused.field if refused.field in PRICE_FIELDS else "amount"
            errors[field] = refusal_text(request, refused)
        else:
            return RedirectResponse(f"/console/a/{agent_id}/prices?saved=1", status_code=303)
    return await _prices_page(request, viewer, db, agent_id, status=422, errors=errors,
                              values=values, form=form)


@router.post("/prices/retail")
async def set_retail(request: Request, agent_id: str, viewer: Page, db: Db,
                     package_id: FormText = "", amount: FormText = "",
                     valid_from: FormText = "", valid_to: FormText = "") -> Response:
    """A new retail price of the agent's (G1-09…G1-11), as `POST /v1/prices`."""
    return await _set_price(request, viewer, db, "retail", agent_id, "retail", {
        "target": agent_id, "package_id": package_id, "amount": amount,
        "valid_from": valid_from, "valid_to": valid_to})


@router.post("/prices/downstream")
async def set_downstream(request: Request, agent_id: str, viewer: Page, db: Db,
                         target: FormText = "", package_id: FormText = "",
                         amount: FormText = "", valid_from: FormText = "",
                         valid_to: FormText = "") -> Response:
    """A direct downstream agent's cost price (G1-07, G1-10), as `POST /v1/prices`."""
    return await _set_price(request, viewer, db, "cost", agent_id, "downstream", {
        "target": target, "package_id": package_id, "amount": amount,
        "valid_from": valid_from, "valid_to": valid_to})


# --- orders -------------------------------------------------------------------------------

def _day(text: str | None) -> datetime | None:
    """The start of a day typed `YYYY-MM-DD` in the page's zone (None: not a day)."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=ZoneInfo(_tz()))
    except ValueError:
        return None


def _filter(agent_id: str | None, who: str | None, kind: str | None, state: str | None,
            method: str | None, start: str | None, end: str | None) -> OrderFilter:
    """The list's filter from the query (unknown values: not filtered); `end` is inclusive."""
    last = _day(end)
    return OrderFilter(agent_id=agent_id, who=who,
                       kind=kind if kind in KINDS else None,
                       state=state if state in STATES else None,
                       method=method if method in METHODS else None,
                       start=_day(start),
                       end=None if last is None else last + ONE_DAY)


async def _orders_page(request: Request, viewer: Viewer, db: Conn, agent_id: str, *,
                       status: int = 200, errors: Errors | None = None,
                       values: dict[str, str] | None = None) -> HTMLResponse:
    q = request.query_params
    where = _filter(agent_id, None, q.get("kind"), q.get("state"), q.get("method"),
                    q.get("start"), q.get("end"))
    page = max(0, int(q["page"])) if q.get("page", "").isdigit() else 0
    found = await order_lists.order_page(db, where, PAGE_SIZE + 1, page * PAGE_SIZE)
    chosen = {k: q.get(k, "") for k in ("kind", "state", "method", "start", "end")}
    query = urlencode({k: v for k, v in chosen.items() if v})
    sold = await packages.list_packages(db, everything=False, agent_id=agent_id,
                                        kind="retail", active_only=True)
    return await _page(request, viewer, db, "agent_orders.html", "orders", agent_id,
                       status=status, orders=found[:PAGE_SIZE], page=page,
                       more=len(found) > PAGE_SIZE, chosen=chosen, query=query,
                       kinds=KINDS, states=STATES, methods=METHODS,
                       packages=[(k.package_id, k.name) for k in sold],
                       errors=errors or {}, values=values or {})


@router.get("/orders")
async def orders_page(request: Request, agent_id: str, viewer: Page, db: Db) -> HTMLResponse:
    return await _orders_page(request, viewer, db, agent_id)


@router.get("/orders.{fmt}")
async def export_orders(request: Request, agent_id: str, fmt: Format, viewer: Page, db: Db,
                        kind: Annotated[str | None, Query(max_length=32)] = None,
                        state: Annotated[str | None, Query(max_length=32)] = None,
                        method: Annotated[str | None, Query(max_length=32)] = None,
                        start: Annotated[str | None, Query(max_length=10)] = None,
                        end: Annotated[str | None, Query(max_length=10)] = None) -> Response:
    where = _filter(agent_id, None, kind, state, method, start, end)
    rows = [(o.order_id, o.created_at, o.kind, o.state, o.method, o.package_id, o.iccid,
             o.amount_fen, o.fee_fen)
            for o in await order_lists.order_page(db, where, EXPORTED)]
    return download(request, fmt, f"orders-{agent_id}", ORDER_COLUMNS, rows, _tz())


@router.post("/orders")
async def order_for_customer(request: Request, agent_id: str, viewer: Page, db: Db, res: Res,
                             package_id: FormText = "", iccid: FormText = "") -> Response:
    """Flow 2 (G2-03): the agent pays its cost from its own wallet, as `POST /v1/orders`
    with `agent_wallet`."""
    errors: Errors = {}
    values = {"package_id": package_id, "iccid": iccid.strip()}
    try:
        body = PackageOrderCreate(package_id=package_id, iccid=iccid.strip(),
                                  method="agent_wallet")
    except ValidationError as exc:
        where = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else "iccid"
        if where == "package_id":
            errors["package_id"] = say(request, NO_PACKAGE) if not package_id \
                else problem_of(exc)
        else:
            errors["iccid"] = say(request, NOT_A_CARD)
        return await _orders_page(request, viewer, db, agent_id, status=422, errors=errors,
                                  values=values)
    new = NewOrder(new_order_id("P"), "package", actor(viewer.principal, request),
                   body.model_dump(mode="json") | {"agent_id": agent_id}, None)
    try:
        order, _ = await package_orders.create_package_order(
            db, new, package_id=body.package_id, agent_id=agent_id, iccid=body.iccid,
            method="agent_wallet", topic=res.settings.orders_topic)
    except Refusal as refused:
        errors["package_id" if refused.field == "package_id" else "order"] = \
            refusal_text(request, refused)
        return await _orders_page(request, viewer, db, agent_id, status=409, errors=errors,
                                  values=values)
    return RedirectResponse(f"/console/a/{agent_id}/orders/{order.order_id}?created=1",
                            status_code=303)


async def _agent_order(db: Conn, agent_id: str, order_id: str) -> Order:
    order = await orders.get_order(db, order_id)
    if order.agent_id != agent_id:
        raise NotFound(f"order {order_id!r}")
    return order


def _offer(order: Order) -> dict[str, Any]:
    """What of the order's price chain the agent may see (G1-14): the retail price and its
    own level, never the purchase price or the upstream's cost."""
    chain = order.price_chain or {}
    mine = [level for level in chain.get("levels", []) if level.get("agent_id") == order.agent_id]
    return {"retail": chain.get("retail_price_fen"),
            "own_cost": mine[0].get("cost_price_fen") if mine else None}


@router.get("/orders/{order_id}")
async def order_page(request: Request, agent_id: str, order_id: str, viewer: Page, db: Db,
                     created: str | None = None) -> HTMLResponse:
    order = await _agent_order(db, agent_id, order_id)
    accounts = {agent_available(agent_id), agent_withdrawing(agent_id),
                agent_commission_frozen(agent_id)}
    moves = [t for t in await ledger.order_transfers(db, order_id)
             if t.debit_account in accounts or t.credit_account in accounts]
    return await _page(request, viewer, db, "agent_order.html", "orders", agent_id,
                       order=order, history=await audit.history(db, "order", order_id),
                       moves=moves, offer=_offer(order), accounts=accounts,
                       notice=N_("The order is placed.") if created else None)


# --- wallet -------------------------------------------------------------------------------

async def _wallet_page(request: Request, viewer: Viewer, db: Conn, agent_id: str, *,
                       status: int = 200, errors: Errors | None = None,
                       values: dict[str, str] | None = None,
                       recharge: Order | None = None) -> HTMLResponse:
    month = month_of(request.query_params.get("month"), now(), _tz())
    account = agent_available(agent_id)
    balances = {name: await ledger.balance(db, key) for name, key in (
        ("available", account), ("withdrawing", agent_withdrawing(agent_id)),
        ("commission_frozen", agent_commission_frozen(agent_id)))}
    found = await ledger.statement(db, account, month.start, month.end)
    return await _page(request, viewer, db, "agent_wallet.html", "wallet", agent_id,
                       status=status, balances=balances, statement=found, month=month,
                       errors=errors or {}, values=values or {}, recharge=recharge)


@router.get("/wallet")
async def wallet_page(request: Request, agent_id: str, viewer: Page, db: Db) -> HTMLResponse:
    return await _wallet_page(request, viewer, db, agent_id)


@router.get("/wallet/statement.{fmt}")
async def export_statement(request: Request, agent_id: str, fmt: Format, viewer: Page,
                           db: Db, month: Annotated[str | None, Query(max_length=7)] = None
                           ) -> Response:
    period = month_of(month, now(), _tz())
    found = await ledger.statement(db, agent_available(agent_id), period.start, period.end)
    rows = [(line.entry.at, line.entry.order_id,
             say(request, FEE_NAMES.get(line.entry.fee_type, line.entry.fee_type)),
             line.entry.amount,
             line.balance_after, line.entry.transfer_id) for line in found.lines]
    return download(request, fmt, f"statement-{agent_id}-{period.name}", STATEMENT_COLUMNS,
                    rows, _tz())


@router.post("/wallet/recharge")
async def recharge(request: Request, agent_id: str, viewer: Page, db: Db, res: Res,
                   channel: Gateway, amount: FormText = "") -> Response:
    """Prestore into the agent's wallet (G2-14), as `POST /v1/wallets/recharges`: the answer
    shows where to pay."""
    try:
        fen = to_fen(amount)
    except BadAmount as bad:
        return await _wallet_page(request, viewer, db, agent_id, status=422,
                                  errors={"amount": say(request, bad.message)},
                                  values={"amount": amount})
    new = NewOrder(new_order_id("R"), "recharge", actor(viewer.principal, request),
                   {"wallet": "agent", "amount_fen": fen, "iccid": None}, None)
    try:
        order, _ = await wallet_orders.create_recharge(
            db, new, wallet=agent_available(agent_id), amount=fen,
            topic=res.settings.orders_topic, agent_id=agent_id)
        order = await ask_payment(db, order, channel, res.settings.notify_url,
                                  "wallet recharge")
    except Refusal as refused:
        return await _wallet_page(request, viewer, db, agent_id, status=409,
                                  errors={"amount": refusal_text(request, refused)},
                                  values={"amount": amount})
    return await _wallet_page(request, viewer, db, agent_id, recharge=order)


# --- withdrawals --------------------------------------------------------------------------

async def _withdrawals_page(request: Request, viewer: Viewer, db: Conn, agent_id: str, *,
                            status: int = 200, errors: Errors | None = None,
                            values: dict[str, str] | None = None,
                            notice: str | None = None) -> HTMLResponse:
    found = await order_lists.order_page(db, OrderFilter(agent_id=agent_id,
                                                         kind="withdrawal"), 200)
    return await _page(request, viewer, db, "agent_withdrawals.html", "withdrawals",
                       agent_id, status=status, withdrawals=found, errors=errors or {},
                       values=values or {}, notice=notice,
                       available=await ledger.balance(db, agent_available(agent_id)))


@router.get("/withdrawals")
async def withdrawals_page(request: Request, agent_id: str, viewer: Page, db: Db,
                           asked: str | None = None) -> HTMLResponse:
    notice = N_("The withdrawal is requested.") if asked else None
    return await _withdrawals_page(request, viewer, db, agent_id, notice=notice)


@router.post("/withdrawals")
async def request_withdrawal(request: Request, agent_id: str, viewer: Page, db: Db,
                             res: Res, amount: FormText = "", account: FormText = ""
                             ) -> Response:
    """G2-15: `available → withdrawing`, as `POST /v1/withdrawals`."""
    errors: Errors = {}
    values = {"amount": amount, "account": account}
    fen: Fen | None = None
    try:
        fen = to_fen(amount)
    except BadAmount as bad:
        errors["amount"] = say(request, bad.message)
    if not account.strip():
        errors["account"] = say(request, NO_ACCOUNT)
    if not errors and fen is not None:
        body = WithdrawalCreate(amount_fen=fen, account=account.strip()[:64])
        new = NewOrder(new_order_id("W"), "withdrawal", actor(viewer.principal, request),
                       body.model_dump(mode="json"), None)
        try:
            await wallet_orders.request_withdrawal(
                db, new, agent_id=agent_id, amount=fen, account=body.account,
                min_fen=Fen(res.settings.withdrawal_min_fen),
                fee_bp=BasisPoints(res.settings.withdrawal_fee_bp),
                topic=res.settings.orders_topic)
        except Refusal as refused:
            errors["amount"] = refusal_text(request, refused)
        else:
            return RedirectResponse(f"/console/a/{agent_id}/withdrawals?asked=1",
                                    status_code=303)
    return await _withdrawals_page(request, viewer, db, agent_id, status=422, errors=errors,
                                   values=values)
