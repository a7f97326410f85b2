"""Connection plumbing shared by the processes that talk to PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TypeVar

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

Conn = AsyncConnection[TupleRow]
T = TypeVar("T")
log = logging.getLogger(__name__)


class Keep(Enum):
    """The value of a field left out of a change (as opposed to one set to None)."""

    KEEP = "keep"


KEEP = Keep.KEEP


async def set_fields(conn: Conn, table: str, key_column: str, key: object,
                     changes: dict[str, object]) -> None:
    """One UPDATE of the row `key_column = key` setting every change not left out (`KEEP`);
    identifiers only through `sql.Identifier`."""
    sent = {column: value for column, value in changes.items() if value is not KEEP}
    if not sent:
        return
    assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in sent)
    await conn.execute(sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
        sql.Identifier(table), assignments, sql.Identifier(key_column)), (*sent.values(), key))


def create_pool(url: str, *, max_size: int = 10) -> AsyncConnectionPool[Conn]:
    """A connection pool that is not opened yet: the caller opens it in its lifespan."""
    return AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False,
                               kwargs={"autocommit": True}, name="cardpulse")


class Reconnecting:
    """One connection that is (re)opened on demand; `run` retries an action until it succeeds.

    For stream workers: a database outage makes them wait, never skip or acknowledge work.
    """

    def __init__(self, url: str, *, max_backoff_s: float = 5.0) -> None:
        self._url = url
        self._conn: Conn | None = None
        self._max_backoff = max_backoff_s

    async def connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = await AsyncConnection.connect(self._url, autocommit=True)
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def run(self, action: Callable[[Conn], Awaitable[T]]) -> T:
        delay = 0.1
        while True:
            try:
                return await action(await self.connection())
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                await self.close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)


async def ping(conn: Conn) -> None:
    """Raise unless the server answers a trivial query."""
    await conn.execute("SELECT 1")


def can_connect(url: str, timeout_s: int = 2) -> bool:
    """Whether the server at `url` accepts a connection now."""
    try:
        with psycopg.connect(url, connect_timeout=timeout_s):
            return True
    except psycopg.Error:
        return False


def connect_problem(url: str, timeout_s: int = 5) -> str | None:
    """Why `url` does not answer a query (the first line of the error), or None if it does."""
    try:
        with psycopg.connect(url, connect_timeout=timeout_s) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    return None


def ensure_database(admin_url: str, name: str) -> None:
    """Create database `name` if it does not exist (connected to the server's admin db)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
