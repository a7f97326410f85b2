"""Products that need a delivery and their providers (I-24 … I-28, I-09,
SM-I-PRODUCT-PROVIDERS).

A product belongs to its vendor and is bound to a published template (its own or a public one).
Its providers are saved as a whole list; a vendor may use itself and the providers platform
operations linked to it (`dl_vendor_providers`). A provider's current load of the product is
counted, never stored: its in-progress and paused projects of the product (I-34).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from domain.delivery.products import ProviderRow
from domain.delivery.templates import claim_scheme
from domain.refusals import Refusal
from store.db import Conn
from store.delivery import assign, templates
from store.errors import AlreadyExists, NotFound

# I-09: the role that claims orders in a department.
CLAIMER = "客户经理"


class TemplateNotPublished(Refusal):
    """I-22, I-24: only a published template is bound to a product."""

    code = "template_not_published"
    message_zh = "只能绑定已发布的模板"  # (proposed)
    message_en = "Only a published template can be bound to a product"


@dataclass(frozen=True)
class Product:
    product_id: str
    product_no: str
    vendor_id: str
    vendor_name: str
    name: str
    version: str
    kind: str
    template_id: str | None
    template_name: str | None
    providers: int
    created_at: datetime


@dataclass(frozen=True)
class ProductProvider:
    provider_id: str
    name: str
    weight: int
    max_load: int
    current_load: int


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str


@dataclass(frozen=True)
class DepartmentWarning:
    """I-09: a department of a provider where nobody has the claiming role."""

    provider_id: str
    department_id: str
    department_name: str


_INSERT = """
INSERT INTO dl_products (product_id, product_no, vendor_id, name, version, kind)
VALUES (%s, %s, %s, %s, %s, %s)
"""
_SELECT = """
SELECT p.product_id, p.product_no, p.vendor_id, v.name AS vendor_name, p.name, p.version,
       p.kind, p.template_id, t.name AS template_name,
       (SELECT count(*) FROM dl_product_providers pp
        WHERE pp.product_id = p.product_id)::int AS providers, p.created_at
FROM dl_products p JOIN dl_tenants v ON v.tenant_id = p.vendor_id
LEFT JOIN dl_templates t ON t.template_id = p.template_id
"""
_GET = _SELECT + "WHERE p.product_id = %s"
_LIST = _SELECT + """
WHERE (%(vendor)s::text IS NULL OR p.vendor_id = %(vendor)s)
  AND (%(no)s::text IS NULL OR p.product_no ILIKE '%%' || %(no)s || '%%')
  AND (%(name)s::text IS NULL OR p.name ILIKE '%%' || %(name)s || '%%')
  AND (%(template)s::text IS NULL OR t.name ILIKE '%%' || %(template)s || '%%')
ORDER BY p.created_at DESC, p.product_id
"""
_BIND = "UPDATE dl_products SET template_id = %s WHERE product_id = %s"
_PROVIDERS = """
SELECT pp.provider_id, t.name, pp.weight, pp.max_load,
       (SELECT count(*) FROM dl_projects j
        WHERE j.product_id = pp.product_id AND j.provider_id = pp.provider_id
          AND j.status IN ('in_progress', 'paused'))::int AS current_load
FROM dl_product_providers pp JOIN dl_tenants t ON t.tenant_id = pp.provider_id
WHERE pp.product_id = %s ORDER BY pp.weight DESC, pp.provider_id
"""
_ALLOWED = """
SELECT tenant_id, name FROM dl_tenants WHERE tenant_id = %(vendor)s
UNION ALL
SELECT t.tenant_id, t.name FROM dl_vendor_providers l
JOIN dl_tenants t ON t.tenant_id = l.provider_id WHERE l.vendor_id = %(vendor)s
"""
_LOCK = "SELECT product_id FROM dl_products WHERE product_id = %s FOR UPDATE"
_CLEAR = "DELETE FROM dl_product_providers WHERE product_id = %s"
_ADD = """
INSERT INTO dl_product_providers (product_id, provider_id, weight, max_load)
VALUES (%s, %s, %s, %s)
"""
_NO_CLAIMER = """
SELECT d.provider_id, d.department_id, d.name AS department_name
FROM dl_departments d
WHERE d.provider_id = ANY(%s)
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.department_id = d.department_id
                  AND %s = ANY(u.business_roles))
ORDER BY d.provider_id, d.name
"""


async def get_product(conn: Conn, product_id: str) -> Product:
    async with conn.cursor(row_factory=class_row(Product)) as cur:
        await cur.execute(_GET, (product_id,))
        found = await cur.fetchone()
    if found is None:
        raise NotFound(f"product {product_id!r}")
    return found


async def create_product(conn: Conn, *, product_no: str, vendor_id: str, name: str,
                         version: str = "", kind: str = "service") -> Product:
    """A product of `vendor_id`, not yet bound to a template, without providers (I-25)."""
    product_id = "prd_" + secrets.token_hex(6)
    try:
        await conn.execute(_INSERT, (product_id, product_no, vendor_id, name, version, kind))
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(f"product no. {product_no!r}") from None
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound(f"tenant {vendor_id!r}") from None
    return await get_product(conn, product_id)


async def list_products(conn: Conn, vendor_id: str | None, *, product_no: str | None = None,
                        name: str | None = None, template_name: str | None = None
                        ) -> list[Product]:
    """The product centre (I-25): a vendor's products (None: every vendor's), filtered."""
    async with conn.cursor(row_factory=class_row(Product)) as cur:
        await cur.execute(_LIST, {"vendor": vendor_id, "no": product_no, "name": name,
                                  "template": template_name})
        return await cur.fetchall()


async def bind_template(conn: Conn, product_id: str, template_id: str) -> Product:
    """Bind a published template of the product's vendor, or a public one (I-10, I-24)."""
    product = await get_product(conn, product_id)
    template = await templates.get_template(conn, template_id)
    if template.vendor_id not in (None, product.vendor_id):
        raise NotFound(f"template {template_id!r}")
    if template.status != "published":
        raise TemplateNotPublished()
    await conn.execute(_BIND, (template_id, product_id))
    return await get_product(conn, product_id)


async def providers(conn: Conn, product_id: str) -> list[ProductProvider]:
    """The product's providers with weight, max load and current load (I-26, I-28, I-34)."""
    async with conn.cursor(row_factory=class_row(ProductProvider)) as cur:
        await cur.execute(_PROVIDERS, (product_id,))
        return await cur.fetchall()


async def allowed_providers(conn: Conn, vendor_id: str) -> list[Tenant]:
    """The providers a vendor may configure: itself and its linked ones (I-02, I-03)."""
    async with conn.cursor(row_factory=class_row(Tenant)) as cur:
        await cur.execute(_ALLOWED, {"vendor": vendor_id})
        return await cur.fetchall()


async def set_providers(conn: Conn, product_id: str, rows: Sequence[ProviderRow]
                        ) -> list[ProductProvider]:
    """Replace the product's provider list (SM-I-PRODUCT-PROVIDERS)."""
    async with conn.transaction():
        await conn.execute(_LOCK, (product_id,))
        await conn.execute(_CLEAR, (product_id,))
        async with conn.cursor() as cur:
            await cur.executemany(_ADD, [(product_id, r.provider_id, r.weight, r.max_load)
                                         for r in rows])
    return await providers(conn, product_id)


async def on_providers_changed(conn: Conn, product_id: str, rng: random.Random) -> int:
    """After a product's providers change, the provider queue is polled again for it
    (SM-I-PRODUCT-PROVIDERS, I-35); returns how many queued projects were assigned."""
    return await assign.drain_queue(conn, rng=rng, kind="provider", product_id=product_id)


async def department_warnings(conn: Conn, product: Product) -> list[DepartmentWarning]:
    """I-09: with a claim-scheme template, the departments of the product's providers that
    have no 客户经理 to claim orders (a warning, not a refusal)."""
    if product.template_id is None:
        return []
    template = await templates.get_template(conn, product.template_id)
    if not claim_scheme(template.nodes):
        return []
    ids = [p.provider_id for p in await providers(conn, product.product_id)]
    async with conn.cursor(row_factory=class_row(DepartmentWarning)) as cur:
        await cur.execute(_NO_CLAIMER, (ids, CLAIMER))
        return await cur.fetchall()
