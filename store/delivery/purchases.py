"""A customer buys a service product (I-01, I-53): the purchase gets a market order number
(MSP…) and its delivery project starts at once, as a paid 云市场 order would start it.

Card orders are bought through the card purchase (G2-01) and start their projects themselves
(store/delivery/card_orders.py); buying one here is refused. A service's price and payment
are outside the delivery workflow (the seed's orders arrive paid from the market).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

from psycopg.rows import tuple_row

from domain.delivery.machines import NotForSale
from store.db import Conn
from store.delivery import projects
from store.errors import NotFound

_PRODUCT = "SELECT kind FROM dl_products WHERE product_id = %s"
_FOR_SALE = """
SELECT p.product_id, p.name, p.version, v.name FROM dl_products p
JOIN dl_templates t ON t.template_id = p.template_id AND t.status = 'published'
JOIN dl_tenants v ON v.tenant_id = p.vendor_id
WHERE p.kind = 'service' ORDER BY v.name, p.name, p.product_id
"""
_CUSTOMER = """
SELECT coalesce(display_name, login), to_char(cp_now() AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
FROM users WHERE user_id = %s
"""


@dataclass(frozen=True)
class ForSale:
    product_id: str
    name: str
    version: str
    vendor_name: str


async def for_sale(conn: Conn) -> list[ForSale]:
    """The service products a customer can buy: bound to a published template."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_FOR_SALE)
        return [ForSale(*row) for row in await cur.fetchall()]


async def buy(conn: Conn, *, product_id: str, customer_user_id: str, business_no: str = "",
              rng: random.Random) -> str:
    """The project of a new purchase of `product_id` by the customer; its order number is
    MSP + the Shanghai date + 10 random hex digits."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_PRODUCT, (product_id,))
        product = await cur.fetchone()
        if product is None:
            raise NotFound(f"product {product_id!r}")
        if product[0] != "service":
            raise NotForSale
        await cur.execute(_CUSTOMER, (customer_user_id,))
        customer = await cur.fetchone()
    if customer is None:
        raise NotFound(f"user {customer_user_id!r}")
    name, day = customer
    order_no = f"MSP{day}{secrets.token_hex(5).upper()}"
    return await projects.start_project(
        conn, order_no=order_no, product_id=product_id, customer_name=str(name),
        customer_user_id=customer_user_id, channel="云市场", business_no=business_no, rng=rng)
