"""The floors a benchmark compares the pipeline with, measured on the same broker and database:
a raw binary COPY of the stored rows, and a raw aiokafka read of the usage topic."""

from __future__ import annotations

import asyncio
import time

import msgspec
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition


class _Count(msgspec.Struct):
    """Only what a count needs from a usage message (msgspec skips the rest)."""

    records: list[msgspec.Raw]


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


async def _consume(bootstrap: str, topic: str, partitions: int, expected: int, idle_s: float
                   ) -> tuple[float, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_bytes=64 * 1024 * 1024,
                                max_partition_fetch_bytes=16 * 1024 * 1024)
    await consumer.start()
    decoder = msgspec.json.Decoder(_Count)
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        records = 0
        started = last = time.perf_counter()
        while records < expected and time.perf_counter() - last < idle_s:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for messages in batches.values():
                for message in messages:
                    records += len(decoder.decode(message.value or b"{}").records)
                last = time.perf_counter()
        return records / (last - started), records
    finally:
        await consumer.stop()


def kafka_consume_records_per_s(bootstrap: str, topic: str, partitions: int, expected: int,
                                idle_s: float = 3.0) -> tuple[float, int]:
    """Read the usage topic from the start with a plain aiokafka consumer, decoding each
    micro-batch to count its records; returns (records/s, records read)."""
    return asyncio.run(_consume(bootstrap, topic, partitions, expected, idle_s))


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
