"""Wait until a consumer group has committed everything on a topic (best effort).

Used by `up` before it stops the embedded broker, which keeps messages only in memory: usage
the API accepted must be in PostgreSQL before the broker goes away. The embedded broker may
report an end offset a little low for multi-record batches (shared/notes/embedded-kafka.md),
so this is a bounded wait, not a proof.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Messages on `topic` not yet committed by `group`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                request_timeout_ms=3000)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await consumer.start()
        await admin.start()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        return sum(max(end - done.get(tp, 0), 0) for tp, end in ends.items())
    finally:
        await consumer.stop()
        await admin.close()


def wait_drained(bootstrap: str, group: str, topic: str, timeout: float) -> bool:
    """Poll the group's lag until it is zero or `timeout` passes; True when drained."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            lag = asyncio.run(asyncio.wait_for(group_lag(bootstrap, group, topic), timeout=5))
            if lag == 0:
                return True
        except Exception:  # noqa: S110 - the broker may be going away; the deadline decides
            pass
        time.sleep(0.3)
    return False
