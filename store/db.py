"""Connection plumbing shared by the processes that talk to PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

Conn = AsyncConnection[TupleRow]
T = TypeVar("T")
log = logging.getLogger(__name__)


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
