"""Card purchases (G2-01, G1-17, `card_purchase` in `domain.orders.machines`): physical cards of
a product at its `card_price_fen`, bought by an end user (one) or an enterprise (bulk).

Money (G2-22, G2-24 by analogy): the payment goes into the order's escrow — from the channel
(`online`, on its notification) or from the enterprise's wallet at once (`wallet`, 409
`insufficient_balance` leaves nothing) — and completion moves the escrow to the platform's
revenue. Completion is the platform's allocation of `quantity` unopened, unsold stock cards of
the product (the stock enterprise's, `CARDPULSE_CARD_STOCK_ENTERPRISE`), which move to the
buyer's enterprise, not opened (G1-17: registered under it); 409 `insufficient_stock` when the
stock holds fewer, at creation and at completion.

Listeners (`ON_CHANGE`) run in the transaction of each state a purchase reaches: the delivery
workflow starts a project for a paid purchase and cancels it for a refunded one (I-63, I-54,
store/delivery/card_orders.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from core.clock import now
from core.money import Fen
from domain.ledger import (
    PAYMENT_CHANNEL,
    REVENUE,
    FeeType,
    Transfer,
    enterprise_wallet,
    order_escrow,
)
from domain.orders.errors import CardsNotSold, InsufficientStock
from store import ledger
from store.agents import Actor
from store.db import Conn
from store.orders import (
    PAYMENT_TIMEOUT,
    SYSTEM,
    NewOrder,
    Order,
    insert,
    named,
    replay,
    transition,
)
from store.packages import get_package

_STOCK = """
SELECT count(*) FROM cards
WHERE enterprise_id = %s AND product_id = %s AND NOT opened AND sold_by_order IS NULL
"""
_ALLOCATE = """
SELECT iccid FROM cards
WHERE enterprise_id = %s AND product_id = %s AND NOT opened AND sold_by_order IS NULL
ORDER BY iccid LIMIT %s FOR UPDATE SKIP LOCKED
"""
_SELL = """
UPDATE cards SET sold_by_order = %(order)s,
    enterprise_id = coalesce(%(buyer)s::text, enterprise_id), pool_id = NULL
WHERE iccid = ANY(%(iccids)s)
"""
_ALLOCATED = "UPDATE orders SET allocated = %s WHERE order_id = %s"
_CHOSEN = """
SELECT iccid FROM cards
WHERE iccid = ANY(%s) AND enterprise_id = %s AND product_id = %s AND NOT opened
  AND sold_by_order IS NULL
ORDER BY iccid FOR UPDATE
"""

# Called with the purchase as it is after each change, in the change's transaction.
ON_CHANGE: list[Callable[[Conn, Order], Awaitable[None]]] = []


async def _changed(conn: Conn, order: Order) -> None:
    for listener in ON_CHANGE:
        await listener(conn, order)


async def in_stock(conn: Conn, stock: str, product_id: str) -> int:
    """How many cards of the product the stock holds (unopened, unsold)."""
    row = await (await conn.execute(_STOCK, (stock, product_id))).fetchone()
    return int(row[0]) if row else 0


def _pay(order_id: str, source: str, amount: Fen) -> Transfer:
    return Transfer(f"{order_id}:pay", source, order_escrow(order_id), amount, FeeType.RETAIL,
                    order_id=order_id, order_line="1")


async def create_card_purchase(conn: Conn, new: NewOrder, *, product_id: str, quantity: int,
                               method: str, enterprise_id: str | None, agent_id: str | None,
                               stock: str, topic: str) -> tuple[Order, bool]:
    """A card purchase (the second value: made now, False for a replay): `online` waits for
    the channel (`pending_payment`); `enterprise_wallet` debits the enterprise's wallet at
    once (`paid`)."""
    async with conn.transaction():
        first = await replay(conn, new)
        if first is not None:
            return first, False
        product = await get_package(conn, product_id)
        if product.card_price_fen is None or not product.listed:
            raise CardsNotSold()
        if await in_stock(conn, stock, product_id) < quantity:
            raise InsufficientStock()
        amount = Fen(quantity * product.card_price_fen)
        from_wallet = method == "enterprise_wallet"
        wallet = enterprise_wallet(enterprise_id) if from_wallet and enterprise_id else None
        if from_wallet and wallet is None:
            raise CardsNotSold("only an enterprise pays cards from its wallet")
        order = await insert(
            conn, new, "paid" if from_wallet else "pending_payment", topic,
            event="create_wallet" if from_wallet else "create_pay_later", by="buyer",
            method="wallet" if from_wallet else "online", agent_id=agent_id,
            enterprise_id=enterprise_id, wallet=wallet, package_id=product_id,
            amount_fen=amount, quantity=quantity,
            pay_due_at=None if from_wallet else now() + PAYMENT_TIMEOUT)
        if wallet is not None:
            await ledger.transfer(conn, _pay(order.order_id, wallet, amount))
        await _changed(conn, order)
    return order, True


async def pay(conn: Conn, order: Order, actor: Actor, topic: str,
              payment_id: str | None = None) -> Order:
    """`pending_payment → paid` on the channel's notification: its money into the escrow."""
    move = _pay(order.order_id, PAYMENT_CHANNEL, Fen(order.amount_fen))
    async with conn.transaction():
        paid = await transition(conn, order, "payment_confirmed", "channel", actor, topic,
                                [move], payment_id=payment_id)
        await _changed(conn, paid)
    return paid


async def complete(conn: Conn, order: Order, actor: Actor, stock: str, topic: str,
                   iccids: list[str] | None = None) -> Order:
    """`paid → completed`: allocate `quantity` stock cards of the product (409
    `insufficient_stock` when fewer are left) — or exactly `iccids`, which must all be such
    cards (409 `insufficient_stock` otherwise) —, move them to the buyer's enterprise, and
    the escrow to the platform's revenue — in one transaction."""
    product_id, quantity = named(order.package_id), order.quantity or 1
    async with conn.transaction():
        if iccids is None:
            rows = await (await conn.execute(_ALLOCATE, (stock, product_id, quantity))
                          ).fetchall()
        else:
            rows = await (await conn.execute(_CHOSEN, (iccids, stock, product_id))).fetchall()
        chosen = [str(r[0]) for r in rows]
        if len(chosen) < quantity or (iccids is not None and len(chosen) != len(iccids)):
            raise InsufficientStock()
        iccids = chosen
        await conn.execute(_SELL, {"order": order.order_id, "buyer": order.enterprise_id,
                                   "iccids": iccids})
        move = Transfer(f"{order.order_id}:settle:0", order_escrow(order.order_id), REVENUE,
                        Fen(order.amount_fen), FeeType.RETAIL, order_id=order.order_id,
                        order_line="1")
        done = await transition(conn, order, "cards_allocated", "operator", actor, topic,
                                [move], allocated=iccids)
        await conn.execute(_ALLOCATED, (iccids, order.order_id))
    return replace(done, allocated=iccids)


async def start_refund(conn: Conn, order: Order, actor: Actor, topic: str, reason: str
                       ) -> Order:
    """A full refund of a paid purchase not yet delivered (`paid → refunding`); the money
    goes back when `finish_refund` runs: at once for a wallet, on the channel's refund
    notification online. A completed purchase (cards delivered) is not refunded here."""
    async with conn.transaction():
        refunding = await transition(conn, order, "refund_approved", "operator", actor, topic,
                                     reason=reason)
        await _changed(conn, refunding)
    return refunding


async def finish_refund(conn: Conn, order: Order, topic: str) -> Order:
    """`refunding → refunded`: the escrow pays the payer back (the enterprise's wallet or
    the channel)."""
    payer = named(order.wallet) if order.method == "wallet" else PAYMENT_CHANNEL
    move = Transfer(f"{order.order_id}:refund", order_escrow(order.order_id), payer,
                    Fen(order.amount_fen), FeeType.REFUND, order_id=order.order_id,
                    order_line="1")
    return await transition(conn, order, "refund_paid", "system", SYSTEM, topic, [move])
