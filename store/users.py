"""Users and their sessions: created with a hashed password, looked up by login, failed
logins counted toward a lock-out, sessions known by the hash of their cookie.

Times (lock-outs, session expiry) read the platform clock, `cp_now()`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from domain.people.rules import LOCK, MAX_FAILURES, Role
from store.db import Conn
from store.errors import AlreadyExists, NotFound


@dataclass(frozen=True)
class User:
    user_id: str
    login: str
    password_hash: str
    role: Role
    enterprise_id: str | None
    must_change_password: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    agent_id: str | None = None  # the agent of agent roles and end users
    # The delivery workflow's people (§6 I): tenant, department, contact, business roles and
    # the staff member's max load and order-taking status (I-05, I-06, I-30).
    dl_tenant_id: str | None = None
    department_id: str | None = None
    display_name: str | None = None
    mobile: str | None = None
    landline: str | None = None
    business_roles: list[str] = field(default_factory=list)
    max_load: int = 0
    accepting: bool = True
    email: str | None = None  # where the person's delivery reminders are also emailed


@dataclass(frozen=True)
class Session:
    """The user a session cookie belongs to, and the CSRF token of that session."""

    user: User
    csrf_token: str


_INSERT = """
INSERT INTO users (user_id, login, password_hash, role, enterprise_id, agent_id)
VALUES (%s, %s, %s, %s, %s, %s) RETURNING *
"""
_BY_LOGIN = "SELECT * FROM users WHERE login = %s"
_LIST = """
SELECT * FROM users
WHERE (%(enterprise)s::text IS NULL OR enterprise_id = %(enterprise)s)
  AND (%(agent)s::text IS NULL OR agent_id = %(agent)s)
ORDER BY login
"""
# Failures lock the login for LOCK once they reach MAX_FAILURES in a row.
_FAILED = """
UPDATE users SET failed_logins = failed_logins + 1,
    locked_until = CASE WHEN failed_logins + 1 >= %s THEN cp_now() + make_interval(secs => %s)
                        ELSE locked_until END
WHERE user_id = %s RETURNING *
"""
_SUCCEEDED = "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE user_id = %s"
_SET_HASH = """
UPDATE users SET password_hash = %s, must_change_password = %s WHERE user_id = %s
"""
_NEW_SESSION = """
INSERT INTO sessions (session_hash, user_id, csrf_token, expires_at)
VALUES (%s, %s, %s, cp_now() + make_interval(secs => %s))
"""
_SESSION = """
SELECT u.*, s.csrf_token FROM sessions s JOIN users u ON u.user_id = s.user_id
WHERE s.session_hash = %s AND s.expires_at > cp_now()
"""
_END_SESSION = "DELETE FROM sessions WHERE session_hash = %s"
_END_OTHERS = "DELETE FROM sessions WHERE user_id = %s AND session_hash <> %s"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_user(conn: Conn, login: str, password_hash: str, role: Role,
                      enterprise_id: str | None, agent_id: str | None = None) -> User:
    user_id = "u_" + secrets.token_hex(8)
    try:
        async with conn.cursor(row_factory=class_row(User)) as cur:
            await cur.execute(_INSERT, (user_id, login, password_hash, role, enterprise_id,
                                        agent_id))
            made = await cur.fetchone()
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(f"login {login!r}") from None
    except psycopg.errors.ForeignKeyViolation:
        what = f"agent {agent_id!r}" if agent_id is not None else f"enterprise {enterprise_id!r}"
        raise NotFound(what) from None
    if made is None:  # INSERT … RETURNING always returns the row
        raise NotFound(f"user {login!r}")
    return made


async def user_by_login(conn: Conn, login: str) -> User | None:
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(_BY_LOGIN, (login,))
        return await cur.fetchone()


async def list_users(conn: Conn, enterprise_id: str | None,
                     agent_id: str | None = None) -> list[User]:
    """Every user of an enterprise (or of an agent), or of the whole platform when both are
    None."""
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(_LIST, {"enterprise": enterprise_id, "agent": agent_id})
        return await cur.fetchall()


async def login_failed(conn: Conn, user_id: str) -> User:
    """Count a failed login; the MAX_FAILURES-th in a row locks the login."""
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(_FAILED, (MAX_FAILURES, LOCK.total_seconds(), user_id))
        user = await cur.fetchone()
    if user is None:
        raise NotFound(f"user {user_id}")
    return user


async def login_succeeded(conn: Conn, user_id: str) -> None:
    await conn.execute(_SUCCEEDED, (user_id,))


async def set_password(conn: Conn, user_id: str, password_hash: str, *,
                       one_time: bool = False) -> None:
    await conn.execute(_SET_HASH, (password_hash, one_time, user_id))


async def start_session(conn: Conn, user_id: str, ttl_s: float) -> tuple[str, str]:
    """A new session: (the cookie's value, the session's CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    await conn.execute(_NEW_SESSION, (_digest(token), user_id, csrf, ttl_s))
    return token, csrf


async def session(conn: Conn, token: str) -> Session | None:
    """The live session of a cookie value, or None (unknown or expired)."""
    async with conn.cursor() as cur:
        await cur.execute(_SESSION, (_digest(token),))
        row = await cur.fetchone()
        names = [d.name for d in cur.description or []]
    if row is None:
        return None
    values = dict(zip(names, row, strict=True))
    csrf = str(values.pop("csrf_token"))
    return Session(User(**values), csrf)


async def end_session(conn: Conn, token: str) -> None:
    await conn.execute(_END_SESSION, (_digest(token),))


async def end_other_sessions(conn: Conn, user_id: str, token: str) -> None:
    """After a password change only the session that changed it stays signed in."""
    await conn.execute(_END_OTHERS, (user_id, _digest(token)))
