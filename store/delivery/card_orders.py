"""Card orders delivered through the workflow (specs/business.md I-63, G2-01, G1-17).

* **Start.** A `card_purchase` order becomes a project when it is paid (the purchase's 待发货:
  `paid` is the state in which its cards wait to be delivered) and its package is linked to a
  `card_order` product bound to a template (`dl_products.package_id`). The hook runs in the
  transaction of the order's change (`store.card_purchases.ON_CHANGE`): the project commits
  with the payment, no event can be lost between them, and `start_project` is idempotent by
  order no. (= the order id). A delivery that cannot start (a misconfigured product) is
  logged in a rolled-back savepoint and never refuses the payment; `link_package` starts the
  purchases waiting. A refund of a paid purchase (`refunding`) cancels its project (I-54).
* **ship_cards** (a general node's effect): the operator confirms with `{"iccids": [...],
  "logistics_no": "..."}` (no ICCIDs: the platform allocates them from stock). The cards are
  allocated and registered under the buyer through the card purchase's own completion
  (`store.card_purchases.complete`: stock cards of the product, moved to the buyer's
  enterprise, escrow → revenue), which moves the order `paid → completed`. The purchase's
  machine has no 已发货 state: `completed` (cards allocated) is where it stands once shipped;
  the shipment (ICCIDs, logistics no., time) is recorded here (`dl_card_orders`).
* **activate_cards**: entering the node asks the controls to open every card of the order
  (`store.cards.activate_many`, the G2-17 `activate` path; the reconciler opens them); the
  node completes by 系统 once every card reports `network_status = active`
  (`confirm_activated`, a worker sweep), or when its operator confirms with
  `{"failures": [{"iccid", "reason"}]}` naming each card not active yet.
* **Receipt.** The complete-project node is the customer's receipt: the project's
  completion records `received_at` (G4 已完成; the order itself completed at shipment).

`install` gives the process its topics, stock enterprise and random source; importing this
module registers its hooks (the API and worker composition roots import it).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.clock import now
from domain.delivery import card_orders as rules
from domain.delivery.assign import rng_from_settings
from domain.delivery.machines import SYSTEM, Actor
from domain.refusals import Refusal
from store import card_purchases
from store.agents import Actor as AuditActor
from store.cards import activate_many
from store.db import Conn
from store.delivery import events, project_admin, project_rows, projects
from store.orders import Order, get_order
from store.packages import get_package

log = logging.getLogger(__name__)
SWEEP_BATCH = 100


@dataclass
class _Config:
    orders_topic: str | None = None
    stock: str | None = None
    rng: random.Random | None = None


_CONFIG = _Config()


def install(*, orders_topic: str, delivery_topic: str, stock: str,
            rng: random.Random) -> None:
    """The process's orders and delivery topics, its card stock enterprise
    (`CARDPULSE_CARD_STOCK_ENTERPRISE`) and its random source (assignment at project start)."""
    _CONFIG.orders_topic, _CONFIG.stock, _CONFIG.rng = orders_topic, stock, rng
    events.install(delivery_topic)


def _rng() -> random.Random:
    if _CONFIG.rng is None:
        _CONFIG.rng = rng_from_settings(None)
    return _CONFIG.rng


def _installed() -> tuple[str, str]:
    if _CONFIG.orders_topic is None or _CONFIG.stock is None:
        raise RuntimeError("store.delivery.card_orders.install was not called")
    return _CONFIG.orders_topic, _CONFIG.stock


@dataclass(frozen=True)
class CardOrder:
    """What the delivery did to a card order (`dl_card_orders`)."""

    project_id: str
    order_id: str
    iccids: list[str]
    logistics_no: str | None
    shipped_at: datetime | None
    shipped_by: str | None
    activation_run_id: int | None
    activation_asked_at: datetime | None
    activated_at: datetime | None
    failures: list[dict[str, str]]
    received_at: datetime | None


_PRODUCT = """
SELECT product_id FROM dl_products
WHERE package_id = %s AND kind = 'card_order' AND template_id IS NOT NULL
"""
_CUSTOMER = "SELECT user_id, coalesce(display_name, login) FROM users WHERE login = %s"
_RECORD = """
INSERT INTO dl_card_orders (project_id, order_id) VALUES (%s, %s)
ON CONFLICT (project_id) DO NOTHING
"""
_GET = "SELECT * FROM dl_card_orders WHERE project_id = %s"
_LINK = """
UPDATE dl_products SET package_id = %s WHERE product_id = %s AND kind = 'card_order'
RETURNING product_id
"""
_WAITING = """
SELECT * FROM orders o
WHERE o.kind = 'card_purchase' AND o.state = 'paid' AND o.package_id = %s
  AND NOT EXISTS (SELECT 1 FROM dl_projects j WHERE j.order_no = o.order_id)
ORDER BY o.paid_at, o.order_id
"""
_BY_ORDER = """
SELECT c.project_id FROM dl_card_orders c JOIN dl_projects p USING (project_id)
WHERE c.order_id = %s AND p.status IN ('in_progress', 'paused')
"""
_IN_STOCK = """
SELECT count(*) FROM cards
WHERE iccid = ANY(%s) AND enterprise_id = %s AND product_id = %s AND NOT opened
  AND sold_by_order IS NULL
"""
_SHIPPED = """
UPDATE dl_card_orders SET iccids = %s, logistics_no = %s, shipped_at = %s, shipped_by = %s
WHERE project_id = %s
"""
_ASKED = """
UPDATE dl_card_orders SET activation_run_id = %s, activation_asked_at = %s,
    activated_at = NULL, failures = '[]'
WHERE project_id = %s
"""
_ACTIVE = "SELECT iccid FROM cards WHERE iccid = ANY(%s) AND network_status = 'active'"
_ACTIVATED = """
UPDATE dl_card_orders SET activated_at = %s, failures = %s WHERE project_id = %s
"""
_RECEIVED = """
UPDATE dl_card_orders SET received_at = %s WHERE project_id = %s AND received_at IS NULL
"""
# Activation nodes whose every card reports active: confirmed by 系统 (the status feed sets
# cards.network_status; a card not registered blocks, as it cannot be active).
_DUE = """
SELECT c.project_id, c.activation_run_id
FROM dl_card_orders c
JOIN dl_node_runs r ON r.run_id = c.activation_run_id AND r.state = 'active'
JOIN dl_projects p ON p.project_id = c.project_id AND p.status = 'in_progress'
WHERE c.activation_run_id IS NOT NULL AND c.activated_at IS NULL
  AND (SELECT count(*) FROM cards k WHERE k.iccid = ANY(c.iccids)
         AND k.network_status = 'active') = cardinality(c.iccids)
ORDER BY c.activation_asked_at, c.project_id
LIMIT %s
"""


@dataclass(frozen=True)
class Parties:
    """Who may see a card order: the project's vendor, provider and customer."""

    vendor_id: str
    provider_id: str | None
    customer_user_id: str | None


_PARTIES = """
SELECT vendor_id, provider_id, customer_user_id FROM dl_projects WHERE project_id = %s
"""
_PRODUCT_VENDOR = "SELECT vendor_id FROM dl_products WHERE product_id = %s"


async def parties(conn: Conn, project_id: str) -> Parties | None:
    """The project's parties (None: no such project)."""
    async with conn.cursor(row_factory=class_row(Parties)) as cur:
        await cur.execute(_PARTIES, (project_id,))
        return await cur.fetchone()


async def product_vendor(conn: Conn, product_id: str) -> str | None:
    """The vendor of a delivery product (None: no such product)."""
    row = await (await conn.execute(_PRODUCT_VENDOR, (product_id,))).fetchone()
    return str(row[0]) if row else None


async def get(conn: Conn, project_id: str) -> CardOrder | None:
    """The card order of a project (None: the project is not a card order's)."""
    async with conn.cursor(row_factory=class_row(CardOrder)) as cur:
        await cur.execute(_GET, (project_id,))
        return await cur.fetchone()


async def _one(conn: Conn, project_id: str) -> CardOrder:
    found = await get(conn, project_id)
    if found is None:
        raise Refusal(code="not_a_card_order", message_zh="该项目不是购卡订单的交付项目",
                      message_en="The project does not deliver a card order")
    return found


async def product_of(conn: Conn, package_id: str | None) -> str | None:
    """The `card_order` product bound to a template that delivers the package's cards."""
    if package_id is None:
        return None
    row = await (await conn.execute(_PRODUCT, (package_id,))).fetchone()
    return str(row[0]) if row else None


async def _customer(conn: Conn, order: Order) -> tuple[str | None, str]:
    """The buyer as the project's customer: the signed-in user who bought, or else the
    buying enterprise (or key) by name only."""
    who = order.created_by
    if who.startswith("user:"):
        row = await (await conn.execute(_CUSTOMER, (who.removeprefix("user:"),))).fetchone()
        if row is not None:
            return str(row[0]), str(row[1])
    return None, order.enterprise_id or who


async def start_for_order(conn: Conn, order: Order, *, rng: random.Random | None = None
                          ) -> str | None:
    """The project of a paid card purchase whose product delivers through a template (its
    id), or None when the package's cards are not delivered that way. Idempotent."""
    if order.kind != "card_purchase" or order.state != "paid":
        return None
    product_id = await product_of(conn, order.package_id)
    if product_id is None:
        return None
    user_id, name = await _customer(conn, order)
    project_id = await projects.start_project(
        conn, order_no=order.order_id, product_id=product_id, customer_name=name,
        customer_user_id=user_id, channel="card_purchase", business_no=order.package_id or "",
        order_id=order.order_id, rng=rng or _rng())
    await conn.execute(_RECORD, (project_id, order.order_id))
    return project_id


async def on_order_change(conn: Conn, order: Order) -> None:
    """`store.card_purchases.ON_CHANGE`: paid → start the project; refunding → cancel it.
    Either runs in a savepoint: a delivery that cannot start (a product misconfigured) never
    refuses the payment or the refund; it is logged, and linking the product's package again
    (`link_package`) starts what waits."""
    try:
        async with conn.transaction():
            if order.state == "paid":
                await start_for_order(conn, order)
            elif order.state == "refunding":
                row = await (await conn.execute(_BY_ORDER, (order.order_id,))).fetchone()
                if row is not None:
                    await project_admin.cancel(conn, str(row[0]), SYSTEM, "订单退款")
    except psycopg.OperationalError:
        raise
    except Exception:
        log.exception("delivery of card order %s not updated (state %s)", order.order_id,
                      order.state)


async def link_package(conn: Conn, product_id: str, package_id: str | None, *,
                       rng: random.Random | None = None) -> list[str]:
    """Make a `card_order` product deliver the package's card purchases (None: none); the
    purchases of the package already paid and waiting start their projects now (when the
    product has a template). Returns the projects started."""
    if package_id is not None:
        await get_package(conn, package_id)  # NotFound: no such package
    async with conn.transaction():
        try:
            row = await (await conn.execute(_LINK, (package_id, product_id))).fetchone()
        except psycopg.errors.UniqueViolation:
            raise Refusal(code="package_already_linked",
                          message_zh="该套餐已关联其他购卡类商品",
                          message_en="The package is linked to another card-order product"
                          ) from None
        if row is None:
            raise Refusal(code="not_a_card_order_product",
                          message_zh="只有购卡类商品可以关联套餐",
                          message_en="Only a card-order product can be linked to a package")
        started = []
        if package_id is not None:
            async with conn.cursor(row_factory=class_row(Order)) as cur:
                await cur.execute(_WAITING, (package_id,))
                waiting = await cur.fetchall()
            for order in waiting:
                made = await start_for_order(conn, order, rng=rng)
                if made is not None:
                    started.append(made)
    return started


# ---- effects ------------------------------------------------------------------------------


async def ship_confirm(conn: Conn, project_id: str, run_id: int,
                       detail: Mapping[str, Any], who: str = "delivery") -> dict[str, Any]:
    """The ship node confirmed with its detail: the cards allocated and registered under the
    buyer (the order `paid → completed`), the shipment recorded. A node entered again after
    a rejection may confirm again: the cards stay those shipped, the logistics no. is
    updated. Returns what the node's run records."""
    card = await _one(conn, project_id)
    order = await get_order(conn, card.order_id)
    shipment = rules.shipment(detail, order.quantity or 1)
    if card.shipped_at is not None or (order.state == "completed" and order.allocated):
        # shipped before (a node entered again), or the platform completed the purchase
        # outside the flow: the cards are those allocated, only the logistics no. is new
        iccids = card.iccids if card.shipped_at is not None else list(order.allocated or [])
        if shipment.iccids is not None and sorted(shipment.iccids) != sorted(iccids):
            raise rules.IccidsInvalid()
    else:
        orders_topic, stock = _installed()
        if order.state != "paid":
            raise Refusal(code="order_not_awaiting_shipment", message_zh="订单不在待发货状态",
                          message_en="The order is not awaiting shipment")
        if shipment.iccids is not None:
            row = await (await conn.execute(_IN_STOCK, (shipment.iccids, stock,
                                                        order.package_id))).fetchone()
            if row is None or int(row[0]) != len(shipment.iccids):
                raise rules.IccidsNotInStock()
        done = await card_purchases.complete(
            conn, order, AuditActor(who, "delivery"), stock, orders_topic,
            iccids=shipment.iccids)
        iccids = done.allocated or []
    await conn.execute(_SHIPPED, (iccids, shipment.logistics_no, now(), who, project_id))
    return {"iccids": iccids, "logistics_no": shipment.logistics_no, "run_id": run_id}


async def activate_entered(conn: Conn, project_id: str, run_id: int) -> list[str]:
    """The activate node entered: every card of the order asked to open (idempotent for a
    card already asked or open). The cards are those shipped, or those the order was
    completed with outside the flow; none → 409 `cards_not_shipped`."""
    card = await _one(conn, project_id)
    iccids = card.iccids
    if not iccids:
        order = await get_order(conn, card.order_id)
        iccids = list(order.allocated or [])
        if iccids:
            await conn.execute(
                "UPDATE dl_card_orders SET iccids = %s WHERE project_id = %s",
                (iccids, project_id))
    if not iccids:
        raise rules.NotShipped()
    await activate_many(conn, iccids)  # the card registry's own activation (G2-17)
    await conn.execute(_ASKED, (run_id, now(), project_id))
    return iccids


async def activate_confirm(conn: Conn, project_id: str, run_id: int,
                           detail: Mapping[str, Any]) -> dict[str, Any]:
    """The activate node confirmed (by its operator, or by 系统 once all cards are active):
    every card active or listed in `failures` with a reason (409 `cards_not_active`
    otherwise). Returns what the node's run records."""
    card = await _one(conn, project_id)
    rows = await (await conn.execute(_ACTIVE, (card.iccids,))).fetchall()
    active = {str(r[0]) for r in rows}
    failed = rules.failures(detail, card.iccids)
    if not rules.activation_done(card.iccids, active, failed):
        raise rules.CardsNotActive()
    listed = [f.as_json() for f in failed]
    await conn.execute(_ACTIVATED, (now(), Jsonb(listed), project_id))
    return {"active": [i for i in card.iccids if i in active], "failures": listed,
            "run_id": run_id}


async def confirm_activated(conn: Conn, *, rng: random.Random | None = None,
                            limit: int = SWEEP_BATCH) -> int:
    """The status-feed sweep: each activate node whose every card reports active is
    confirmed by 系统, each in its own savepoint (one that fails waits for the next round).
    Returns how many were confirmed."""
    rows = await (await conn.execute(_DUE, (limit,))).fetchall()
    done = 0
    for project_id, run_id in rows:
        try:
            async with conn.transaction():
                recorded = await activate_confirm(conn, str(project_id), int(run_id), {})
                await projects.complete_effect(conn, str(project_id), int(run_id), SYSTEM,
                                               recorded, rng=rng or _rng())
            done += 1
        except Refusal as refused:
            log.info("activation of project %s not confirmed: %s", project_id, refused.code)
        except psycopg.OperationalError:
            raise
        except Exception:  # one broken project must not hold up the others
            log.exception("activation of project %s not confirmed; next round retries",
                          project_id)
    return done


async def _ship_entered(conn: Conn, project_id: str, run: project_rows.Run) -> None:
    """Nothing to do until the operator ships (the order waits in `paid`)."""


async def _ship_check(conn: Conn, project_id: str, run: project_rows.Run,
                      detail: dict[str, Any], actor: Actor) -> None:
    """The shipment is audited under the person who confirms it (a user id), else 系统."""
    await ship_confirm(conn, project_id, run.run_id, detail, who=actor.user_id or "delivery")


async def _activate_entered(conn: Conn, project_id: str, run: project_rows.Run) -> None:
    await activate_entered(conn, project_id, run.run_id)


async def _activate_check(conn: Conn, project_id: str, run: project_rows.Run,
                          detail: dict[str, Any], actor: Actor) -> None:
    await activate_confirm(conn, project_id, run.run_id, detail)


async def _received(conn: Conn, project_id: str, detail: Mapping[str, Any]) -> None:
    """The project completed: the customer's receipt of a card order (G4 已完成)."""
    await conn.execute(_RECEIVED, (now(), project_id))


def register() -> None:
    """Hook card orders into the card purchases and the engine (idempotent; done at import)."""
    if on_order_change not in card_purchases.ON_CHANGE:
        card_purchases.ON_CHANGE.append(on_order_change)
    projects.EFFECTS["ship_cards"] = projects.EffectHooks(_ship_entered, _ship_check)
    projects.EFFECTS["activate_cards"] = projects.EffectHooks(_activate_entered,
                                                              _activate_check)
    events.listen("project_completed", _received)


register()
