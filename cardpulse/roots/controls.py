"""Composition root of the controls process (`cardpulse controls`): the reconciler.

Partitions come from a consumer group on the desired-state topic, so several reconcilers
split the cards by ICCID; each desired-state message wakes the loops, and a periodic scan of
PostgreSQL catches retries, cooldowns and anything a lost message would have said.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from prometheus_client import CollectorRegistry, start_http_server

from connectors.base import OperatorClient
from connectors.factory import build_clients
from controls.metrics import ControlsMetrics
from controls.poller import poll_operator
from controls.reconciler import OperatorLane, Policy, Reconciler
from core.clock import CLOCK
from core.settings import Settings
from store.clock import adopt, follow
from store.controls import count_failed
from store.db import Reconnecting
from streams.publish import Publisher

READY_MARKER = "controls.ready"
STOP_GRACE_S = 5.0
log = logging.getLogger(__name__)


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.partitions: set[int] = set()
        self._marker = settings.run_dir / READY_MARKER

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self.partitions -= {tp.partition for tp in revoked}

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.partitions |= {tp.partition for tp in assigned}
        self._marker.parent.mkdir(parents=True, exist_ok=True)
        self._marker.write_text("ready\n")


def policy_of(settings: Settings) -> Policy:
    """The reconciler's policy; cooldowns are each operator's (`lanes_of`)."""
    return Policy(settings.controls_max_attempts, settings.controls_card_cooldown_s or 0.0,
                  settings.controls_backoff_base_s, settings.controls_backoff_cap_s,
                  settings.controls_scan_s, settings.controls_scan_limit,
                  settings.controls_confirm_first_s, settings.controls_confirm_cap_s,
                  settings.controls_confirm_deadline_s)


def lanes_of(settings: Settings, clients: dict[str, OperatorClient]) -> dict[str, OperatorLane]:
    """One lane per operator with that operator's own policy (cooldown, rate, batch)."""
    lanes = {}
    for operator, client in clients.items():
        own = settings.operator_policy(operator)
        lanes[operator] = OperatorLane(client, own.rate_per_s, in_flight=own.in_flight,
                                       max_batch=own.max_batch, cooldown_s=own.cooldown_s)
    return lanes


async def _poll_loop(settings: Settings, lanes: dict[str, OperatorLane],
                     partitions: Callable[[], list[int]]) -> None:
    """Poll the configured operators' usage counters every CARDPULSE_POLL_INTERVAL_S."""
    db = Reconnecting(settings.require_database())
    publisher = Publisher(settings)
    try:
        while True:
            for operator in settings.polled_operators:
                try:
                    await poll_operator(
                        db, lanes[operator], publisher, partitions(),
                        cycle_day=settings.operator_policy(operator).cycle_day,
                        close_delay_s=settings.poll_close_delay_s)
                except Exception:
                    log.exception("usage poll of %s failed", operator)
            await asyncio.sleep(settings.poll_interval_s)
    finally:
        await publisher.stop()
        await db.close()


async def _count_failed(db: Reconnecting, metrics: ControlsMetrics) -> None:
    while True:
        failed, held = await db.run(count_failed)
        metrics.failed_cards.set(failed)
        metrics.held_cards.set(held)
        await asyncio.sleep(10)


async def _consume(consumer: AIOKafkaConsumer, reconciler: Reconciler) -> None:
    while True:
        batch = await consumer.getmany(timeout_ms=500)
        if any(batch.values()):
            reconciler.wake()


async def serve(settings: Settings) -> None:
    """Run the reconciler until SIGTERM/SIGINT."""
    (settings.run_dir / READY_MARKER).unlink(missing_ok=True)
    db = Reconnecting(settings.require_database())
    assignment = _Assignment(settings)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.require_kafka(), group_id=settings.controls_group,
        auto_offset_reset="earliest", enable_auto_commit=True, fetch_max_wait_ms=100,
        session_timeout_ms=int(settings.kafka_session_timeout_s * 1000),
        heartbeat_interval_ms=int(max(settings.kafka_session_timeout_s / 6, 0.5) * 1000),
    )
    consumer.subscribe([settings.desired_topic], listener=assignment)
    async with httpx.AsyncClient(timeout=10) as http:
        lanes = lanes_of(settings, build_clients(settings, http))
        metrics = ControlsMetrics.create(CollectorRegistry())
        if settings.controls_metrics_port:
            start_http_server(settings.controls_metrics_port, addr=settings.host,
                              registry=metrics.registry)
        reconciler = Reconciler(db, lanes, policy_of(settings),
                                lambda: sorted(assignment.partitions), metrics=metrics)
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()

        def stop() -> None:
            # Finish the round in hand; if it is stuck (say, waiting for a database that is
            # gone), cancel it after a grace period: what was not recorded is asked again.
            reconciler.stop()
            if main is not None:
                loop.call_later(STOP_GRACE_S, main.cancel)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        await consumer.start()
        feed = asyncio.create_task(_consume(consumer, reconciler))
        polls = asyncio.create_task(_poll_loop(settings, lanes,
                                               lambda: sorted(assignment.partitions)))
        failed = asyncio.create_task(_count_failed(db, metrics))
        clock_db = Reconnecting(settings.require_database())
        await adopt(clock_db, CLOCK)
        clock = asyncio.create_task(follow(clock_db, CLOCK)) if settings.test_clock else None
        try:
            await reconciler.run()
        finally:
            for task in (feed, polls, failed, clock):
                if task is not None:
                    task.cancel()
            await clock_db.close()
            await consumer.stop()
            await db.close()
            (settings.run_dir / READY_MARKER).unlink(missing_ok=True)


def run(settings: Settings) -> None:
    """Run the reconciler (and the usage poller) in the foreground until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(serve(settings))
    except asyncio.CancelledError:
        log.warning("stopped after the %.0f s grace period", STOP_GRACE_S)
