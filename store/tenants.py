"""Queries for enterprises, their API keys, and operators' push secrets."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import psycopg

from store.db import Conn


class AlreadyExists(Exception):
    """The object's id is taken."""


class NotFound(Exception):
    """No such object (or not visible to the caller)."""


@dataclass(frozen=True)
class Enterprise:
    enterprise_id: str
    name: str
    timezone: str


@dataclass(frozen=True)
class KeyOwner:
    """Who an API key belongs to (`enterprise_id` is None for platform keys)."""

    key_id: str
    enterprise_id: str | None
    role: str


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def create_enterprise(conn: Conn, enterprise_id: str, name: str, timezone: str) -> Enterprise:
    try:
        await conn.execute(
            "INSERT INTO enterprises (enterprise_id, name, timezone) VALUES (%s, %s, %s)",
            (enterprise_id, name, timezone),
        )
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(enterprise_id) from None
    return Enterprise(enterprise_id, name, timezone)


async def get_enterprise(conn: Conn, enterprise_id: str) -> Enterprise:
    cur = await conn.execute(
        "SELECT enterprise_id, name, timezone FROM enterprises WHERE enterprise_id = %s",
        (enterprise_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(enterprise_id)
    return Enterprise(*row)


async def create_api_key(conn: Conn, enterprise_id: str | None, role: str) -> tuple[str, str]:
    """Make a key (for an enterprise, or platform-wide when `enterprise_id` is None);
    returns (key_id, key). Only its hash is stored."""
    if enterprise_id is not None:
        await get_enterprise(conn, enterprise_id)
    key_id = secrets.token_hex(6)
    key = f"cpk_{key_id}_{secrets.token_urlsafe(32)}"
    await conn.execute(
        "INSERT INTO api_keys (key_id, key_hash, enterprise_id, role) VALUES (%s, %s, %s, %s)",
        (key_id, hash_key(key), enterprise_id, role),
    )
    return key_id, key


async def key_owner(conn: Conn, key: str) -> KeyOwner | None:
    """The owner of a live key, recording its use; None for unknown or revoked keys."""
    cur = await conn.execute(
        "UPDATE api_keys SET last_used_at = now()"
        " WHERE key_hash = %s AND revoked_at IS NULL"
        " RETURNING key_id, enterprise_id, role",
        (hash_key(key),),
    )
    row = await cur.fetchone()
    return KeyOwner(*row) if row else None


async def set_push_secret(conn: Conn, operator: str, secret: str, grace_s: int) -> None:
    """Make `secret` current; the one it replaces stays valid for `grace_s` seconds."""
    await conn.execute(
        "INSERT INTO operator_secrets (operator, secret) VALUES (%s, %s)"
        " ON CONFLICT (operator) DO UPDATE SET secret = excluded.secret, updated_at = now(),"
        "   previous_secret = operator_secrets.secret,"
        "   previous_until = now() + make_interval(secs => %s)",
        (operator, secret, grace_s),
    )


async def push_secrets(conn: Conn, operator: str) -> list[str]:
    """The secrets a push of `operator` may be signed with: current, then previous."""
    cur = await conn.execute(
        "SELECT secret, CASE WHEN previous_until > now() THEN previous_secret END"
        " FROM operator_secrets WHERE operator = %s", (operator,))
    row = await cur.fetchone()
    return [str(s) for s in row if s] if row else []


async def signature_seen(conn: Conn, signature: str) -> bool:
    """Whether a push with this signature was already accepted (a replay)."""
    cur = await conn.execute("SELECT 1 FROM push_signatures WHERE signature = %s", (signature,))
    return await cur.fetchone() is not None


async def remember_signature(conn: Conn, signature: str, window_s: int) -> None:
    """Keep an accepted push's signature for the replay window (and forget older ones)."""
    await conn.execute("DELETE FROM push_signatures WHERE seen_at < now() - make_interval("
                       "secs => %s)", (2 * window_s,))
    await conn.execute("INSERT INTO push_signatures (signature) VALUES (%s)"
                       " ON CONFLICT DO NOTHING", (signature,))


async def revoke_api_key(conn: Conn, key_id: str) -> KeyOwner:
    cur = await conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s"
        " RETURNING key_id, enterprise_id, role", (key_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(key_id)
    return KeyOwner(*row)


async def key_of(conn: Conn, key_id: str) -> KeyOwner:
    cur = await conn.execute("SELECT key_id, enterprise_id, role FROM api_keys WHERE key_id = %s",
                             (key_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(key_id)
    return KeyOwner(*row)


async def list_api_keys(conn: Conn, enterprise_id: str | None) -> list[tuple[object, ...]]:
    cur = await conn.execute(
        "SELECT key_id, enterprise_id, role, created_at, last_used_at, revoked_at FROM api_keys"
        " WHERE enterprise_id IS NOT DISTINCT FROM %s ORDER BY created_at", (enterprise_id,))
    return list(await cur.fetchall())


async def update_enterprise(conn: Conn, enterprise_id: str, changes: dict[str, object]
                            ) -> Enterprise:
    """Apply the given column changes (name, timezone, webhook_url, webhook_secret)."""
    allowed = {"name", "timezone", "webhook_url", "webhook_secret"}
    for column, value in changes.items():
        if column not in allowed:
            raise ValueError(column)
        await conn.execute(
            psycopg.sql.SQL("UPDATE enterprises SET {} = %s WHERE enterprise_id = %s").format(
                psycopg.sql.Identifier(column)), (value, enterprise_id))
    return await get_enterprise(conn, enterprise_id)


async def webhook_url(conn: Conn, enterprise_id: str) -> str | None:
    cur = await conn.execute("SELECT webhook_url FROM enterprises WHERE enterprise_id = %s",
                             (enterprise_id,))
    row = await cur.fetchone()
    return str(row[0]) if row and row[0] else None


async def list_alerts(conn: Conn, enterprise_id: str, limit: int) -> list[tuple[object, ...]]:
    cur = await conn.execute(
        "SELECT alert_id, kind, subject, to_char(cycle, 'YYYY-MM'), percent, used_bytes,"
        " limit_bytes, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " webhook_state FROM alerts WHERE enterprise_id = %s ORDER BY alert_id DESC LIMIT %s",
        (enterprise_id, limit))
    return list(await cur.fetchall())


async def set_clock_offset(conn: Conn, seconds: int) -> None:
    await conn.execute("UPDATE platform_clock SET offset_seconds = %s", (seconds,))
