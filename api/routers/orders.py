"""Package orders (G2-02…G2-11, SM-G2-ORDER) and payment-channel notifications.

Who (§7.2): an end user orders for a card through its agent (`online`, `wallet`); an agent's
admin orders on behalf of a user (`online`, `wallet`) or pays from its own wallet (Flow 2,
`agent_wallet`); an enterprise's admin orders for its own cards (Flow 1). Platform roles and
an agent's viewer read. Completion is the platform's (stand-in for fulfilment, see
`store.package_orders.on_paid`)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from api.deps import (
    PLATFORM_READERS,
    Caller,
    Db,
    Principal,
    Res,
    Resources,
    actor,
    forbid,
    visible_card,
)
from api.effects import publish
from api.openapi import FORBIDDEN, NOT_FOUND
from api.payments import PaymentGateway, gateway
from api.schemas.orders import (
    BatchResultPublic,
    OrderPublic,
    PackageOrderBatch,
    PackageOrderBatchPublic,
    PackageOrderCreate,
    RefundCreate,
    RefusalPublic,
    Rejection,
)
from core.money import Fen
from core.payments import ACK_BODY, ACK_MEDIA_TYPE, NotificationProblem, verify_notification
from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from domain.orders.errors import PaymentUnavailable
from domain.refusals import Refusal
from store import card_purchases, order_batches, orders, package_orders, refund_requests, refunds
from store.db import Conn
from store.errors import NotFound
from store.orders import NewOrder, Order
from store.payment_notifications import apply_once
from store.quota import Outcome as QuotaOutcome

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/orders", tags=["orders"], responses=FORBIDDEN)
notify_router = APIRouter(prefix="/v1/payments", tags=["payments"])
IdempotencyKey = Annotated[str | None, Header(
    max_length=128, description="C-05: a retry with the same key returns the first answer")]
Gateway = Annotated[PaymentGateway | None, Depends(gateway)]
CONFLICTS: dict[int | str, dict[str, Any]] = {409: {"description": (
    "`insufficient_balance`, `price_unavailable`, `first_purchase_wallet_only`, "
    "`idempotency_conflict`, `invalid_transition`, `payment_unavailable`, "
    "`partial_refund_not_allowed`, `not_intercepted`")}}


def public(order: Order) -> OrderPublic:
    return OrderPublic.model_validate(order, from_attributes=True)


def new_order_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:20]}"


def may_see(caller: Principal, order: Order) -> bool:
    """Platform roles see every order; agent people their agent's; end users and enterprises
    their own."""
    if caller.role in PLATFORM_READERS:
        return True
    if caller.role in ("agent_admin", "agent_viewer"):
        return caller.agent_id is not None and caller.agent_id == order.agent_id
    if caller.role == "enterprise_admin" or caller.role == "enterprise_viewer":
        return caller.enterprise_id is not None and caller.enterprise_id == order.enterprise_id
    return order.created_by == caller.key_id


async def visible_order(db: Conn, order_id: str, caller: Principal) -> Order:
    order = await orders.get_order(db, order_id)
    if not may_see(caller, order):
        raise NotFound(f"order {order_id!r}")
    return order


def _seller(caller: Principal, body: PackageOrderCreate) -> str:
    if caller.role == "agent_admin" and caller.agent_id is not None:
        if body.agent_id not in (None, caller.agent_id):
            raise forbid("an agent orders as itself")
        return caller.agent_id
    if body.method == "agent_wallet":
        raise forbid("only an agent's admin pays from the agent's wallet (Flow 2)")
    if caller.role == "end_user" and caller.agent_id is not None:
        if body.agent_id not in (None, caller.agent_id):
            raise forbid("an end user buys through its own agent")
        return caller.agent_id
    if caller.role == "enterprise_admin" and body.agent_id is not None:
        return body.agent_id
    raise forbid(f"{caller.role} may not order packages")


async def ask_payment(db: Conn, order: Order, channel: PaymentGateway | None, notify_url: str,
                      subject: str) -> Order:
    """Create the channel payment of an unpaid online order (idempotent by order id)."""
    if order.state != "pending_payment" or order.method != "online" or order.pay_url:
        return order
    if channel is None:
        raise PaymentUnavailable()
    try:
        made = await channel.create_payment(order.order_id, Fen(order.amount_fen), notify_url,
                                            subject)
    except Exception as exc:  # the channel's error type lives in connectors
        log.warning("payment for %s not created: %s", order.order_id, exc)
        raise PaymentUnavailable() from None
    return await package_orders.set_payment(db, order.order_id, made.payment_id, made.pay_url)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderPublic,
             responses={**NOT_FOUND, **CONFLICTS})
async def create_order(body: PackageOrderCreate, caller: Caller, db: Db, res: Res,
                       request: Request, channel: Gateway,
                       idempotency_key: IdempotencyKey = None) -> OrderPublic:
    """Order a package for a card with the price chain snapshotted (G1-13). `agent_wallet`
    answers `paid` (then `fulfilling`) or 409 `insufficient_balance` with nothing debited;
    `wallet` debits the card's wallet; `online` answers `pending_payment` with `pay_url`."""
    agent_id = _seller(caller, body)
    enterprise_id = None
    if caller.role == "enterprise_admin":  # its own cards only (another's: 404)
        enterprise_id = (await visible_card(db, body.iccid, caller)).enterprise_id
    new = NewOrder(new_order_id("P"), "package", actor(caller, request),
                   body.model_dump(mode="json") | {"agent_id": agent_id}, idempotency_key)
    order, _ = await package_orders.create_package_order(
        db, new, package_id=body.package_id, agent_id=agent_id, iccid=body.iccid,
        method=body.method, topic=res.settings.orders_topic, enterprise_id=enterprise_id)
    return public(await ask_payment(db, order, channel, res.settings.notify_url,
                                    f"package {body.package_id}"))


@router.post("/batch", response_model=PackageOrderBatchPublic,
             responses={**NOT_FOUND, **CONFLICTS})
async def create_orders(body: PackageOrderBatch, caller: Caller, db: Db, res: Res,
                        request: Request) -> PackageOrderBatchPublic:
    """Up to 500 package orders in one transaction, each with its own `idempotency_key` and
    its own answer (201 and the order, or 409 / 422 and the refusal): an item refused (e.g.
    `insufficient_balance`) leaves nothing behind and the others go through. Flow-2 orders
    of one agent are paid under one lock of its wallet. A repeated batch answers the same.
    `online` items are created `pending_payment` without a channel payment: ask for it with
    a single create under the same key. Who may order what: as the single create (403 for
    the whole batch if any item is not the caller's to order)."""
    who = actor(caller, request)
    items = []
    for one in body.orders:
        agent_id = _seller(caller, one)
        enterprise_id = None
        if caller.role == "enterprise_admin":  # its own cards only (another's: 404)
            enterprise_id = (await visible_card(db, one.iccid, caller)).enterprise_id
        request_body = one.model_dump(mode="json", exclude={"idempotency_key"})
        items.append(order_batches.BatchItem(
            NewOrder(new_order_id("P"), "package", who, request_body | {"agent_id": agent_id},
                     one.idempotency_key),
            one.package_id, agent_id, one.iccid, one.method, enterprise_id))
    outcomes = await order_batches.create_package_orders(db, items,
                                                         res.settings.orders_topic)
    return PackageOrderBatchPublic(results=[
        _batch_result(one.idempotency_key, outcome)
        for one, outcome in zip(body.orders, outcomes, strict=True)])


def _batch_result(key: str, outcome: Order | Refusal) -> BatchResultPublic:
    if isinstance(outcome, Refusal):
        return BatchResultPublic(idempotency_key=key, status=422 if outcome.field else 409,
                                 error=RefusalPublic(**outcome.as_detail()))
    return BatchResultPublic(idempotency_key=key, status=201, order=public(outcome))


@router.get("", response_model=list[OrderPublic])
async def list_orders(caller: Caller, db: Db,
                      kind: Annotated[str | None, Query(
                          pattern="^(package|recharge|withdrawal|number_card_event|card_purchase)$")
                                      ] = None,
                      intercepted: bool | None = None) -> list[OrderPublic]:
    """The orders the caller may see (newest first, at most 100); `intercepted=true`: those
    a price risk holds until released (G1-18)."""
    everything = caller.role in PLATFORM_READERS
    agent = caller.agent_id if caller.role in ("agent_admin", "agent_viewer") else None
    found = await orders.list_orders(db, everything=everything, who=caller.key_id,
                                     agent_id=agent, enterprise_id=caller.enterprise_id,
                                     kind=kind, intercepted=intercepted)
    return [public(o) for o in found]


@router.get("/{order_id}", response_model=OrderPublic, responses=NOT_FOUND)
async def get_order(order_id: str, caller: Caller, db: Db) -> OrderPublic:
    return public(await visible_order(db, order_id, caller))


@router.post("/{order_id}/cancel", response_model=OrderPublic,
             responses={**NOT_FOUND, **CONFLICTS})
async def cancel_order(order_id: str, caller: Caller, db: Db, res: Res, request: Request,
                       channel: Gateway) -> OrderPublic:
    """The buyer cancels an unpaid order or recharge; its channel payment is closed."""
    order = await visible_order(db, order_id, caller)
    if order.created_by != caller.key_id:
        raise forbid("only the buyer cancels an order")
    done = await orders.cancel(db, order, "buyer", actor(caller, request),
                               res.settings.orders_topic, "cancelled by the buyer")
    await close_payments(channel, [done])
    return public(done)


async def close_payments(channel: PaymentGateway | None, cancelled: list[Order]) -> None:
    for order in cancelled:
        if channel is not None and order.payment_id is not None:
            try:
                await channel.close_payment(order.payment_id)
            except Exception as exc:  # paid meanwhile: the notification is recorded ignored
                log.warning("payment %s not closed: %s", order.payment_id, exc)


@router.post("/{order_id}/complete", response_model=OrderPublic,
             responses={**NOT_FOUND, **CONFLICTS})
async def complete_order(order_id: str, caller: Caller, db: Db, res: Res, request: Request
                         ) -> OrderPublic:
    """`fulfilling → completed` with the settlement (G2-24), by the platform: the worker's
    fulfilment (`store.fulfilment`) completes card-managed orders by itself; this ends one it
    cannot (its card is not registered) or settles one by hand."""
    if caller.role not in ("admin", "platform_operator"):
        raise forbid("the platform completes orders")
    order = await visible_order(db, order_id, caller)
    if order.kind == "card_purchase":  # G1-17: the stock's cards allocated to the buyer
        return public(await card_purchases.complete(
            db, order, actor(caller, request), res.settings.card_stock_enterprise,
            res.settings.orders_topic))
    if order.kind != "package":
        raise NotFound(f"package order {order_id!r}")
    return public(await package_orders.complete(db, order, actor(caller, request),
                                        res.settings.orders_topic, "operator"))


@router.post("/{order_id}/refund", response_model=OrderPublic,
             responses={**NOT_FOUND, **CONFLICTS})
async def refund_order(order_id: str, body: RefundCreate, caller: Caller, db: Db, res: Res,
                       request: Request, channel: Gateway,
                       idempotency_key: IdempotencyKey = None) -> OrderPublic:
    """A refund (SM-G2-ORDER) at once, by the platform administrator (automation); the
    platform operator requests one (`POST /v1/orders/{id}/refund-requests`) and platform
    finance approves it (`POST /v1/refund-requests/{id}/approve`), which runs this same
    refund. With a reason and an optional `amount_fen` (absent: all that remains; a completed
    order may be refunded in parts up to its amount): `refunding`, then `partially_refunded`
    or `refunded` once the money is back — at once for wallet payments, on the channel's
    refund notification for online ones. A completed order's settlement is reversed in
    proportion (an agent's balance may go below 0, G2-16); only the refund that completes it
    takes the package off the card (G2-20), and the card's desired state is published at
    once. A card purchase is refunded in full while paid, before its cards are allocated."""
    if caller.role != "admin":
        raise forbid("the platform operator requests a refund (POST /v1/orders/{id}/"
                     "refund-requests) and platform finance approves it (POST "
                     "/v1/refund-requests/{id}/approve)")
    order = await refundable_order(db, order_id, caller)
    if order.state != "refunding":
        order = await refund_requests.begin_refund(
            db, order, body.reason, body.amount_fen, actor(caller, request),
            res.settings.orders_topic, idempotency_key)
    return await pay_refund(db, res, order, channel)


async def refundable_order(db: Conn, order_id: str, caller: Principal) -> Order:
    """A package order or card purchase the caller may see (404 otherwise)."""
    order = await visible_order(db, order_id, caller)
    if order.kind not in ("package", "card_purchase"):
        raise NotFound(f"package order {order_id!r}")
    return order


async def pay_refund(db: Conn, res: Resources, order: Order, channel: PaymentGateway | None
                     ) -> OrderPublic:
    """The money of a `refunding` order back to its payer: at once from a wallet, asked of
    the channel online (asking again asks again); any other state answers the order."""
    if order.state != "refunding":  # a repeat of a refund already paid
        return public(order)
    if order.kind == "card_purchase":
        return await _refund_card_purchase(db, order, res.settings.orders_topic, channel)
    if order.method != "online":
        done, outcome = await package_orders.refund_paid(db, order, res.settings.orders_topic)
        await publish(res, outcome)
        return public(done)
    asked = await refunds.asked(db, order.order_id)
    if channel is None or order.payment_id is None or asked is None:
        raise PaymentUnavailable()
    try:
        await channel.refund(order.payment_id, asked.refund_id, Fen(asked.amount_fen))
    except Exception as exc:  # `refunding` stays; asking again asks the channel again
        log.warning("refund of %s not asked: %s", order.order_id, exc)
        raise PaymentUnavailable() from None
    return public(await orders.get_order(db, order.order_id))


async def _refund_card_purchase(db: Conn, order: Order, topic: str,
                                 channel: PaymentGateway | None) -> OrderPublic:
    """The money of a card purchase (paid, its cards not allocated) back in full: at once to
    the enterprise's wallet, online on the channel's refund notification."""
    if order.method != "online":
        return public(await card_purchases.finish_refund(db, order, topic))
    if channel is None or order.payment_id is None:
        raise PaymentUnavailable()
    try:
        await channel.refund(order.payment_id, package_orders.refund_id(order),
                             Fen(order.amount_fen))
    except Exception as exc:  # `refunding` stays; asking again asks the channel again
        log.warning("refund of %s not asked: %s", order.order_id, exc)
        raise PaymentUnavailable() from None
    return public(await orders.get_order(db, order.order_id))


@router.post("/{order_id}/release", response_model=OrderPublic,
             responses={**NOT_FOUND, **CONFLICTS})
async def release_order(order_id: str, body: Rejection, caller: Caller, db: Db, res: Res,
                        request: Request) -> OrderPublic:
    """G1-18: a platform operator lets an order a price risk intercepted proceed, with a
    reason (audited: who, when, why); a paid order starts its fulfilment. 409
    `not_intercepted` otherwise."""
    if caller.role not in ("admin", "platform_operator"):
        raise forbid("a platform operator releases intercepted orders")
    order = await visible_order(db, order_id, caller)
    return public(await package_orders.release(db, order, actor(caller, request),
                                               res.settings.orders_topic, body.reason))


@notify_router.post("/notify", response_class=Response, responses={
    200: {"content": {"text/plain": {}}, "description": "`success`: applied or a repeat"},
    400: {"description": "not a notification"}, 401: {"description": "not signed"}})
async def notify(request: Request, db: Db, res: Res) -> Response:
    """The payment channel's signed notifications (core/payments.py): verified on the raw
    body, recorded by `notify_id`, checked against the order, applied at most once; answers
    `success` once durable (a repeat too)."""
    secret = res.settings.payment_secret
    body = await request.body()
    verified = verify_notification(secret.get_secret_value() if secret else None,
                                   request.headers.get(TIMESTAMP_HEADER),
                                   request.headers.get(SIGNATURE_HEADER), body, time.time())
    if isinstance(verified, NotificationProblem):
        return Response(verified.reason, status_code=verified.status_code,
                        media_type=ACK_MEDIA_TYPE)
    effects: list[QuotaOutcome] = []
    outcome = await apply_once(db, verified, res.settings.orders_topic, effects)
    for effect in effects:  # a refund took a package off its card
        await publish(res, effect)
    if outcome not in ("applied", "repeat"):
        log.warning("notification %s: %s", verified.notify_id, outcome)
    return Response(ACK_BODY, media_type=ACK_MEDIA_TYPE)
