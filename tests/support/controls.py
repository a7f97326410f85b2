"""Running the controls in a test: a reconciler until a condition holds, and the usage
records a poller published."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer

from controls.reconciler import Reconciler
from core.settings import Settings
from domain.usage.records import UsageRecord
from streams.events import decode_usage
from tests.support.waiting import eventually_async


async def run_until(reconciler: Reconciler, done: Callable[[], Awaitable[bool]],
                    timeout: float, what: str) -> None:
    """Run the reconciler's loops until `done()` holds, then stop them."""
    task = asyncio.create_task(reconciler.run())
    try:
        await eventually_async(done, timeout=timeout, what=what)
    finally:
        reconciler.stop()
        await task


async def published_usage(settings: Settings, want: int, within_s: float = 5.0
                          ) -> list[UsageRecord]:
    """The usage records on the usage topic: read for `within_s`, or until more than `want`
    arrived (so an extra record shows)."""
    consumer = AIOKafkaConsumer(settings.usage_topic, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[UsageRecord] = []
    try:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and len(found) <= want:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                for message in messages:
                    found.extend(decode_usage(message.value).records)
    finally:
        await consumer.stop()
    return found
