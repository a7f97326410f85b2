"""What the benchmark reads of PostgreSQL: the accounting check, the raw COPY floor, and the
server's WAL, checkpoint and autovacuum counters (synchronous: the bench is a plain script)."""

from __future__ import annotations

import time

import msgspec
import psycopg


def verify(database_url: str, enterprise: str, fleet_cards: int, records: int) -> None:
    """Every pushed record counted exactly once: per-cycle totals and stored rows agree."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(u.records), 0), count(DISTINCT u.iccid) FILTER"
            " (WHERE u.records > 0) FROM card_cycle_usage u"
            " JOIN cards c ON c.iccid = u.iccid WHERE c.enterprise_id = %s",
            (enterprise,)).fetchone()
    counted, cards = (int(row[0]), int(row[1])) if row else (0, 0)
    if counted != records or cards != min(fleet_cards, records):
        raise RuntimeError(f"accounting mismatch: {counted:,} records over {cards:,} cards "
                           f"counted, {records:,} records over "
                           f"{min(fleet_cards, records):,} cards pushed")


def copy_rows_per_s(database_url: str, record_prefix: str) -> tuple[float, int]:
    """Binary COPY of the stored usage rows whose record id starts with `record_prefix` into
    a fresh table of the same columns (no indexes) in the same database; returns (rows/s,
    rows). The rows are read out first, so only the COPY into PostgreSQL is timed."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        chunks: list[bytes] = []
        with conn.cursor().copy(
                "COPY (SELECT * FROM usage_records WHERE record_id LIKE %s)"
                " TO STDOUT (FORMAT BINARY)", (f"{record_prefix}%",)) as out:
            chunks.extend(bytes(chunk) for chunk in out)
        rows = int(conn.execute("SELECT count(*) FROM usage_records WHERE record_id LIKE %s",
                                (f"{record_prefix}%",)).fetchone()[0])  # type: ignore[index]
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (LIKE usage_records)")
        try:
            started = time.perf_counter()
            with conn.transaction(), conn.cursor().copy(
                    "COPY bench_copy FROM STDIN (FORMAT BINARY)") as into:
                for chunk in chunks:
                    into.write(chunk)
            took = time.perf_counter() - started
        finally:
            conn.execute("DROP TABLE bench_copy")
    return rows / took, rows


class PgCounters(msgspec.Struct, frozen=True):
    """PostgreSQL's cluster-wide WAL, checkpoint and autovacuum counters at one moment.

    `bytes` is the WAL position, exact. `records` and `fpi` come from `pg_stat_wal`, which
    each backend updates about once a second while busy and within 10 s once idle, so over
    a phase of tens of seconds they are within a few per cent."""

    records: int
    fpi: int
    bytes: int
    checkpoints: int
    autovacuums: int

    def per_record(self, since: PgCounters, usage_records: int) -> dict[str, float]:
        """WAL written between `since` and now, per usage record; and the checkpoints that
        started (after each, the first change to a page logs a full image of it) and the
        autovacuum and autoanalyze runs that finished in between."""
        n = max(usage_records, 1)
        return {"wal_bytes_per_record": round((self.bytes - since.bytes) / n, 1),
                "wal_records_per_record": round((self.records - since.records) / n, 2),
                "full_page_images_per_record": round((self.fpi - since.fpi) / n, 3),
                "checkpoints": self.checkpoints - since.checkpoints,
                "autovacuums": self.autovacuums - since.autovacuums}


def pg_counters(database_url: str) -> PgCounters:
    """Read `pg_stat_wal`, the checkpoint counts and the autovacuum counts (PostgreSQL 14
    or later)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        wal = conn.execute("SELECT wal_records, wal_fpi, pg_current_wal_lsn() - '0/0'"
                           " FROM pg_stat_wal").fetchone()
        done = conn.execute(  # PostgreSQL 17 moved the counters to pg_stat_checkpointer
            "SELECT num_timed + num_requested FROM pg_stat_checkpointer"
            if conn.info.server_version >= 170000 else
            "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter").fetchone()
        vacuums = conn.execute("SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0)"
                               " FROM pg_stat_user_tables").fetchone()
    if wal is None or done is None or vacuums is None:
        raise RuntimeError("PostgreSQL's statistics views returned no row")
    return PgCounters(records=int(wal[0]), fpi=int(wal[1]), bytes=int(wal[2]),
                       checkpoints=int(done[0]), autovacuums=int(vacuums[0]))
