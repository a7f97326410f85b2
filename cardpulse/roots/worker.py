"""Composition root of a stream worker process (`cardpulse worker`)."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timedelta
from typing import Any

import faust
import httpx
from prometheus_client import CollectorRegistry, start_http_server

from connectors.payments import PaymentChannel, PaymentChannelClient, PaymentChannelError
from core.clock import CLOCK, now
from core.money import Fen
from core.settings import Settings
from domain.delivery.assign import rng_from_settings
from domain.delivery.mail import parse_smtp_url
from store import commission_facts, commissions, fulfilment, orders, package_orders
from store.clock import adopt
from store.db import Conn, Reconnecting
from store.delivery import assign as delivery_assign
from store.delivery import card_orders
from store.delivery import reminders as delivery_reminders
from store.delivery import timeouts as delivery_timeouts
from store.pools import fullest_pools
from streams.app import create_app
from streams.commission import CommissionSink, register_commission_agent
from streams.delivery_email import deliver_emails
from streams.delivery_webhooks import deliver_reminders
from streams.lag import group_lag
from streams.metrics import TOP_POOLS, WorkerMetrics
from streams.number_cards import TICK_S, DailySweep
from streams.outbox import BATCH, relay_due
from streams.publish import Publisher
from streams.quota_events import publish_outcome
from streams.rollover import roll_over
from streams.usage import UsageSink, register_usage_agent
from streams.webhooks import deliver_due

READY_MARKER = "worker.ready"
log = logging.getLogger(__name__)


def ready_marker(index: int) -> str:
    """The file a worker writes under the run dir once it has partitions."""
    return READY_MARKER if index == 0 else f"worker-{index}.ready"


def _register_gauges(app: faust.App, settings: Settings, metrics: WorkerMetrics
                     ) -> Reconnecting:
    """Consumer lag and the fullest pools, refreshed on the leader."""
    db = Reconnecting(settings.require_database())

    async def lag() -> None:
        try:
            behind = await group_lag(settings.require_kafka(), settings.worker_group,
                                     settings.usage_topic)
            metrics.consumer_lag.labels(settings.worker_group).set(behind)
        except Exception:
            log.warning("consumer lag not measured", exc_info=True)

    async def pools() -> None:
        try:
            fullest = await db.run(lambda conn: fullest_pools(conn, TOP_POOLS))
        except Exception:
            log.warning("pool utilisation not measured", exc_info=True)
            return
        metrics.pool_utilisation.clear()
        for pool in fullest:
            metrics.pool_utilisation.labels(pool.pool_id).set(pool.ratio or 0.0)

    app.timer(interval=5.0, on_leader=True)(lag)
    app.timer(interval=15.0, on_leader=True)(pools)
    return db


async def expire_unpaid(conn: Conn, channel: PaymentChannel, topic: str) -> int:
    """SM-G2-ORDER / SM-G2-RECHARGE: cancel what is unpaid 30 minutes after creation on the
    platform clock (stamped with the due instant, C-09) and close its channel payment (a
    payment made meanwhile is refused by the channel; one that raced ahead is recorded by the
    notification endpoint as `ignored`). Returns how many were cancelled."""
    cancelled = await orders.expire_due(conn, topic)
    for order in cancelled:
        if order.payment_id is not None:
            try:
                await channel.close_payment(order.payment_id)
            except PaymentChannelError as exc:
                log.warning("payment %s not closed: %s", order.payment_id, exc)
    return len(cancelled)


UNFREEZE_BATCH = 500


async def unfreeze_commissions(db: Reconnecting, topic: str) -> int:
    """H-13: frozen commissions whose freeze has ended on the platform clock become
    `unfreezing` (with a pending approval) or `available`, stamped with their due instant
    (C-09); batches until one is not full. Returns how many moved."""
    total = 0
    while True:
        moved = await db.run(lambda conn: commissions.unfreeze_due(conn, now(), topic,
                                                                   UNFREEZE_BATCH))
        total += moved
        if moved < UNFREEZE_BATCH:
            return total


REFUND_AGAIN = timedelta(seconds=60)  # a failed order's channel refund not notified: ask again


LANES = 4  # fulfilment lanes side by side, each on its own connection


async def fulfil_lane(db: Reconnecting, publisher: Publisher, topic: str, lane: int,
                      lanes: int) -> fulfilment.Round:
    """Rounds over lane `lane` of `lanes` until a round finds less than a full batch; the desired
    changes published after each commit."""
    total = fulfilment.Round()
    while True:
        done = await db.run(functools.partial(fulfilment.fulfil_due, topic=topic,
                                              after=total.last, lane=lane, lanes=lanes))
        for outcome in done.outcomes:
            await publish_outcome(publisher, outcome)
        total.completed += done.completed
        total.looked_at += done.looked_at
        total.to_refund += done.to_refund
        total.last = done.last
        if done.looked_at < fulfilment.BATCH:
            return total


async def fulfil_orders(dbs: list[Reconnecting], channel: PaymentChannel,
                        publisher: Publisher, topic: str) -> int:
    """SM-G2-ORDER fulfilment of card-managed package orders (`store.fulfilment`), in
    `len(dbs)` lanes side by side; the channel asked to refund an online order whose card
    could not be opened. Returns how many orders completed."""
    rounds = await asyncio.gather(*(fulfil_lane(db, publisher, topic, lane, len(dbs))
                                    for lane, db in enumerate(dbs)))
    to_refund = [order for done in rounds for order in done.to_refund]
    to_refund += await dbs[0].run(lambda conn: fulfilment.unrefunded(conn, REFUND_AGAIN))
    for order in to_refund:
        try:
            await channel.refund(orders.named(order.payment_id),
                                 package_orders.refund_id(order), Fen(order.amount_fen))
        except Exception as exc:  # asked again once REFUND_AGAIN has passed
            log.warning("refund of failed order %s not asked: %s", order.order_id, exc)
    return sum(done.completed for done in rounds)


def _register_timers(app: faust.App, settings: Settings, publisher: Publisher
                     ) -> list[Reconnecting]:
    """Leader-only periodic work, each task on its own connection (they run concurrently)."""
    rollover_db = Reconnecting(settings.require_database())
    snapshot_db = Reconnecting(settings.require_database())
    webhook_db = Reconnecting(settings.require_database())
    outbox_db = Reconnecting(settings.require_database())
    orders_db = Reconnecting(settings.require_database())
    commission_db = Reconnecting(settings.require_database())
    fulfil_dbs = [Reconnecting(settings.require_database()) for _ in range(LANES)]
    number_cards = DailySweep(Reconnecting(settings.require_database()), settings.orders_topic)
    client = httpx.AsyncClient(timeout=settings.webhook_timeout_s)
    channel = PaymentChannelClient(client, settings.payment_url)

    async def rollover() -> None:
        try:
            await roll_over(rollover_db, publisher)
        except Exception:  # a timer must not take the worker down; the next tick retries
            log.exception("cycle rollover failed")

    async def activation_snapshots() -> None:  # H-30: at each month's end, once
        try:
            await snapshot_db.run(commission_facts.take_due_snapshot)
        except Exception:
            log.exception("monthly activation snapshots failed; the next tick retries")

    async def webhooks() -> None:
        try:
            await deliver_due(webhook_db, client, settings.webhook_max_attempts)
            await deliver_reminders(webhook_db, client, settings.webhook_max_attempts)
        except Exception:
            log.exception("webhook delivery failed")

    async def business_events() -> None:
        try:
            await publisher.start()  # at most once; the usage sink shares it
            while await relay_due(outbox_db, publisher) == BATCH:
                pass  # a full batch: more may wait
        except Exception:
            log.exception("outbox relay failed; the events stay and go at the next tick")

    async def unpaid() -> None:
        try:
            await orders_db.run(lambda conn: expire_unpaid(conn, channel,
                                                           settings.orders_topic))
        except Exception:
            log.exception("cancelling unpaid orders failed; the next tick retries")

    async def unfreeze() -> None:
        try:
            await unfreeze_commissions(commission_db, settings.orders_topic)
        except Exception:
            log.exception("unfreezing commissions failed; the next tick retries")

    async def fulfil() -> None:
        try:
            await publisher.start()
            await fulfil_orders(fulfil_dbs, channel, publisher, settings.orders_topic)
        except Exception:
            log.exception("order fulfilment failed; the next tick goes on where it stopped")

    async def number_card_sweep() -> None:
        try:
            await number_cards.tick()
        except Exception:
            log.exception("number-card commission sweep failed; the next tick retries")

    app.timer(interval=settings.rollover_check_s, on_leader=True)(rollover)
    app.timer(interval=settings.rollover_check_s, on_leader=True)(activation_snapshots)
    app.timer(interval=TICK_S, on_leader=True)(number_card_sweep)
    app.timer(interval=0.5, on_leader=True)(fulfil)
    app.timer(interval=5.0, on_leader=True)(unpaid)
    app.timer(interval=5.0, on_leader=True)(unfreeze)
    app.timer(interval=1.0, on_leader=True)(webhooks)
    app.timer(interval=0.5, on_leader=True)(business_events)
    return [rollover_db, snapshot_db, webhook_db, outbox_db, orders_db, commission_db,
            *fulfil_dbs, number_cards.db, *_register_delivery_timers(app, settings)]


SWEEP_BATCH = 100


def _register_delivery_timers(app: faust.App, settings: Settings) -> list[Reconnecting]:
    """The delivery engine's leader timers: the timeout sweep every
    `delivery_timeout_check_s` (I-42), the queue poll every `delivery_queue_poll_s` of
    platform time (I-37: a moved test clock polls at the next tick), and the email reminders
    every second (X-04; a bad `CARDPULSE_SMTP_URL` stops the worker at start)."""
    sweep_db = Reconnecting(settings.require_database())
    queue_db = Reconnecting(settings.require_database())
    email_db = Reconnecting(settings.require_database())
    relay = (parse_smtp_url(settings.smtp_url.get_secret_value())
             if settings.smtp_url is not None else None)
    rng = rng_from_settings(settings.test_random_seed)
    delivery_reminders.publish_to(settings.orders_topic)
    polled: list[float] = []

    async def sweep_timeouts() -> None:
        try:
            while await sweep_db.run(lambda conn: delivery_timeouts.sweep(
                    conn, SWEEP_BATCH, rng=rng)) == SWEEP_BATCH:
                pass  # a full batch: more may be due
        except Exception:
            log.exception("delivery timeout sweep failed; the next tick retries")

    async def poll_queue() -> None:
        if polled and CLOCK.time() - polled[-1] < settings.delivery_queue_poll_s:
            return
        try:
            await queue_db.run(lambda conn: delivery_assign.drain_queue(conn, rng=rng))
            polled[:] = [CLOCK.time()]
        except Exception:
            log.exception("delivery queue poll failed; the next tick retries")

    async def emails() -> None:
        try:
            await deliver_emails(email_db, relay, settings.smtp_from,
                                 settings.webhook_max_attempts, timeout_s=settings.smtp_timeout_s)
        except Exception:
            log.exception("email reminder delivery failed; the next tick retries")

    app.timer(interval=settings.delivery_timeout_check_s, on_leader=True)(sweep_timeouts)
    app.timer(interval=min(settings.delivery_timeout_check_s, 60.0),
              on_leader=True)(poll_queue)
    app.timer(interval=1.0, on_leader=True)(emails)
    return [sweep_db, queue_db, email_db]


def _register_card_orders(app: faust.App, settings: Settings) -> Reconnecting:
    """Card orders through the delivery workflow (I-63): delivery events on their topic, and
    the sweep that confirms (as 系统) each activation node whose cards all report active,
    every `delivery_timeout_check_s`."""
    db = Reconnecting(settings.require_database())
    rng = rng_from_settings(settings.test_random_seed)
    card_orders.install(orders_topic=settings.orders_topic,
                        delivery_topic=settings.delivery_topic,
                        stock=settings.card_stock_enterprise, rng=rng)

    async def card_activations() -> None:
        try:
            await db.run(lambda conn: card_orders.confirm_activated(conn, rng=rng))
        except Exception:
            log.exception("card activation sweep failed; the next tick retries")

    app.timer(interval=settings.delivery_timeout_check_s, on_leader=True)(card_activations)
    return db


def _follow_clock(app: faust.App, settings: Settings) -> Reconnecting:
    """Adopt the platform clock's offset at start and, with the test clock on, every second."""
    db = Reconnecting(settings.require_database())

    async def sync() -> None:
        try:
            await adopt(db, CLOCK)
        except Exception:
            log.warning("platform clock offset not read", exc_info=True)

    app.task(sync)
    if settings.test_clock:
        app.timer(interval=1.0)(sync)
    return db


def build_worker(settings: Settings) -> faust.Worker:
    """Wire the faust app, its agents, timers and sinks; connects nothing until started."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)  # faust makes one level
    app = create_app(settings)
    publisher = Publisher(settings)
    metrics = WorkerMetrics.create(CollectorRegistry())
    sink = UsageSink(Reconnecting(settings.require_database()), publisher, metrics)
    register_usage_agent(app, settings, sink)
    commission = CommissionSink(Reconnecting(settings.require_database()), settings.orders_topic)
    register_commission_agent(app, settings, commission)
    timer_dbs = [*_register_timers(app, settings, publisher),
                 _register_gauges(app, settings, metrics), _follow_clock(app, settings)]
    timer_dbs.append(_register_card_orders(app, settings))
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.host,
                          registry=metrics.registry)
    marker = settings.run_dir / ready_marker(settings.worker_index)
    marker.unlink(missing_ok=True)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode types it narrowly
    async def _ready(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("ready\n")

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _close(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        marker.unlink(missing_ok=True)
        await sink.close()
        await commission.close()
        for db in timer_dbs:
            await db.close()

    return faust.Worker(app, loglevel=logging.WARNING, redirect_stdouts=False, quiet=True)


def run(settings: Settings) -> None:
    """Run one stream worker in the foreground until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    build_worker(settings).execute_from_commandline()
