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
