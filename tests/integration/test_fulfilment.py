"""Fulfilment of card-managed package orders (G2-17…G2-20, SM-G2-ORDER): the package applied
to the card through the core's path (a card stopped by `package_quota` resumes), a first
package opening an inventory card and the order completing only once the network confirms it,
a failed activation failing and refunding the order, a refund reverting the package and the
count, and an interrupted or repeated fulfilment changing nothing twice. The orders go through
the API (Flow 2: the agent's wallet); the worker's round (`store.fulfilment.fulfil_due`) runs
in the test, or in a real worker process; the reconciler against the operator simulator or a
scripted operator."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from cardpulse.roots.worker import fulfil_orders
from connectors.factory import build_clients
from connectors.payments import PaymentChannelClient
from controls.reconciler import OperatorLane, Policy, Reconciler
from core.settings import Settings
from domain.ledger import REVENUE, agent_available, order_escrow
from domain.usage.partitioning import partition_for
from domain.usage.records import UsageRecord
from store import fulfilment, package_orders
from store.audit import history
from store.cards import NewCard, card_opened, create_card, get_card
from store.db import Conn, Reconnecting
from store.enterprises import create_enterprise
from store.orders import get_order
from store.usage import OperatorRecords, account
from streams.publish import Publisher
from tests.support.controls import run_until
from tests.support.operator import ScriptedOperator
from tests.support.orders import Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok
from tests.support.refunds import refund_approved
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration
GIB = 1 << 30  # the package p90 of the spec world
POLICY = Policy(max_attempts=20, card_cooldown_s=0.0, backoff_base_s=0.05, backoff_cap_s=0.3,
                scan_s=0.05, scan_limit=2000, confirm_first_s=0.1, confirm_cap_s=0.3,
                confirm_deadline_s=60.0)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        yield made


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        await create_enterprise(made, "e", "E", "Asia/Shanghai")
        yield made


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def register(conn: Conn, settings: Settings, iccid: str, operator: str = "onelink", *,
                   package_bytes: int | None = None, opened: bool = True,
                   msisdn: str | None = None) -> None:
    await create_card(conn, "e", NewCard(iccid, operator, package_bytes, None, [],  # type: ignore[arg-type]
                                         partition_for(iccid, settings.usage_partitions),
                                         msisdn, opened=opened))


async def use(conn: Conn, iccid: str, nbytes: int) -> None:
    now_ms = int(time.time() * 1000)
    record = UsageRecord(f"u-{iccid}-{nbytes}", iccid, nbytes, now_ms - 60_000, now_ms)
    await account(conn, [OperatorRecords("onelink", now_ms, [record])])


async def buy(world: Shop, iccid: str) -> dict[str, Any]:
    """A Flow-2 order of p90 for the card, A's wallet prepaid with its cost (6000)."""
    a = world.who("a.admin")
    await recharge(world, a, "agent", 6000)
    made = await order(a, "agent_wallet", iccid)
    assert made["state"] == "fulfilling"
    return dict(made)


async def fulfil(conn: Conn, settings: Settings) -> fulfilment.Round:
    return await fulfilment.fulfil_due(conn, settings.orders_topic)


def scripted(settings: Settings, operator: ScriptedOperator) -> tuple[Reconciler, Reconnecting]:
    db = Reconnecting(settings.require_database())
    partitions = list(range(settings.usage_partitions))
    return Reconciler(db, {"onelink": OperatorLane(operator)}, POLICY, lambda: partitions,
                      random.Random(1)), db


def simulated(settings: Settings, sim: Any, http: httpx.AsyncClient,
              policy: Policy = POLICY) -> Reconciler:
    configured = settings.model_copy(update={"operator_base_url": sim.url})
    lanes = {op: OperatorLane(c) for op, c in build_clients(configured, http).items()}
    partitions = list(range(settings.usage_partitions))
    return Reconciler(Reconnecting(settings.require_database()), lanes, policy,
                      lambda: partitions, random.Random(7))


@pytest.mark.req("G2-18", "G2-19", "SM-G2-ORDER")
async def test_a_card_stopped_by_its_package_quota_resumes_after_a_paid_package_order(
    world: Shop, settings: Settings, conn: Conn, tmp_path: Path,
) -> None:
    card = "89860012300000008001"
    await register(conn, settings, card, package_bytes=100)
    operator = ScriptedOperator()
    operator.statuses[card] = "active"
    rec, db = scripted(settings, operator)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        await use(conn, card, 150)
        assert (await get_card(conn, card)).stop_reasons == ["package_quota"]
        await rec.round("onelink")
        assert operator.changes() == [("stopped", (card,))]

        worker.start()
        made = await buy(world, card)
        done = await world.reaches(made["order_id"], "completed")
        assert (done["package_before"], done["package_added"], done["counted"]) == (
            100, GIB, True)
        view = await get_card(conn, card)
        assert (view.package_bytes, view.stop_reasons, view.desired_status,
                view.package_count) == (100 + GIB, [], "active", 1)

        async def resumed() -> bool:
            await rec.round("onelink")
            return operator.changes()[-1] == ("active", (card,))

        await eventually_async(resumed, timeout=20, what="resumed at the operator")
        shown = await ok(world.market.admin.get(f"/v1/cards/{card}"))
        assert shown["package_count"] == 1 and shown["package_bytes"] == 100 + GIB
        escrow = order_escrow(made["order_id"])
        assert await world.balances(escrow, REVENUE) == {escrow: 0, REVENUE: 6000}
    finally:
        worker.stop()
        await db.close()


@pytest.mark.req("G2-17", "G2-18", "SM-G2-ORDER")
async def test_a_first_package_opens_an_inventory_card_and_completes_once_confirmed(
    world: Shop, settings: Settings, conn: Conn, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(cooldown_s=0, activation_ms=1500)
    card, number = "89860012300000008101", "1440000008101"
    await register(conn, settings, card, opened=False, msisdn=number)
    answer = await http.put(f"{sim.url}/_sim/cards/{card}",
                            json={"msisdn": number, "stage": "inventory"})
    assert answer.is_success, answer.text
    made = await buy(world, card)

    first = await fulfil(conn, settings)
    assert first.completed == 0
    changes = [c for o in first.outcomes for c in o.changes]
    assert [(c.iccid, c.desired_status) for c in changes][-1] == (card, "active")
    waiting = await get_order(conn, made["order_id"])
    assert waiting.state == "fulfilling"
    assert waiting.package_applied_at is not None and waiting.activation_asked_at is not None
    view = await get_card(conn, card)
    assert (view.package_bytes, view.stop_reasons, view.opened) == (GIB, [], False)

    again = await fulfil(conn, settings)
    assert again.completed == 0 and not any(o.changes for o in again.outcomes)
    assert (await get_order(conn, made["order_id"])).state == "fulfilling"

    async def opened() -> bool:
        return await card_opened(conn, card)

    await run_until(simulated(settings, sim, http), opened, 30, "opened at the simulator")
    assert (await get_order(conn, made["order_id"])).state == "fulfilling", \
        "completed by fulfilment, not by the activation itself"
    done = await fulfil(conn, settings)
    assert done.completed == 1
    completed = await get_order(conn, made["order_id"])
    assert completed.state == "completed" and completed.finished_at is not None
    assert completed.package_applied_at is not None
    assert completed.finished_at >= completed.package_applied_at
    view = await get_card(conn, card)
    assert (view.opened, view.package_count, view.network_status) == (True, 1, "active")
    on_network = (await http.get(f"{sim.url}/_sim/cards/{card}")).json()
    assert (on_network["status"], on_network["status_changes"]) == ("active", 1)


@pytest.mark.req("G2-17", "G2-20", "SM-G2-ORDER")
async def test_a_failed_activation_fails_the_order_and_refunds_it_in_full(
    world: Shop, settings: Settings, conn: Conn, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(cooldown_s=0, error_rate=1.0)
    card, number = "89860012300000008201", "1410000008201"
    await register(conn, settings, card, "ctcc", opened=False, msisdn=number)
    answer = await http.put(f"{sim.url}/_sim/cards/{card}",
                            json={"msisdn": number, "stage": "inventory"})
    assert answer.is_success, answer.text
    made = await buy(world, card)
    await fulfil(conn, settings)
    rec = simulated(settings, sim, http, Policy(
        max_attempts=3, card_cooldown_s=0, backoff_base_s=0.01, backoff_cap_s=0.05,
        scan_s=0.05, scan_limit=10))

    async def failed() -> bool:
        view = await get_card(conn, card)
        return view.control is not None and view.control.state == "failed"

    await run_until(rec, failed, 20, "activation failed after 3 attempts")
    round_ = await fulfil(conn, settings)
    assert round_.completed == 0 and round_.to_refund == []  # a wallet: refunded at once
    done = await get_order(conn, made["order_id"])
    assert (done.state, done.reason, done.counted) == ("refunded", "activation_failed", False)
    assert done.package_reverted_at is not None
    view = await get_card(conn, card)
    assert (view.package_bytes, view.package_count, view.opened) == (None, 0, False)
    escrow = order_escrow(made["order_id"])
    assert await world.balances(escrow, REVENUE, agent_available("A")) == {
        escrow: 0, REVENUE: 0, agent_available("A"): 6000}
    trail = await history(conn, "order", made["order_id"])
    assert [(e.from_state, e.to_state) for e in trail] == [
        (None, "paid"), ("paid", "fulfilling"), ("fulfilling", "failed"),
        ("failed", "refunded")]
    assert (await fulfil(conn, settings)).looked_at == 0


@pytest.mark.req("G2-19", "G2-20", "SM-G2-ORDER")
async def test_a_refund_reverts_the_package_and_the_count(
    world: Shop, settings: Settings, conn: Conn,
) -> None:
    card = "89860012300000008301"
    await register(conn, settings, card, package_bytes=100)
    await use(conn, card, 150)
    first = await buy(world, card)
    second = await buy(world, card)
    assert (await fulfil(conn, settings)).completed == 2
    view = await get_card(conn, card)
    assert (view.package_bytes, view.package_count, view.stop_reasons) == (100 + 2 * GIB, 2, [])

    refunded = await refund_approved(world, first["order_id"])  # operator, then finance
    assert (refunded["state"], refunded["counted"]) == ("refunded", False)
    assert refunded["package_reverted_at"] is not None
    view = await get_card(conn, card)
    assert (view.package_bytes, view.package_count) == (100 + GIB, 1), "only its own bytes"
    await refund_approved(world, second["order_id"])
    view = await get_card(conn, card)
    assert (view.package_bytes, view.package_count) == (100, 0)
    assert view.stop_reasons == ["package_quota"], "the quota rules re-ran: stopped again"
    assert await world.balances(agent_available("A"), REVENUE) == {
        agent_available("A"): 12000, REVENUE: 0}


@pytest.mark.req("G2-18", "G2-19", "SM-G2-ORDER")
async def test_an_interrupted_or_repeated_fulfilment_changes_nothing_twice(
    world: Shop, settings: Settings, conn: Conn, monkeypatch: pytest.MonkeyPatch,
) -> None:
    card, unopened = "89860012300000008401", "89860012300000008402"
    await register(conn, settings, card, package_bytes=100)
    await register(conn, settings, unopened, opened=False)
    made = await buy(world, card)
    waiting = await buy(world, unopened)

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed between applying the package and completing")

    with monkeypatch.context() as patched:
        patched.setattr(package_orders, "complete", crash)
        patched.setattr(package_orders, "complete_many", crash)  # a chunk of plain orders
        with pytest.raises(RuntimeError):
            await fulfil(conn, settings)
    assert (await get_order(conn, made["order_id"])).package_applied_at is None
    assert (await get_card(conn, card)).package_bytes == 100, "rolled back with the order"

    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as other:
        rounds = await asyncio.gather(fulfil(conn, settings), fulfil(other, settings))
    assert sum(r.completed for r in rounds) == 1, "two workers: one completion"
    for _ in range(3):
        assert (await fulfil(conn, settings)).completed == 0
    view = await get_card(conn, card)
    assert (view.package_bytes, view.package_count) == (100 + GIB, 1)
    escrow = order_escrow(made["order_id"])
    assert await world.balances(escrow, REVENUE) == {escrow: 0, REVENUE: 6000}
    trail = await history(conn, "order", made["order_id"])
    assert [e.to_state for e in trail].count("completed") == 1

    asked = await get_order(conn, waiting["order_id"])
    assert asked.state == "fulfilling" and asked.activation_asked_at is not None
    view = await get_card(conn, unopened)
    assert (view.package_bytes, view.package_count, view.opened) == (GIB, 0, False)


@pytest.mark.req("G2-18")
async def test_lanes_share_the_orders_out_between_them(
    world: Shop, settings: Settings, conn: Conn,
) -> None:
    cards = [f"8986001230000000850{i}" for i in range(4)]
    for card in cards:
        await register(conn, settings, card, package_bytes=0)
    made = [await buy(world, card) for card in cards]
    rounds = [await fulfilment.fulfil_due(conn, settings.orders_topic, lane=lane, lanes=3)
              for lane in range(3)]
    assert sum(r.looked_at for r in rounds) == sum(r.completed for r in rounds) == 4
    for each in made:
        assert (await get_order(conn, each["order_id"])).state == "completed"


@pytest.mark.req("G2-17", "G2-18", "G2-19")
async def test_a_worker_killed_while_an_order_waits_for_its_card_repeats_nothing(
    world: Shop, settings: Settings, conn: Conn, tmp_path: Path,
) -> None:
    card = "89860012300000008601"
    await register(conn, settings, card, opened=False)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    operator = ScriptedOperator()
    operator.statuses[card] = "stopped"  # in the operator's inventory, never opened
    rec, db = scripted(settings, operator)
    try:
        worker.start()
        made = await buy(world, card)

        async def asked() -> Any:
            found = await get_order(conn, made["order_id"])
            return found if found.activation_asked_at is not None else None

        first = await eventually_async(asked, timeout=30, what="activation asked")
        worker.stop(signal.SIGKILL)
        worker.start()
        await asyncio.sleep(3)  # the new worker's rounds over the waiting order
        again = await get_order(conn, made["order_id"])
        assert (again.state, again.activation_asked_at, again.package_applied_at) == (
            "fulfilling", first.activation_asked_at, first.package_applied_at)
        assert (await get_card(conn, card)).package_bytes == GIB, "applied once"

        async def opened() -> bool:
            await rec.round("onelink")
            return await card_opened(conn, card)

        await eventually_async(opened, timeout=20, what="opened")
        done = await world.reaches(made["order_id"], "completed")
        assert done["counted"]
        view = await get_card(conn, card)
        assert (view.package_bytes, view.package_count) == (GIB, 1)
        assert operator.activations() == [(card,)]
        escrow = order_escrow(made["order_id"])
        assert await world.balances(escrow, REVENUE) == {escrow: 0, REVENUE: 6000}
    finally:
        worker.stop()
        await db.close()


@pytest.mark.req("G2-17", "G2-20", "SM-G2-ORDER")
async def test_an_online_order_whose_card_cannot_be_opened_is_refunded_through_the_channel(
    world: Shop, settings: Settings, conn: Conn, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(cooldown_s=0, error_rate=1.0)
    card, number = "89860012300000008701", "1410000008701"
    await register(conn, settings, card, "ctcc", opened=False, msisdn=number)
    answer = await http.put(f"{sim.url}/_sim/cards/{card}",
                            json={"msisdn": number, "stage": "inventory"})
    assert answer.is_success, answer.text
    made = await order(world.who("buyer"), "online", card)
    await world.pay(made, "fulfilling")
    channel = PaymentChannelClient(world.pay_http, f"{world.pay_http.base_url}/_pay")
    publisher = Publisher(settings)
    dbs = [Reconnecting(settings.require_database())]
    try:
        await publisher.start()
        assert await fulfil_orders(dbs, channel, publisher, settings.orders_topic) == 0
        asked = await get_order(conn, made["order_id"])
        assert asked.activation_asked_at is not None, asked
        assert (await get_card(conn, card)).desired_status == "active", await get_card(conn, card)
        rec = simulated(settings, sim, http, Policy(
            max_attempts=2, card_cooldown_s=0, backoff_base_s=0.01, backoff_cap_s=0.05,
            scan_s=0.05, scan_limit=10))

        async def failed() -> bool:
            view = await get_card(conn, card)
            return view.control is not None and view.control.state == "failed"

        await run_until(rec, failed, 20, "activation failed")
        await fulfil_orders(dbs, channel, publisher, settings.orders_topic)
        done = await world.reaches(made["order_id"], "refunded")
        assert (done["reason"], done["counted"]) == ("activation_failed", False)
        assert done["package_reverted_at"] is not None
    finally:
        await publisher.stop()
        for db in dbs:
            await db.close()
    accounts = (REVENUE, agent_available("A"), order_escrow(made["order_id"]),
                "external:payment_channel")
    assert await world.balances(*accounts) == dict.fromkeys(accounts, 0)
    assert (await get_card(conn, card)).package_bytes is None
