"""The stream worker as a real process on the embedded broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import msgspec
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from core.clock import now_ms as platform_now_ms
from core.settings import Settings
from domain.usage.records import UsageRecord
from streams.publish import Publisher
from tests.support.dates import mid_cycle, store_clock
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
CARDS = [f"89860000000000{n:05d}" for n in range(20)]


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('e', 'E')")
        for n, iccid in enumerate(CARDS):
            package = 1500 if n % 2 == 0 else 5000  # each card ends at 2000 bytes
            conn.execute("INSERT INTO cards (iccid, enterprise_id, operator, package_bytes)"
                         " VALUES (%s, 'e', 'jasper', %s)", (iccid, package))
    # Records dated now count in the cycle the worker's rules see, whatever the date.
    asyncio.run(store_clock(settings.require_database(), mid_cycle()))
    process = WorkerProcess(settings, tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()


def stored(settings: Settings) -> tuple[int, int, int]:
    """(records stored, bytes in cycle totals, dead letters)."""
    with psycopg.connect(settings.require_database()) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM usage_records),"
            " (SELECT coalesce(sum(bytes), 0) FROM card_cycle_usage),"
            " (SELECT count(*) FROM dead_letters)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def records(start: int, count: int, now_ms: int | None = None) -> list[UsageRecord]:
    now_ms = now_ms or platform_now_ms() - 5000
    return [UsageRecord(f"rec-{n}", CARDS[n % len(CARDS)], 10, now_ms - 1000, now_ms)
            for n in range(start, start + count)]


async def publish(settings: Settings, batch: list[UsageRecord], per_message: int = 50) -> None:
    publisher = Publisher(settings.model_copy(update={"micro_batch_records": per_message}))
    await publisher.start()
    try:
        await publisher.publish_usage("jasper", batch)
    finally:
        await publisher.stop()


async def test_usage_is_stored_once_and_poison_is_dead_lettered(
    settings: Settings, worker: WorkerProcess,
) -> None:
    batch = records(0, 500, now_ms=1_790_000_000_000)
    await publish(settings, batch)
    await publish(settings, batch[:200])  # the operator pushed part of it again
    producer = AIOKafkaProducer(bootstrap_servers=settings.require_kafka())
    await producer.start()
    await producer.send_and_wait(settings.usage_topic, b"\x00garbage", partition=0)
    await producer.stop()
    eventually(lambda: stored(settings) == (500, 5000, 1), timeout=60,
               what="500 records, 5000 bytes, 1 dead letter", show=lambda: stored(settings))
    consumer = AIOKafkaConsumer(settings.dead_letter_topic, auto_offset_reset="earliest",
                                bootstrap_servers=settings.require_kafka())
    await consumer.start()
    try:
        found = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    letters = [msgspec.json.decode(m.value) for batch in found.values() for m in batch]
    assert len(letters) == 1 and letters[0]["reason"].startswith("undecodable usage message")
    assert base64.b64decode(letters[0]["payload"]["raw_base64"]) == b"\x00garbage"


async def test_killed_worker_loses_nothing_and_counts_nothing_twice(
    settings: Settings, worker: WorkerProcess,
) -> None:
    first = records(0, 3000)
    await publish(settings, first, per_message=20)
    eventually(lambda: stored(settings)[0] > 0, timeout=60, what="first batches stored")
    worker.stop(signal.SIGKILL)  # mid-stream: uncommitted offsets will be redelivered
    await publish(settings, records(3000, 1000), per_message=20)
    worker.start()
    eventually(lambda: stored(settings) == (4000, 40000, 0), timeout=90,
               what="all 4000 records exactly once after the restart",
               show=lambda: stored(settings))
    assert os.path.exists(settings.run_dir / "worker.ready")
    with psycopg.connect(settings.require_database()) as conn:
        rows = conn.execute("SELECT c.iccid, u.bytes, c.stop_reasons FROM cards c"
                            " JOIN card_cycle_usage u USING (iccid) ORDER BY c.iccid").fetchall()
    assert [(iccid, used) for iccid, used, _ in rows] == [(iccid, 2000) for iccid in CARDS]
    assert [reasons for *_, reasons in rows] == [
        ["package_quota"] if n % 2 == 0 else [] for n in range(len(CARDS))]
