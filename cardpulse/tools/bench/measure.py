"""The Kafka floor a benchmark compares the pipeline with, measured on the same broker: a raw
aiokafka read of the usage topic. (The PostgreSQL floor and counters are in
`store.diagnostics`.)"""

from __future__ import annotations

import asyncio
import time

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition


class _Count(msgspec.Struct):
    """Only what a count needs from a usage message (msgspec skips the rest)."""

    records: list[msgspec.Raw]


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
