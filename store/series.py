"""Usage over time: the queries behind the API's series and the Grafana SQL panels.

Each query is written once with `{name}` placeholders and rendered either for psycopg
(`%(name)s` parameters) or for Grafana (macros and dashboard variables), so the API and the
dashboards run the same SQL, on plain PostgreSQL and on TimescaleDB alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, TypeVar

from psycopg.rows import class_row

from store.db import Conn

T = TypeVar("T")

Bucket = Literal["1h", "1d"]

CARD_HOURLY = """
SELECT hour AS time, bytes FROM usage_hourly
WHERE iccid = {iccid} AND hour >= {start} AND hour < {end} ORDER BY hour"""
CARD_DAILY = """
SELECT day AS time, bytes FROM usage_daily
WHERE iccid = {iccid} AND day >= {start} AND day < {end} ORDER BY day"""
POOL_HOURLY = """
SELECT hour AS time, bytes FROM pool_usage_hourly
WHERE pool_id = {pool} AND hour >= {start} AND hour < {end} ORDER BY hour"""
POOL_DAILY = """
SELECT day AS time, bytes FROM pool_usage_daily
WHERE pool_id = {pool} AND day >= {start} AND day < {end} ORDER BY day"""
# Share of the pool limit used since the start of the current cycle, hour by hour.
POOL_UTILISATION = """
SELECT u.hour AS time,
       (sum(u.bytes) OVER (ORDER BY u.hour))::bigint AS used_bytes,
       round(100.0 * sum(u.bytes) OVER (ORDER BY u.hour) / nullif(p.limit_bytes, 0), 2)
           AS percent
FROM pool_usage_hourly u
JOIN pools p ON p.pool_id = u.pool_id
JOIN enterprises e ON e.enterprise_id = p.enterprise_id
WHERE u.pool_id = {pool} AND u.hour >= cp_cycle(cp_now(), e.timezone)::timestamp
      AT TIME ZONE e.timezone
ORDER BY u.hour"""
POOL_TOP_CARDS = """
SELECT c.iccid, coalesce(u.bytes, 0) AS cycle_usage_bytes
FROM cards c
JOIN enterprises e ON e.enterprise_id = c.enterprise_id
LEFT JOIN card_cycle_usage u ON u.iccid = c.iccid AND u.cycle = cp_cycle(cp_now(), e.timezone)
WHERE c.pool_id = {pool}
ORDER BY cycle_usage_bytes DESC, c.iccid LIMIT {limit}"""
POOL_STOPPED_CARDS = """
SELECT c.iccid, c.stop_reasons, p.exhausted AS pool_exhausted, c.network_status
FROM cards c JOIN pools p ON p.pool_id = c.pool_id
WHERE c.pool_id = {pool} AND cp_desired_status(c.stop_reasons, p.exhausted) = 'stopped'
ORDER BY c.iccid"""
ENTERPRISE_CARDS = """
SELECT c.iccid, c.operator, c.pool_id, c.package_bytes, coalesce(u.bytes, 0) AS usage_bytes,
       array_to_string(cp_effective_reasons(c.stop_reasons, p.exhausted), ' ') AS stop_reasons,
       c.network_status
FROM cards c
LEFT JOIN pools p ON p.pool_id = c.pool_id
LEFT JOIN card_cycle_usage u ON u.iccid = c.iccid AND u.cycle = {cycle}
WHERE c.enterprise_id = {enterprise}
ORDER BY c.iccid"""

_PSYCOPG = {name: f"%({name})s" for name in ("iccid", "pool", "start", "end", "limit", "cycle",
                                             "enterprise")}
GRAFANA = {"iccid": "'${iccid}'", "pool": "'${pool}'", "start": "$__timeFrom()",
           "end": "$__timeTo()", "limit": "${top:raw}", "cycle": "date_trunc('month', now())",
           "enterprise": "'${enterprise}'"}


def for_psycopg(query: str) -> str:
    return query.format(**_PSYCOPG)


def for_grafana(query: str) -> str:
    return query.format(**GRAFANA)


@dataclass(frozen=True)
class Point:
    time: datetime
    bytes: int


@dataclass(frozen=True)
class Utilisation:
    """Cumulative usage of the cycle at an hour, and its share of the pool limit."""

    time: datetime
    used_bytes: int
    percent: Decimal | None


@dataclass(frozen=True)
class TopCard:
    iccid: str
    cycle_usage_bytes: int


@dataclass(frozen=True)
class CardUsage:
    """A line of the enterprise's card export (columns as in `ENTERPRISE_CARDS`)."""

    iccid: str
    operator: str
    pool_id: str | None
    package_bytes: int | None
    usage_bytes: int
    stop_reasons: str
    network_status: str


async def _rows(conn: Conn, query: str, params: dict[str, object], row: type[T]) -> list[T]:
    async with conn.cursor(row_factory=class_row(row)) as cur:
        await cur.execute(for_psycopg(query), params)
        return await cur.fetchall()


async def card_series(conn: Conn, iccid: str, bucket: Bucket, start: datetime, end: datetime
                      ) -> list[Point]:
    query = CARD_HOURLY if bucket == "1h" else CARD_DAILY
    return await _rows(conn, query, {"iccid": iccid, "start": start, "end": end}, Point)


async def pool_series(conn: Conn, pool_id: str, bucket: Bucket, start: datetime, end: datetime
                      ) -> list[Point]:
    query = POOL_HOURLY if bucket == "1h" else POOL_DAILY
    return await _rows(conn, query, {"pool": pool_id, "start": start, "end": end}, Point)


async def pool_utilisation(conn: Conn, pool_id: str) -> list[Utilisation]:
    return await _rows(conn, POOL_UTILISATION, {"pool": pool_id}, Utilisation)


async def pool_top_cards(conn: Conn, pool_id: str, limit: int) -> list[TopCard]:
    return await _rows(conn, POOL_TOP_CARDS, {"pool": pool_id, "limit": limit}, TopCard)


async def enterprise_cards(conn: Conn, enterprise_id: str, cycle: date) -> list[CardUsage]:
    return await _rows(conn, ENTERPRISE_CARDS, {"enterprise": enterprise_id, "cycle": cycle},
                       CardUsage)
