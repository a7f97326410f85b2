"""API keys: made for an enterprise or the platform, stored hashed, listed, revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from store.db import Conn
from store.enterprises import get_enterprise
from store.errors import NotFound


@dataclass(frozen=True)
class KeyOwner:
    """Who an API key belongs to (`enterprise_id` is None for platform keys)."""

    key_id: str
    enterprise_id: str | None
    role: str


@dataclass(frozen=True)
class KeyInfo:
    """A key as it is listed: never its secret."""

    key_id: str
    enterprise_id: str | None
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_INSERT = "INSERT INTO api_keys (key_id, key_hash, enterprise_id, role) VALUES (%s, %s, %s, %s)"
_USE = """
UPDATE api_keys SET last_used_at = now() WHERE key_hash = %s AND revoked_at IS NULL
RETURNING key_id, enterprise_id, role
"""
_REVOKE = """
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s
RETURNING key_id, enterprise_id, role
"""
_GET = "SELECT key_id, enterprise_id, role FROM api_keys WHERE key_id = %s"
_LIST = """
SELECT key_id, enterprise_id, role, created_at, last_used_at, revoked_at FROM api_keys
WHERE enterprise_id IS NOT DISTINCT FROM %s ORDER BY created_at
"""


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def create_api_key(conn: Conn, enterprise_id: str | None, role: str) -> tuple[str, str]:
    """Make a key (for an enterprise, or platform-wide when `enterprise_id` is None);
    returns (key_id, key). Only its hash is stored."""
    if enterprise_id is not None:
        await get_enterprise(conn, enterprise_id)
    key_id = secrets.token_hex(6)
    key = f"cpk_{key_id}_{secrets.token_urlsafe(32)}"
    await conn.execute(_INSERT, (key_id, hash_key(key), enterprise_id, role))
    return key_id, key


async def _owner(conn: Conn, query: str, param: object) -> KeyOwner | None:
    async with conn.cursor(row_factory=class_row(KeyOwner)) as cur:
        await cur.execute(query, (param,))
        return await cur.fetchone()


async def key_owner(conn: Conn, key: str) -> KeyOwner | None:
    """The owner of a live key, recording its use; None for unknown or revoked keys."""
    return await _owner(conn, _USE, hash_key(key))


async def key_of(conn: Conn, key_id: str) -> KeyOwner:
    found = await _owner(conn, _GET, key_id)
    if found is None:
        raise NotFound(f"api key {key_id!r}")
    return found


async def revoke_api_key(conn: Conn, key_id: str) -> KeyOwner:
    found = await _owner(conn, _REVOKE, key_id)
    if found is None:
        raise NotFound(f"api key {key_id!r}")
    return found


async def list_api_keys(conn: Conn, enterprise_id: str | None) -> list[KeyInfo]:
    async with conn.cursor(row_factory=class_row(KeyInfo)) as cur:
        await cur.execute(_LIST, (enterprise_id,))
        return await cur.fetchall()
