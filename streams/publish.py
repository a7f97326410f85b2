"""Producing usage to the usage topic as partition-aligned micro-batches.

Used by the push API and by polling connectors. `publish` returns only when the broker has
acknowledged every message (acks=all), so a caller may tell the operator "accepted".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from streams.events import UsageBatch, UsageRecord, encode_usage
from streams.partitioning import micro_batches


def _iccid(record: UsageRecord) -> str:
    return record.iccid


def usage_messages(
    operator: str, records: Sequence[UsageRecord], partitions: int, max_per_message: int,
    received_ms: int,
) -> list[tuple[int, bytes]]:
    """(partition, payload) pairs: each payload holds records of that partition's cards only."""
    return [
        (partition, encode_usage(UsageBatch(operator, received_ms, chunk)))
        for partition, chunk in micro_batches(records, _iccid, partitions, max_per_message)
    ]


class UsagePublisher:
    """Owns a producer for the usage topic; start it in a lifespan, never at import time."""

    def __init__(
        self, bootstrap: str, topic: str, partitions: int, max_per_message: int
    ) -> None:
        self._topic = topic
        self._partitions = partitions
        self._max = max_per_message
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=2,
            max_request_size=4 * 1024 * 1024, request_timeout_ms=15_000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def ready(self) -> bool:
        """True when the broker answers a metadata request for the usage topic."""
        try:
            partitions = await asyncio.wait_for(
                self._producer.partitions_for(self._topic), timeout=2
            )
        except Exception:
            return False
        return len(partitions) == self._partitions

    async def publish(self, operator: str, records: Sequence[UsageRecord]) -> int:
        """Send `records` and wait for the broker's acknowledgement; returns messages sent."""
        received_ms = int(time.time() * 1000)
        messages = usage_messages(operator, records, self._partitions, self._max, received_ms)
        futures = [
            await self._producer.send(self._topic, payload, partition=partition)
            for partition, payload in messages
        ]
        await asyncio.gather(*futures)
        return len(messages)
