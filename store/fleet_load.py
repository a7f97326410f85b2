"""Loading a big fleet straight into the tables with binary COPY, for benchmarks and demos.

Nothing here runs the quota rules: the caller states each card's own stop reasons, its network
status, its cycle usage and (for stopped cards) the reconciler's last command, and each pool's
exhausted flag, as if the platform had been running for a while. About 1M card rows a minute on
this machine, where the import API (which evaluates every card) takes 16 s per 100k.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice

from psycopg import sql

from store.db import Conn

CHUNK = 50_000


@dataclass(frozen=True)
class LoadedPool:
    pool_id: str
    limit_bytes: int
    used_bytes: int
    exhausted: bool


@dataclass(frozen=True)
class LoadedCard:
    """A card as it stands after some time in service."""

    iccid: str
    operator: str
    msisdn: str | None
    pool_id: str | None
    package_bytes: int | None
    stop_reasons: list[str]
    network_status: str
    partition: int
    cycle_bytes: int
    last_command_at: datetime | None = None  # set for cards the reconciler has acted on
    control_state: str = "done"


@dataclass(frozen=True)
class HourlyUsage:
    iccid: str
    hour: datetime
    bytes: int


_POOLS = ("COPY pools (pool_id, enterprise_id, limit_bytes, exhausted, state_cycle)"
          " FROM STDIN (FORMAT BINARY)")
_POOL_USAGE = "COPY pool_cycle_usage (pool_id, cycle, bytes) FROM STDIN (FORMAT BINARY)"
_CARDS = ("COPY cards (iccid, enterprise_id, operator, msisdn, pool_id, package_bytes,"
          " stop_reasons, network_status, kafka_partition, reasons_cycle) FROM STDIN"
          " (FORMAT BINARY)")
_CARD_USAGE = ("COPY card_cycle_usage (iccid, cycle, bytes, records) FROM STDIN"
               " (FORMAT BINARY)")
_CONTROL = ("COPY card_control (iccid, target, state, attempts, last_command, last_outcome,"
            " last_command_at, last_change_at) FROM STDIN (FORMAT BINARY)")
_HOURLY = "COPY usage_hourly (iccid, hour, bytes, records) FROM STDIN (FORMAT BINARY)"
_ANALYZED = ("cards", "pools", "card_cycle_usage", "card_control", "usage_hourly")


async def copy_pools(conn: Conn, enterprise_id: str, pools: list[LoadedPool], cycle: date
                     ) -> None:
    """The pools of an enterprise and their usage in `cycle`, in one transaction."""
    async with conn.transaction(), conn.cursor() as cur:
        async with cur.copy(_POOLS) as copy:
            copy.set_types(["text", "text", "int8", "bool", "date"])
            for p in pools:
                await copy.write_row((p.pool_id, enterprise_id, p.limit_bytes, p.exhausted,
                                      cycle))
        async with cur.copy(_POOL_USAGE) as copy:
            copy.set_types(["text", "date", "int8"])
            for p in pools:
                await copy.write_row((p.pool_id, cycle, p.used_bytes))


def _chunks(items: Iterable[LoadedCard], size: int) -> Iterator[list[LoadedCard]]:
    source = iter(items)
    while chunk := list(islice(source, size)):
        yield chunk


async def _copy_chunk(conn: Conn, enterprise_id: str, chunk: list[LoadedCard], cycle: date
                      ) -> None:
    async with conn.transaction(), conn.cursor() as cur:
        async with cur.copy(_CARDS) as copy:
            copy.set_types(["text", "text", "text", "text", "text", "int8", "text[]", "text",
                            "int4", "date"])
            for c in chunk:
                await copy.write_row((c.iccid, enterprise_id, c.operator, c.msisdn, c.pool_id,
                                      c.package_bytes, c.stop_reasons, c.network_status,
                                      c.partition, cycle if c.stop_reasons else None))
        async with cur.copy(_CARD_USAGE) as copy:
            copy.set_types(["text", "date", "int8", "int8"])
            for c in chunk:
                await copy.write_row((c.iccid, cycle, c.cycle_bytes, 1 if c.cycle_bytes else 0))
        async with cur.copy(_CONTROL) as copy:
            copy.set_types(["text", "text", "text", "int4", "text", "text", "timestamptz",
                            "timestamptz"])
            for c in chunk:
                if c.last_command_at is not None:
                    await copy.write_row((c.iccid, "stopped", c.control_state, 1, "stop",
                                          "accepted", c.last_command_at, c.last_command_at))


async def copy_cards(conn: Conn, enterprise_id: str, cards: Iterable[LoadedCard], cycle: date,
                     progress: Callable[[int], None] | None = None) -> int:
    """Cards of an enterprise with their usage in `cycle` and control rows, committed every
    `CHUNK` cards; calls `progress(loaded so far)` after each. Returns the cards loaded."""
    done = 0
    for chunk in _chunks(cards, CHUNK):
        await _copy_chunk(conn, enterprise_id, chunk, cycle)
        done += len(chunk)
        if progress is not None:
            progress(done)
    return done


async def copy_hourly(conn: Conn, rows: Iterable[HourlyUsage]) -> None:
    """Hourly usage rollups (the usage charts read them)."""
    async with conn.transaction(), conn.cursor() as cur, cur.copy(_HOURLY) as copy:
        copy.set_types(["text", "timestamptz", "int8", "int8"])
        for r in rows:
            await copy.write_row((r.iccid, r.hour, r.bytes, 1))


async def analyze(conn: Conn) -> None:
    """Fresh planner statistics for the loaded tables (autovacuum would get there later)."""
    for table in _ANALYZED:
        await conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
