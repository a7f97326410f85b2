"""Delivery tenants and people for the template and product tests (§6 I): tenants, vendor →
provider links, departments and delivery users written straight to the database (their API is
another part of the module), each user then signed in through the session API."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import httpx
import psycopg

from core.passwords import hash_password
from core.settings import Settings
from tests.support.pricing import Market

PASSWORD = "delivery test passphrase"  # noqa: S105 - test users' password


async def _run(settings: Settings, statement: str, args: Sequence[object]) -> None:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        await conn.execute(statement, args)


async def tenant(settings: Settings, tenant_id: str, name: str | None = None) -> None:
    await _run(settings, "INSERT INTO dl_tenants (tenant_id, name) VALUES (%s, %s)",
               (tenant_id, name or tenant_id.title()))


async def link(settings: Settings, vendor: str, provider: str) -> None:
    await _run(settings, "INSERT INTO dl_vendor_providers (vendor_id, provider_id, created_by) "
               "VALUES (%s, %s, 'test')", (vendor, provider))


async def department(settings: Settings, provider: str, name: str) -> str:
    department_id = "dep_" + secrets.token_hex(4)
    await _run(settings, "INSERT INTO dl_departments (department_id, provider_id, name) "
               "VALUES (%s, %s, %s)", (department_id, provider, name))
    return department_id


async def dl_user(settings: Settings, login: str, role: str, dl_tenant: str | None, *,
                  business_roles: Sequence[str] = (), department_id: str | None = None) -> None:
    """A delivery user (vendor_admin, vendor_pm, provider_admin, provider_staff) whose
    password is PASSWORD (already chosen: no one-time password)."""
    await _run(settings, """
        INSERT INTO users (user_id, login, password_hash, role, dl_tenant_id, department_id,
                           business_roles, must_change_password, display_name, max_load)
        VALUES (%s, %s, %s, %s, %s, %s, %s, false, %s, 5)""",
               ("u_" + secrets.token_hex(8), login, hash_password(PASSWORD), role, dl_tenant,
                department_id, list(business_roles), login))


async def dl_person(made: Market, login: str, role: str, dl_tenant: str | None, *,
                    business_roles: Sequence[str] = (), department_id: str | None = None
                    ) -> httpx.AsyncClient:
    """A delivery user signed in; its client sends the session's CSRF token."""
    await dl_user(made.settings, login, role, dl_tenant, business_roles=business_roles,
                  department_id=department_id)
    own = made.client()
    signed = await own.post("/v1/session", json={"login": login, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    own.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
    made.people[login] = own
    return own
