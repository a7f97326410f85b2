"""An end user's own pages (§7.2): buying a package for a card from what its agent sells, at
the agent's retail price only (G1-14; `online`, with a link to the payment page the order's
answer gives, or from the card's wallet), the card wallets it recharged or ordered for
(balance, statement, recharge) and its own orders. The store calls are those of `/v1/orders`
and `/v1/wallets`, so their rules and refusals are theirs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.console.auth import Page, Viewer
from api.console.exports import Format
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.agent import NO_PACKAGE, STATEMENT_COLUMNS
from api.console.pages.forms import download, problem_of, say
from api.console.pages.money_forms import (
    FEE_NAMES,
    NOT_A_CARD,
    ORDER_WORDS,
    USER_GUARD,
    BadAmount,
    Errors,
    end_user,
    month_of,
    refusal_text,
    to_fen,
)
from api.console.render import DEFAULT_TZ, html
from api.deps import Db, Res, actor
from api.routers.orders import Gateway, ask_payment, new_order_id
from api.schemas.orders import PackageOrderCreate
from core.clock import now
from domain.ledger import card_wallet
from domain.pricing.visibility import price_scope
from domain.refusals import Refusal
from domain.usage.validation import ICCID_RE
from store import (
    audit,
    ledger,
    order_lists,
    orders,
    package_orders,
    packages,
    pricing,
    wallet_orders,
)
from store.db import Conn
from store.errors import NotFound
from store.order_lists import OrderFilter
from store.orders import NewOrder, Order

router = APIRouter(prefix="/console/me", dependencies=USER_GUARD)
FormText = Annotated[str, Form(max_length=256)]
SHOWN = 200
METHODS = (("online", N_("Pay online")), ("wallet", N_("From the card's wallet")))


async def _offers(db: Conn, viewer: Viewer, agent_id: str) -> list[dict[str, Any]]:
    """The packages the agent sells now, at its retail price (nothing else, G1-14)."""
    sold = {k.package_id: k for k in await packages.list_packages(
        db, everything=False, agent_id=agent_id, kind="retail", active_only=True)}
    at = now()
    found: dict[str, dict[str, Any]] = {}
    for price in await pricing.list_prices(db, price_scope(viewer.principal.role, agent_id),
                                           kind="retail"):
        if price.package_id in sold and price.valid_from <= at:
            found[price.package_id] = {"package_id": price.package_id,
                                       "name": sold[price.package_id].name,
                                       "bytes": sold[price.package_id].package_bytes,
                                       "price_fen": price.amount_fen}
    return sorted(found.values(), key=lambda offer: str(offer["package_id"]))


async def _buy_page(request: Request, viewer: Viewer, db: Conn, *, status: int = 200,
                    errors: Errors | None = None, values: dict[str, str] | None = None
                    ) -> HTMLResponse:
    agent_id = end_user(viewer)
    return html(request, "me_buy.html", frame(
        viewer, "buy", None, offers=await _offers(db, viewer, agent_id), methods=METHODS,
        cards=await order_lists.own_cards(db, viewer.principal.key_id),
        errors=errors or {}, values=values or {"method": "online"}), status=status)


@router.get("/buy")
async def buy_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _buy_page(request, viewer, db)


@router.post("/buy")
async def buy(request: Request, viewer: Page, db: Db, res: Res, channel: Gateway,
              package_id: FormText = "", iccid: FormText = "", method: FormText = "online"
              ) -> Response:
    """Order a package for a card through the user's agent, as `POST /v1/orders`."""
    agent_id = end_user(viewer, write=True)
    values = {"package_id": package_id, "iccid": iccid.strip(), "method": method}
    try:
        body = PackageOrderCreate(package_id=package_id, iccid=iccid.strip(),
                                  method="wallet" if method == "wallet" else "online")
    except ValidationError as exc:
        where = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else "iccid"
        field = "package_id" if where == "package_id" else "iccid"
        text = say(request, NOT_A_CARD) if field == "iccid" else (
            say(request, NO_PACKAGE) if not package_id else problem_of(exc))
        return await _buy_page(request, viewer, db, status=422, errors={field: text},
                               values=values)
    new = NewOrder(new_order_id("P"), "package", actor(viewer.principal, request),
                   body.model_dump(mode="json") | {"agent_id": agent_id}, None)
    try:
        order, _ = await package_orders.create_package_order(
            db, new, package_id=body.package_id, agent_id=agent_id, iccid=body.iccid,
            method=body.method, topic=res.settings.orders_topic)
        order = await ask_payment(db, order, channel, res.settings.notify_url,
                                  f"package {body.package_id}")
    except Refusal as refused:
        field = "package_id" if refused.field == "package_id" else "order"
        return await _buy_page(request, viewer, db, status=409,
                               errors={field: refusal_text(request, refused)}, values=values)
    return RedirectResponse(f"/console/me/orders/{order.order_id}?created=1", status_code=303)


@router.get("/orders")
async def my_orders(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    found = await order_lists.order_page(db, OrderFilter(who=viewer.principal.key_id), SHOWN)
    return html(request, "me_orders.html", frame(viewer, "my_orders", None, orders=found,
                                                 words=ORDER_WORDS))


async def _my_order(db: Conn, viewer: Viewer, order_id: str) -> Order:
    order = await orders.get_order(db, order_id)
    if order.created_by != viewer.principal.key_id:
        raise NotFound(f"order {order_id!r}")
    return order


@router.get("/orders/{order_id}")
async def my_order(request: Request, order_id: str, viewer: Page, db: Db,
                   created: str | None = None) -> HTMLResponse:
    order = await _my_order(db, viewer, order_id)
    chain = order.price_chain or {}
    return html(request, "me_order.html", frame(
        viewer, "my_orders", None, words=ORDER_WORDS, order=order,
        retail=chain.get("retail_price_fen"),
        history=await audit.history(db, "order", order_id),
        notice=N_("The order is placed.") if created else None))


async def _wallet_page(request: Request, viewer: Viewer, db: Conn, iccid: str | None, *,
                       status: int = 200, errors: Errors | None = None,
                       values: dict[str, str] | None = None,
                       recharge: Order | None = None) -> HTMLResponse:
    cards = await order_lists.own_cards(db, viewer.principal.key_id)
    card = iccid if iccid in cards else (cards[0] if cards else None)
    month = month_of(request.query_params.get("month"), now(), DEFAULT_TZ)
    balance = statement = None
    if card is not None:
        balance = await ledger.balance(db, card_wallet(card))
        statement = await ledger.statement(db, card_wallet(card), month.start, month.end)
    return html(request, "me_wallet.html", frame(
        viewer, "my_wallet", None, fee_names=FEE_NAMES, cards=cards, card=card, balance=balance,
        statement=statement, month=month, errors=errors or {},
        values=values or {"iccid": card or ""}, recharge=recharge), status=status)


@router.get("/wallet")
async def wallet_page(request: Request, viewer: Page, db: Db,
                      iccid: Annotated[str | None, Query(max_length=20)] = None
                      ) -> HTMLResponse:
    return await _wallet_page(request, viewer, db, iccid)


@router.get("/wallet/statement.{fmt}")
async def export_statement(request: Request, fmt: Format, viewer: Page, db: Db,
                           iccid: Annotated[str, Query(max_length=20)] = "",
                           month: Annotated[str | None, Query(max_length=7)] = None
                           ) -> Response:
    cards = await order_lists.own_cards(db, viewer.principal.key_id)
    iccid = iccid or (cards[0] if cards else "")  # as the page: the first card by default
    if iccid not in cards:
        raise NotFound(f"wallet of card {iccid!r}")
    period = month_of(month, now(), DEFAULT_TZ)
    found = await ledger.statement(db, card_wallet(iccid), period.start, period.end)
    rows = [(line.entry.at, line.entry.order_id,
             say(request, FEE_NAMES.get(line.entry.fee_type, line.entry.fee_type)),
             line.entry.amount,
             line.balance_after, line.entry.transfer_id) for line in found.lines]
    return download(request, fmt, f"statement-{iccid}-{period.name}", STATEMENT_COLUMNS, rows,
                    DEFAULT_TZ)


@router.post("/wallet/recharge")
async def recharge(request: Request, viewer: Page, db: Db, res: Res, channel: Gateway,
                   iccid: FormText = "", amount: FormText = "") -> Response:
    """Prestore into a card's wallet (G2-13), as `POST /v1/wallets/recharges`."""
    agent_id = end_user(viewer, write=True)
    card = iccid.strip()
    values = {"iccid": card, "amount": amount}
    errors: Errors = {}
    if not ICCID_RE.fullmatch(card):
        errors["iccid"] = say(request, NOT_A_CARD)
    fen = None
    try:
        fen = to_fen(amount)
    except BadAmount as bad:
        errors["amount"] = say(request, bad.message)
    if errors or fen is None:
        return await _wallet_page(request, viewer, db, card, status=422, errors=errors,
                                  values=values)
    new = NewOrder(new_order_id("R"), "recharge", actor(viewer.principal, request),
                   {"wallet": "card", "amount_fen": fen, "iccid": card}, None)
    try:
        order, _ = await wallet_orders.create_recharge(
            db, new, wallet=card_wallet(card), amount=fen, topic=res.settings.orders_topic,
            agent_id=agent_id, iccid=card)
        order = await ask_payment(db, order, channel, res.settings.notify_url,
                                  "wallet recharge")
    except Refusal as refused:
        return await _wallet_page(request, viewer, db, card, status=409,
                                  errors={"amount": refusal_text(request, refused)},
                                  values=values)
    return await _wallet_page(request, viewer, db, card, recharge=order)
