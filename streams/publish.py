"""Producing CardPulse events: usage and desired-state changes as partition-aligned
micro-batches, alerts keyed by enterprise.

Used by the push API, the stream worker and polling connectors. Every `publish_*` returns
only when the broker has acknowledged every message (acks=all).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from core.settings import Settings
from domain.usage.partitioning import micro_batches
from domain.usage.records import UsageRecord
from streams.events import (
    DeadLetter,
    DesiredState,
    DesiredStateBatch,
    QuotaAlert,
    UsageBatch,
    encode,
    encode_usage,
)


def _iccid(item: UsageRecord | DesiredState) -> str:
    return item.iccid


def usage_messages(
    operator: str, records: Sequence[UsageRecord], partitions: int, max_per_message: int,
    received_ms: int,
) -> list[tuple[int, bytes]]:
    """(partition, payload) pairs: each payload holds records of that partition's cards only."""
    return [
        (partition, encode_usage(UsageBatch(operator, received_ms, chunk)))
        for partition, chunk in micro_batches(records, _iccid, partitions, max_per_message)
    ]


def desired_messages(
    changes: Sequence[DesiredState], partitions: int, max_per_message: int
) -> list[tuple[int, bytes]]:
    return [
        (partition, encode(DesiredStateBatch(chunk)))
        for partition, chunk in micro_batches(changes, _iccid, partitions, max_per_message)
    ]


class Unavailable(RuntimeError):
    """The broker did not acknowledge every message (nothing is known to be lost: callers
    retry, or answer 503 so that their caller does)."""


class Publisher:
    """Owns one producer; start it in a lifespan or on worker start, never at import time."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._bootstrap = settings.require_kafka()
        self._started: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("Publisher.start() was not awaited")
        return self._started

    async def start(self) -> None:
        """Connect (aiokafka needs a running loop, so this cannot happen in __init__)."""
        if self._started is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, acks="all", linger_ms=2,
                max_request_size=4 * 1024 * 1024, request_timeout_ms=15_000,
            )
            await producer.start()
            self._started = producer

    async def stop(self) -> None:
        if self._started is not None:
            await self._started.stop()
            self._started = None

    async def ready(self) -> bool:
        """True when the broker answers a metadata request for the usage topic."""
        try:
            partitions = await asyncio.wait_for(
                self._producer.partitions_for(self._settings.usage_topic), timeout=2)
        except Exception:
            return False
        return len(partitions) == self._settings.usage_partitions

    async def _send_all(self, topic: str, messages: Sequence[tuple[int | None, bytes]],
                        key: bytes | None = None) -> int:
        try:
            futures = [await self._producer.send(topic, payload, key=key, partition=partition)
                       for partition, payload in messages]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise Unavailable(f"{topic}: {type(exc).__name__}: {exc}") from exc
        return len(futures)

    async def publish_usage(self, operator: str, records: Sequence[UsageRecord]) -> int:
        """Send usage records; returns the number of messages."""
        s = self._settings
        messages = usage_messages(operator, records, s.usage_partitions, s.micro_batch_records,
                                  int(time.time() * 1000))
        return await self._send_all(s.usage_topic, list(messages))

    async def publish_desired(self, changes: Sequence[DesiredState]) -> int:
        s = self._settings
        messages = desired_messages(changes, s.usage_partitions, s.micro_batch_records)
        return await self._send_all(s.desired_topic, list(messages))

    async def publish_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        messages: list[tuple[int | None, bytes]] = [(None, encode(x)) for x in letters]
        return await self._send_all(self._settings.dead_letter_topic, messages)

    async def publish_keyed(self, topic: str, messages: Sequence[tuple[str, bytes]]) -> int:
        """Send (key, payload) messages, each to the partition of its key."""
        try:
            futures = [await self._producer.send(topic, payload, key=key.encode())
                       for key, payload in messages]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise Unavailable(f"{topic}: {type(exc).__name__}: {exc}") from exc
        return len(futures)

    async def publish_alerts(self, alerts: Sequence[QuotaAlert]) -> int:
        for alert in alerts:
            await self._send_all(self._settings.alerts_topic, [(None, encode(alert))],
                                 key=alert.enterprise_id.encode())
        return len(alerts)
