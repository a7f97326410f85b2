"""Operators' push secrets (with rotation) and the signatures of accepted pushes (replays)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from store.db import Conn


@dataclass(frozen=True)
class SecretState:
    """Whether and when an operator's push secret was set; never the secret."""

    operator: str
    updated_at: datetime
    previous_until: datetime | None  # the replaced secret is still accepted until then


_ROTATE = """
INSERT INTO operator_secrets (operator, secret) VALUES (%s, %s)
ON CONFLICT (operator) DO UPDATE SET secret = excluded.secret, updated_at = now(),
    previous_secret = operator_secrets.secret,
    previous_until = now() + make_interval(secs => %s)
"""
_SECRETS = """
SELECT secret, CASE WHEN previous_until > now() THEN previous_secret END
FROM operator_secrets WHERE operator = %s
"""
_STATES = """
SELECT operator, updated_at, CASE WHEN previous_until > now() THEN previous_until END
       AS previous_until
FROM operator_secrets ORDER BY operator
"""
_SEEN = "SELECT 1 FROM push_signatures WHERE signature = %s"
_FORGET = "DELETE FROM push_signatures WHERE seen_at < now() - make_interval(secs => %s)"
_REMEMBER = "INSERT INTO push_signatures (signature) VALUES (%s) ON CONFLICT DO NOTHING"


async def set_push_secret(conn: Conn, operator: str, secret: str, grace_s: int) -> None:
    """Make `secret` current; the one it replaces stays valid for `grace_s` seconds."""
    await conn.execute(_ROTATE, (operator, secret, grace_s))


async def push_secrets(conn: Conn, operator: str) -> list[str]:
    """The secrets a push of `operator` may be signed with: current, then previous."""
    row = await (await conn.execute(_SECRETS, (operator,))).fetchone()
    return [str(s) for s in row if s] if row else []


async def signature_seen(conn: Conn, signature: str) -> bool:
    """Whether a push with this signature was already accepted (a replay)."""
    return await (await conn.execute(_SEEN, (signature,))).fetchone() is not None


async def remember_signature(conn: Conn, signature: str, window_s: int) -> None:
    """Keep an accepted push's signature for the replay window (and forget older ones)."""
    await conn.execute(_FORGET, (2 * window_s,))
    await conn.execute(_REMEMBER, (signature,))


async def secret_states(conn: Conn) -> dict[str, SecretState]:
    """The operators that have a push secret, by operator."""
    async with conn.cursor(row_factory=class_row(SecretState)) as cur:
        await cur.execute(_STATES)
        return {state.operator: state for state in await cur.fetchall()}
