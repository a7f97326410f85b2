"""The periodic scans (the reconciler's, every second per operator; the cycle rollover's,
every few seconds) read the few cards that need them, never the whole fleet.

Checked on the plans PostgreSQL chooses for a fleet of 200k cards of which a few dozen have a
stop reason: no sequential scan of `cards` or `card_control`, and a tenth of the `cards`
table's pages at most. The planner guessed a third of the fleet for the old predicate, and
at 1M cards the reconciler's scan hashed every card each round (about 1 s of CPU)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from core.settings import Settings
from store.controls import _ACTIONABLE, FAILED_COUNT
from store.quota import _STALE_CARDS

pytestmark = pytest.mark.integration

FLEET = 200_000


def _iccid(k: int) -> str:
    return f"8986{k:015d}"


def _fleet(conn: psycopg.Connection[Any]) -> None:
    """Cards k = 0…FLEET-1, operators round robin (k % 3 == 0 is onelink), all commanded
    before; 0…89 stopped (manual, or package quota for even k), 300…335 in exhausted pool px."""
    conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('e', 'E')")
    conn.execute("INSERT INTO pools (pool_id, enterprise_id, limit_bytes, exhausted)"
                 " VALUES ('px', 'e', 0, true), ('py', 'e', 1000, false)")
    conn.execute(
        "INSERT INTO cards (iccid, enterprise_id, operator, pool_id, kafka_partition)"
        " SELECT '8986' || lpad(k::text, 15, '0'), 'e',"
        " (ARRAY['onelink', 'jasper', 'ctcc'])[k %% 3 + 1],"
        " CASE WHEN k BETWEEN 300 AND 335 THEN 'px' WHEN k %% 2 = 0 THEN 'py' END, k %% 4"
        " FROM generate_series(0, %s) k", (FLEET - 1,))
    conn.execute("UPDATE cards SET stop_reasons = CASE WHEN right(iccid, 1)::int %% 2 = 0"
                 " THEN '{package_quota}'::text[] ELSE '{manual}' END,"
                 " reasons_cycle = '2000-01-01' WHERE iccid = ANY(%s)",
                 ([_iccid(k) for k in range(90)],))
    conn.execute("INSERT INTO card_control (iccid, target, state)"
                 " SELECT iccid, 'active', 'done' FROM cards")
    conn.execute("ANALYZE")


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _assert_reads_few_pages(conn: psycopg.Connection[Any], query: str, params: Any) -> None:
    row = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query, params).fetchone()
    plan = row[0][0]["Plan"] if row else {}
    found = conn.execute("SELECT relpages FROM pg_class WHERE relname = 'cards'").fetchone()
    pages = int(found[0]) if found else 0
    scans = {(n["Node Type"], n.get("Relation Name")) for n in _plan_nodes(plan)}
    assert not {s for s in scans if "Seq Scan" in s[0] and s[1] in {"cards", "card_control"}}
    touched = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    assert 0 < touched < pages / 10, f"{touched} pages read; cards has {pages}"


def test_reconciler_scan_reads_the_cards_needing_attention(settings: Settings) -> None:
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        _fleet(conn)
        params = {"partitions": [0, 1, 2, 3], "operator": "onelink", "limit": 1000}
        found = {str(row[0]) for row in conn.execute(_ACTIONABLE, params).fetchall()}
        _assert_reads_few_pages(conn, _ACTIONABLE, params)
    stopped = {_iccid(k) for k in range(0, 90, 3)}  # onelink cards with a reason
    pooled = {_iccid(k) for k in range(300, 336, 3)}  # onelink members of the exhausted pool
    assert found == stopped | pooled


def test_cycle_rollover_reads_only_quota_stopped_cards(settings: Settings) -> None:
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        _fleet(conn)
        found = {str(row[0]) for row in conn.execute(_STALE_CARDS, (5000,)).fetchall()}
        _assert_reads_few_pages(conn, _STALE_CARDS, (5000,))
    assert found == {_iccid(k) for k in range(0, 90, 2)}  # package quota from an old cycle


def test_failed_cards_gauge_counts_from_its_partial_index(settings: Settings) -> None:
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        _fleet(conn)
        conn.execute("UPDATE card_control SET state = 'failed' WHERE iccid = ANY(%s)",
                     ([_iccid(k) for k in range(7)],))
        conn.execute("VACUUM ANALYZE card_control")
        row = conn.execute(FAILED_COUNT).fetchone()
        _assert_reads_few_pages(conn, FAILED_COUNT, None)
    assert row == (7, 0), "seven failed, none held by the operator"
