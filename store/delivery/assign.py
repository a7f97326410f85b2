"""Assignment under locks, and the queue (I-29 … I-37, SM-I-QUEUE).

Loads are counted, never kept: a provider's load is its live projects of the product, a staff
member's the live holds. To keep concurrent assignments within a max load, the candidates'
rows are locked FOR UPDATE in a fixed order (a product's `dl_product_providers` rows by
provider, then `users` rows by user id) before the loads are counted; the pick is
`domain.delivery.assign`. The caller's transaction holds the locks until it commits the
assignment. Lock order everywhere: the project row, the product's providers, the users.

`drain_queue` retries the queue oldest first (I-37), each entry in its own transaction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row, tuple_row

from domain.delivery import machines
from domain.delivery.assign import ProviderSlot, StaffSlot, pick_provider, pick_staff
from domain.delivery.machines import QueueKind
from store.db import Conn
from store.errors import NotFound

_PROVIDERS = """
SELECT provider_id, weight, max_load, 0 AS load FROM dl_product_providers
WHERE product_id = %s ORDER BY provider_id FOR UPDATE
"""
_PROVIDER_LOADS = """
SELECT provider_id, count(*) FROM dl_projects
WHERE product_id = %s AND provider_id IS NOT NULL AND status IN ('in_progress', 'paused')
  AND project_id <> %s
GROUP BY provider_id
"""
_STAFF = """
SELECT user_id, max_load, 0 AS load, accepting FROM users
WHERE dl_tenant_id = %s AND role IN ('provider_admin', 'provider_staff', 'vendor_admin')
  AND %s = ANY(business_roles) AND accepting AND max_load > 0
  AND (NOT %s OR department_id IS NOT DISTINCT FROM %s)
ORDER BY user_id FOR UPDATE
"""
_LOCK_USER = "SELECT max_load FROM users WHERE user_id = %s FOR UPDATE"
_STAFF_LOADS = """
SELECT user_id, count(*) FROM dl_holds WHERE released_at IS NULL AND user_id = ANY(%s)
GROUP BY user_id
"""
_HOLD = """
INSERT INTO dl_holds (project_id, epoch, user_id, role, node_key) VALUES (%s, %s, %s, %s, %s)
"""
_PRODUCT_VENDOR = "SELECT vendor_id FROM dl_products WHERE product_id = %s"
_ENQUEUE = """
INSERT INTO dl_queue (project_id, kind, node_key, provider_id, reason) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (project_id) DO UPDATE SET kind = EXCLUDED.kind, node_key = EXCLUDED.node_key,
    provider_id = EXCLUDED.provider_id, reason = EXCLUDED.reason, last_attempt_at = cp_now()
"""
_DEQUEUE = "DELETE FROM dl_queue WHERE project_id = %s"
_TOUCH = "UPDATE dl_queue SET last_attempt_at = cp_now(), reason = %s WHERE project_id = %s"
_ENTRIES = """
SELECT q.project_id, q.kind, q.node_key, q.provider_id, q.reason, q.queued_at,
       q.last_attempt_at, p.product_id, p.order_no
FROM dl_queue q JOIN dl_projects p USING (project_id)
WHERE (%(kind)s::text IS NULL OR q.kind = %(kind)s)
  AND (%(provider)s::text IS NULL OR q.provider_id = %(provider)s)
  AND (%(product)s::text IS NULL OR p.product_id = %(product)s)
  AND (%(vendor)s::text IS NULL OR p.vendor_id = %(vendor)s)
ORDER BY q.queued_at, q.project_id
"""


@dataclass(frozen=True)
class QueueEntry:
    project_id: str
    kind: str
    node_key: str
    provider_id: str | None
    reason: str
    queued_at: datetime
    last_attempt_at: datetime
    product_id: str
    order_no: str


async def provider_slots(conn: Conn, product_id: str, project_id: str = "") -> list[ProviderSlot]:
    """The product's providers, locked, with their live loads (not counting `project_id`)."""
    async with conn.cursor(row_factory=class_row(ProviderSlot)) as cur:
        await cur.execute(_PROVIDERS, (product_id,))
        slots = await cur.fetchall()
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_PROVIDER_LOADS, (product_id, project_id))
        loads: dict[str, int] = dict(await cur.fetchall())
    return [ProviderSlot(s.provider_id, s.weight, s.max_load, loads.get(s.provider_id, 0))
            for s in slots]


async def assign_provider(conn: Conn, product_id: str, rng: random.Random
                          ) -> tuple[str | None, str]:
    """I-29: the provider picked for a new project of the product (None and the queue reason
    when there is none); the product's rows stay locked until the caller commits."""
    slots = await provider_slots(conn, product_id)
    if not slots:
        return None, machines.NO_PROVIDER
    picked = pick_provider(slots, rng)
    return picked, ("" if picked else machines.PROVIDERS_FULL)


async def staff_loads(conn: Conn, user_ids: list[str]) -> dict[str, int]:
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_STAFF_LOADS, (user_ids,))
        return dict(await cur.fetchall())


async def assign_staff(conn: Conn, *, project_id: str, epoch: int, provider_id: str,
                       role: str, node_key: str, by_department: bool,
                       department_id: str | None, rng: random.Random) -> str | None:
    """I-31/I-32: lock the eligible staff of `role` (in the department, department-first),
    pick the least loaded and record the hold; None when nobody can take it."""
    async with conn.cursor(row_factory=class_row(StaffSlot)) as cur:
        await cur.execute(_STAFF, (provider_id, role, by_department, department_id))
        slots = await cur.fetchall()
    loads = await staff_loads(conn, [s.user_id for s in slots])
    picked = pick_staff([StaffSlot(s.user_id, s.max_load, loads.get(s.user_id, 0))
                         for s in slots], rng)
    if picked is not None:
        await conn.execute(_HOLD, (project_id, epoch, picked, role, node_key))
    return picked


async def take_over(conn: Conn, *, project_id: str, epoch: int, user_id: str, role: str,
                    node_key: str) -> bool:
    """I-45: hold the project for `user_id` if the user's load has room (row locked first)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_LOCK_USER, (user_id,))
        row = await cur.fetchone()
    if row is None or (await staff_loads(conn, [user_id])).get(user_id, 0) >= row[0]:
        return False
    await conn.execute(_HOLD, (project_id, epoch, user_id, role, node_key))
    return True


async def product_vendor(conn: Conn, product_id: str) -> str:
    """The vendor owning a product (for the manual 分单's permission check)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_PRODUCT_VENDOR, (product_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"product {product_id!r}")
    return str(row[0])


async def enqueue(conn: Conn, project_id: str, kind: QueueKind, node_key: str,
                  provider_id: str | None, reason: str) -> None:
    await conn.execute(_ENQUEUE, (project_id, kind, node_key, provider_id, reason))


async def dequeue(conn: Conn, project_id: str) -> None:
    await conn.execute(_DEQUEUE, (project_id,))


async def touch(conn: Conn, project_id: str, reason: str) -> None:
    """A poll found nobody: the entry stays, its last attempt is now."""
    await conn.execute(_TOUCH, (reason, project_id))


async def entries(conn: Conn, *, kind: str | None = None, provider_id: str | None = None,
                  product_id: str | None = None, vendor_id: str | None = None
                  ) -> list[QueueEntry]:
    """The queue, oldest first (I-37)."""
    async with conn.cursor(row_factory=class_row(QueueEntry)) as cur:
        await cur.execute(_ENTRIES, {"kind": kind, "provider": provider_id,
                                     "product": product_id, "vendor": vendor_id})
        return await cur.fetchall()


async def drain_queue(conn: Conn, *, rng: random.Random, kind: str | None = None,
                      provider_id: str | None = None, product_id: str | None = None) -> int:
    """I-37: retry every entry oldest first, each in its own transaction; returns how many were
    assigned. Entries nobody can take keep their place with a fresh last-attempt time."""
    from store.delivery.projects import retry_queued  # the flow sits above the queue

    assigned = 0
    for entry in await entries(conn, kind=kind, provider_id=provider_id, product_id=product_id):
        if await retry_queued(conn, entry.project_id, rng=rng):
            assigned += 1
    return assigned
