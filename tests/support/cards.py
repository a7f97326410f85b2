"""Cards in a test's database, inserted with plain SQL, and what the network says of them."""

from __future__ import annotations

import psycopg

from core.settings import Settings
from domain.usage.partitioning import partition_for


def iccids(n: int, prefix: str = "8986100000") -> list[str]:
    """`n` distinct 19-digit ICCIDs starting with `prefix`."""
    return [f"{prefix}{k:09d}" for k in range(n)]


def number_of(iccid: str) -> str:
    """A 13-digit number for a test card, unique per ICCID of `iccids`."""
    return "1440" + iccid[-9:]


def add_cards(settings: Settings, iccids: list[str], operator: str,
              pool: tuple[str, int] | None = None, numbered: bool = False) -> None:
    """Register `iccids` with `operator` in enterprise `e` (and in a new pool `(id, limit)`),
    `numbered` with `number_of` each (OneLink batches only numbered cards)."""
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('e', 'E')"
                     " ON CONFLICT DO NOTHING")
        if pool:
            conn.execute("INSERT INTO pools (pool_id, enterprise_id, limit_bytes)"
                         " VALUES (%s, 'e', %s)", pool)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO cards (iccid, enterprise_id, operator, pool_id, kafka_partition,"
                " msisdn) VALUES (%s, 'e', %s, %s, %s, %s)",
                [(i, operator, pool[0] if pool else None,
                  partition_for(i, settings.usage_partitions),
                  number_of(i) if numbered else None) for i in iccids])


def network(settings: Settings) -> dict[str, str]:
    """Every card's network status as CardPulse knows it."""
    with psycopg.connect(settings.require_database()) as conn:
        rows = conn.execute("SELECT iccid, network_status FROM cards").fetchall()
    return {str(i): str(s) for i, s in rows}
