"""Partition-aligned micro-batches: every record of a message maps to the message's partition."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as kafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from domain.usage.partitioning import murmur2, partition_for
from domain.usage.records import UsageRecord
from streams.events import decode_usage
from streams.publish import usage_messages


def iccid(n: int) -> str:
    return f"8986{n:015d}"


def test_partition_matches_kafka_default_partitioner() -> None:
    kafka = DefaultPartitioner()
    for n in range(200):
        key = iccid(n).encode()
        assert partition_for(iccid(n), 8) == kafka(key, list(range(8)), list(range(8)))


@given(st.binary(max_size=64))
def test_murmur2_is_kafkas(data: bytes) -> None:
    assert murmur2(data) == kafka_murmur2(data)


def test_messages_are_partition_aligned_and_bounded() -> None:
    records = [UsageRecord(f"r{n}", iccid(n % 50), n, 0, 1) for n in range(1234)]
    messages = usage_messages("onelink", records, partitions=4, max_per_message=100,
                              received_ms=42)
    seen = []
    for partition, payload in messages:
        batch = decode_usage(payload)
        assert batch.operator == "onelink" and batch.received_ms == 42
        assert 0 < len(batch.records) <= 100
        assert {partition_for(r.iccid, 4) for r in batch.records} == {partition}
        seen.extend(batch.records)
    assert sorted(seen, key=lambda r: r.record_id) == sorted(records, key=lambda r: r.record_id)
