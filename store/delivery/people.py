"""The parties and people of the delivery workflow (§6.1, §6.4): tenants (each a vendor and a
provider, I-02), vendor–provider links (I-03), a provider's departments (I-05), delivery users
(I-04 … I-07) and the staff's max loads and order-taking status (I-30, SM-I-STAFF).

A staff member's current load is never a counter: it is the live holds (`dl_holds`) on projects
in progress or paused (I-34)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from store.db import Conn
from store.errors import AlreadyExists, NotFound


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    agent_id: str | None
    created_at: datetime
    providers: list[str]  # the linked providers (I-03), the tenant itself not listed


@dataclass(frozen=True)
class Department:
    department_id: str
    provider_id: str
    parent_id: str | None
    name: str
    depth: int  # 0 for a department right under the provider
    account_managers: int  # its users with the 客户经理 role (I-09)


@dataclass(frozen=True)
class Person:
    """A delivery user as the user list and 持单量设置 show it (I-30)."""

    user_id: str
    login: str
    role: str
    dl_tenant_id: str
    display_name: str | None
    department_id: str | None
    department_name: str | None
    mobile: str | None
    landline: str | None
    email: str | None
    business_roles: list[str]
    max_load: int
    accepting: bool
    current_load: int
    must_change_password: bool
    created_at: datetime


@dataclass(frozen=True)
class NewUser:
    login: str
    role: str
    tenant_id: str
    display_name: str
    business_roles: list[str]
    department_id: str | None = None
    mobile: str | None = None
    landline: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class LoadChange:
    user_id: str
    max_load: int | None  # None: unchanged
    accepting: bool | None


_TENANTS = """
SELECT t.tenant_id, t.name, t.agent_id, t.created_at,
       coalesce(array_agg(l.provider_id ORDER BY l.provider_id)
                FILTER (WHERE l.provider_id IS NOT NULL), '{}') AS providers
FROM dl_tenants t LEFT JOIN dl_vendor_providers l ON l.vendor_id = t.tenant_id
WHERE %(tenant)s::text IS NULL OR t.tenant_id = %(tenant)s
GROUP BY t.tenant_id ORDER BY t.tenant_id
"""
_NEW_TENANT = "INSERT INTO dl_tenants (tenant_id, name, agent_id) VALUES (%s, %s, %s)"
_LINK = """
INSERT INTO dl_vendor_providers (vendor_id, provider_id, created_by) VALUES (%s, %s, %s)
ON CONFLICT DO NOTHING
"""
_UNLINK = "DELETE FROM dl_vendor_providers WHERE vendor_id = %s AND provider_id = %s"
_DEPARTMENTS = """
WITH RECURSIVE tree AS (
    SELECT d.*, 0 AS depth, ARRAY[d.name, d.department_id] AS path FROM dl_departments d
    WHERE d.provider_id = %(tenant)s AND d.parent_id IS NULL
    UNION ALL
    SELECT d.*, t.depth + 1, t.path || ARRAY[d.name, d.department_id]
    FROM dl_departments d JOIN tree t ON d.parent_id = t.department_id
)
SELECT t.department_id, t.provider_id, t.parent_id, t.name, t.depth,
       (SELECT count(*) FROM users u WHERE u.department_id = t.department_id
          AND '客户经理' = ANY (u.business_roles))::int AS account_managers
FROM tree t ORDER BY t.path
"""
_DEPARTMENT_TENANT = "SELECT provider_id FROM dl_departments WHERE department_id = %s"
_SIBLING = """
SELECT 1 FROM dl_departments WHERE provider_id = %s AND parent_id IS NOT DISTINCT FROM %s
  AND name = %s
"""
_NEW_DEPARTMENT = """
INSERT INTO dl_departments (department_id, provider_id, parent_id, name) VALUES (%s, %s, %s, %s)
"""
_NEW_USER = """
INSERT INTO users (user_id, login, password_hash, role, dl_tenant_id, department_id,
                   display_name, mobile, landline, business_roles, email)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_PEOPLE = """
SELECT u.user_id, u.login, u.role, u.dl_tenant_id, u.display_name, u.department_id,
       d.name AS department_name, u.mobile, u.landline, u.email, u.business_roles,
       u.max_load, u.accepting,
       (SELECT count(*) FROM dl_holds h JOIN dl_projects p ON p.project_id = h.project_id
        WHERE h.user_id = u.user_id AND h.released_at IS NULL
          AND p.status IN ('in_progress', 'paused'))::int AS current_load,
       u.must_change_password, u.created_at
FROM users u LEFT JOIN dl_departments d ON d.department_id = u.department_id
WHERE u.dl_tenant_id IS NOT NULL
  AND (%(tenant)s::text IS NULL OR u.dl_tenant_id = %(tenant)s)
  AND (%(user)s::text IS NULL OR u.user_id = %(user)s)
  AND (NOT %(carriers)s OR u.role IN ('vendor_admin', 'provider_admin', 'provider_staff'))
ORDER BY u.dl_tenant_id, u.role, u.login
"""
_LOCK_PEOPLE = """
SELECT user_id FROM users WHERE dl_tenant_id = %s AND user_id = ANY(%s)
  AND role IN ('vendor_admin', 'provider_admin', 'provider_staff')
ORDER BY user_id FOR UPDATE
"""
_SET_LOAD = """
UPDATE users SET max_load = coalesce(%s, max_load), accepting = coalesce(%s, accepting)
WHERE user_id = %s
"""
_RESET = """
UPDATE users SET password_hash = %s, must_change_password = true, failed_logins = 0,
    locked_until = NULL
WHERE user_id = %s
"""
_END_SESSIONS = "DELETE FROM sessions WHERE user_id = %s"
_PROVIDER_ROLES = "SELECT name FROM dl_roles WHERE side = 'provider' ORDER BY name"


async def list_tenants(conn: Conn, tenant_id: str | None = None) -> list[Tenant]:
    """Every tenant (or one) with its linked providers."""
    async with conn.cursor(row_factory=class_row(Tenant)) as cur:
        await cur.execute(_TENANTS, {"tenant": tenant_id})
        return await cur.fetchall()


async def get_tenant(conn: Conn, tenant_id: str) -> Tenant:
    found = await list_tenants(conn, tenant_id)
    if not found:
        raise NotFound(f"tenant {tenant_id!r}")
    return found[0]


async def create_tenant(conn: Conn, tenant_id: str, name: str,
                        agent_id: str | None = None) -> Tenant:
    """A tenant, vendor and provider at once (I-02); `agent_id` binds an agent to it."""
    try:
        await conn.execute(_NEW_TENANT, (tenant_id, name, agent_id))
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(f"tenant {tenant_id!r} (or one of agent {agent_id!r})") from None
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound(f"agent {agent_id!r}") from None
    return await get_tenant(conn, tenant_id)


async def link_provider(conn: Conn, vendor_id: str, provider_id: str, by: str) -> bool:
    """Link a provider to a vendor (I-03); False when the link existed already."""
    try:
        cur = await conn.execute(_LINK, (vendor_id, provider_id, by))
    except psycopg.errors.ForeignKeyViolation:
        await get_tenant(conn, vendor_id)
        raise NotFound(f"tenant {provider_id!r}") from None
    return cur.rowcount == 1


async def unlink_provider(conn: Conn, vendor_id: str, provider_id: str) -> None:
    cur = await conn.execute(_UNLINK, (vendor_id, provider_id))
    if cur.rowcount == 0:
        raise NotFound(f"link {vendor_id!r} → {provider_id!r}")


async def providers_of(conn: Conn, vendor_id: str) -> list[str]:
    """The providers a vendor may give its products to: itself first (I-02), then its links."""
    return [vendor_id, *(await get_tenant(conn, vendor_id)).providers]


async def list_departments(conn: Conn, tenant_id: str) -> list[Department]:
    """A provider's departments in tree order (parents before their children)."""
    async with conn.cursor(row_factory=class_row(Department)) as cur:
        await cur.execute(_DEPARTMENTS, {"tenant": tenant_id})
        return await cur.fetchall()


async def department_tenant(conn: Conn, department_id: str) -> str:
    cur = await conn.execute(_DEPARTMENT_TENANT, (department_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"department {department_id!r}")
    return str(row[0])


async def create_department(conn: Conn, tenant_id: str, name: str,
                            parent_id: str | None) -> str:
    """A department of the provider, under `parent_id` (None: right under the provider, the
    "+" on the provider node); names are unique among siblings."""
    if parent_id is not None and await department_tenant(conn, parent_id) != tenant_id:
        raise NotFound(f"department {parent_id!r}")
    if await (await conn.execute(_SIBLING, (tenant_id, parent_id, name))).fetchone():
        raise AlreadyExists(f"department {name!r}")
    department_id = "dep_" + secrets.token_hex(6)
    await conn.execute(_NEW_DEPARTMENT, (department_id, tenant_id, parent_id, name))
    return department_id


async def provider_roles(conn: Conn) -> list[str]:
    """The preset business roles of the provider side (I-08)."""
    cur = await conn.execute(_PROVIDER_ROLES)
    return [str(row[0]) for row in await cur.fetchall()]


async def create_user(conn: Conn, new: NewUser, password_hash: str) -> Person:
    """A delivery user who must change the one-time password at first login (I-07)."""
    user_id = "u_" + secrets.token_hex(8)
    try:
        await conn.execute(_NEW_USER, (user_id, new.login, password_hash, new.role,
                                       new.tenant_id, new.department_id, new.display_name,
                                       new.mobile, new.landline, new.business_roles,
                                       new.email))
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(f"login {new.login!r}") from None
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound(f"tenant {new.tenant_id!r}") from None
    return await get_person(conn, user_id)


async def list_people(conn: Conn, tenant_id: str | None, *,
                      carriers_only: bool = False) -> list[Person]:
    """A tenant's delivery users (every tenant's: None) with their current loads;
    `carriers_only`: those who receive projects (I-30's list)."""
    async with conn.cursor(row_factory=class_row(Person)) as cur:
        await cur.execute(_PEOPLE, {"tenant": tenant_id, "user": None,
                                    "carriers": carriers_only})
        return await cur.fetchall()


async def get_person(conn: Conn, user_id: str) -> Person:
    async with conn.cursor(row_factory=class_row(Person)) as cur:
        await cur.execute(_PEOPLE, {"tenant": None, "user": user_id, "carriers": False})
        found = await cur.fetchone()
    if found is None:
        raise NotFound(f"user {user_id!r}")
    return found


async def set_loads(conn: Conn, tenant_id: str, changes: Sequence[LoadChange]) -> None:
    """Set max loads and order-taking statuses of a tenant's load carriers, all or none; a
    user of another tenant (or who carries no load) is not found."""
    wanted = sorted({c.user_id for c in changes})
    async with conn.transaction():
        cur = await conn.execute(_LOCK_PEOPLE, (tenant_id, wanted))
        found = {str(row[0]) for row in await cur.fetchall()}
        missing = [u for u in wanted if u not in found]
        if missing:
            raise NotFound(f"staff member {missing[0]!r}")
        for change in changes:
            await conn.execute(_SET_LOAD, (change.max_load, change.accepting, change.user_id))


async def reset_password(conn: Conn, user_id: str, password_hash: str) -> None:
    """A new one-time password (I-07): the lock-out is lifted and every session ends."""
    async with conn.transaction():
        await conn.execute(_RESET, (password_hash, user_id))
        await conn.execute(_END_SESSIONS, (user_id,))
