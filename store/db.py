"""Connection plumbing shared by the processes that talk to PostgreSQL."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import DictRow, TupleRow
from psycopg_pool import AsyncConnectionPool

Conn = AsyncConnection[TupleRow]
DictConn = AsyncConnection[DictRow]


def create_pool(url: str, *, max_size: int = 10) -> AsyncConnectionPool[Conn]:
    """A connection pool that is not opened yet: the caller opens it in its lifespan."""
    return AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False,
                               kwargs={"autocommit": True}, name="cardpulse")
