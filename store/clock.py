"""The platform clock's offset (the test clock), kept in PostgreSQL for SQL and every process.

SQL reads it through `cp_now()`; every Python process adopts it into `core.clock.CLOCK` when
it starts (`adopt`) and, while the test clock is on, keeps following it (`follow`), so that
rules in Python and in SQL agree on what time it is.
"""

from __future__ import annotations

import asyncio
import logging

from core.clock import PlatformClock
from store.db import Conn, Reconnecting

log = logging.getLogger(__name__)
_READ = "SELECT offset_seconds FROM platform_clock"
_SET = "UPDATE platform_clock SET offset_seconds = %s"


async def read_offset(conn: Conn) -> int:
    row = await (await conn.execute(_READ)).fetchone()
    return int(row[0]) if row else 0


async def set_offset(conn: Conn, seconds: int) -> None:
    await conn.execute(_SET, (seconds,))


async def adopt(db: Reconnecting, clock: PlatformClock) -> None:
    """Set `clock`'s offset to the stored one (once, at start)."""
    clock.set_offset(await db.run(read_offset))


async def follow(db: Reconnecting, clock: PlatformClock, every_s: float = 1.0) -> None:
    """Keep `clock`'s offset equal to the stored one, checking every `every_s` seconds."""
    while True:
        try:
            clock.set_offset(await db.run(read_offset))
        except Exception:  # keep the last offset; the next round tries again
            log.warning("platform clock offset not read", exc_info=True)
        await asyncio.sleep(every_s)
