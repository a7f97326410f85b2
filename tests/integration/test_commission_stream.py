"""The commission consumer as the worker runs it (H-37, H-41, C-05): orders, recharges and
real-name events made through the API go out through the worker's outbox relay to the orders
topic on the embedded broker, and the worker's commission agent turns them into records. A
replay of the whole topic by a new consumer group — with the inbox lost, even — and a worker
killed mid-stream then restarted produce every record exactly once and no second transfer."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.clock import now
from core.settings import Settings
from domain.ledger import agent_available, agent_commission_frozen
from store import ledger
from store.db import Conn
from streams.commission import CARD_EVENTS
from streams.lag import group_lag
from tests.support.api import signed_body
from tests.support.commission import one_time_rule, rule_row
from tests.support.orders import Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration
CARDS = [f"8986000000000000{n:04d}" for n in range(1, 4)]
SECRET = "commission-stream-secret"
FROZEN_A, AVAILABLE_A = agent_commission_frozen("A"), agent_available("A")
WAIT_S = 90.0


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        admin = made.market.admin
        put = await admin.put("/v1/operators/onelink/push-secret", json={"secret": SECRET})
        assert put.status_code == 204, put.text
        await ok(admin.post("/v1/enterprises", json={"enterprise_id": "e", "name": "E"}), 201)
        for iccid in CARDS:
            await ok(admin.post("/v1/cards", json={
                "iccid": iccid, "enterprise_id": "e", "operator": "onelink", "opened": True}),
                201)
        yield made


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        yield made


async def real_name(world: Shop, iccid: str) -> None:
    """H-41: a signed upstream real-name event."""
    raw, headers = signed_body({"events": [{"event_id": f"rn-{iccid}", "iccid": iccid,
                                            "type": "real_name_verified",
                                            "at": now().isoformat()}]}, SECRET)
    answer = await world.market.admin.post("/v1/upstream/onelink/card-events", content=raw,
                                           headers=headers)
    assert answer.status_code == 202, answer.text


async def earn(world: Shop, iccid: str) -> None:
    """H-15 on `iccid`: prestore 10000, buy p90 from the card wallet (completed), real-name.
    Only while no worker runs: its fulfilment would race the manual completion."""
    buyer = world.who("buyer")
    await recharge(world, buyer, "card", 10000, iccid)
    made = await order(buyer, "wallet", iccid)
    await ok(world.market.admin.post(f"/v1/orders/{made['order_id']}/complete"))
    await real_name(world, iccid)


async def rules(world: Shop) -> None:
    db = world.settings.require_database()
    await one_time_rule(db, "A", "p90", threshold_fen=10000, amount_fen=1000)
    await rule_row(db, "rebate", "A", "per_order", package_ids=("p90",), amount_value=300,
                   freeze_days=0, requires_approval=False)


async def count(conn: Conn, query: str) -> int:
    row = await (await conn.execute(query)).fetchone()
    assert row is not None
    return int(row[0])


async def state(conn: Conn) -> dict[str, Any]:
    """Every record (key, state, amount), the commission transfers and the agent's balances."""
    made = await (await conn.execute(
        "SELECT idem_key, state, amount_fen FROM commission_records ORDER BY idem_key"
    )).fetchall()
    moves = await (await conn.execute(
        "SELECT transfer_id, amount FROM ledger_transfers WHERE transfer_id LIKE 'commission:%%'"
        " ORDER BY transfer_id")).fetchall()
    balances = {key: (await ledger.balance(conn, key)).posted for key in (FROZEN_A, AVAILABLE_A)}
    return {"records": made, "transfers": moves, "balances": balances,
            "all_transfers": await count(conn, "SELECT count(*) FROM ledger_transfers")}


def expected_records(iccids: list[str]) -> int:
    return 2 * len(iccids)  # the one-time record (frozen) and the per-order rebate (available)


async def produced(conn: Conn, iccids: list[str]) -> bool:
    rows = await (await conn.execute(
        "SELECT part, state FROM commission_records WHERE iccid = ANY(%s)", (iccids,)
    )).fetchall()
    return sorted(rows) == sorted([("one_time", "frozen"), ("per_order", "available")]
                                  * len(iccids))


async def relevant_events(conn: Conn, settings: Settings) -> int:
    """The card events on the orders topic the commission consumer applies (from the
    outbox)."""
    row = await (await conn.execute(
        "SELECT count(*) FROM outbox_events WHERE topic = %s AND kind = ANY(%s)"
        " AND coalesce(data->>'iccid', '') <> ''",
        (settings.orders_topic, sorted(CARD_EVENTS)))).fetchone()
    assert row is not None
    return int(row[0])


def started(settings: Settings, log: Path) -> WorkerProcess:
    (settings.run_dir / "worker.ready").unlink(missing_ok=True)
    worker = WorkerProcess(settings, log)
    worker.start()
    return worker


async def caught_up(settings: Settings, conn: Conn, events: int) -> None:
    """The group has committed the whole orders topic and its inbox holds every event."""
    async def done() -> bool:
        try:
            lag = await asyncio.wait_for(group_lag(settings.require_kafka(),
                                                   settings.worker_group,
                                                   settings.orders_topic), timeout=5)
        except Exception:  # noqa: BLE001 - the group may not exist yet: the deadline decides
            return False
        inbox = await count(conn, "SELECT count(*) FROM commission_inbox")
        return lag == 0 and inbox >= events

    await eventually_async(done, timeout=WAIT_S, what=f"{settings.worker_group} caught up")


@pytest.mark.req("H-37", "H-41", "H-10", "C-05")
async def test_the_worker_produces_once_and_a_replay_by_a_new_group_changes_nothing(
        world: Shop, conn: Conn, tmp_path: Path) -> None:
    settings = world.settings
    await rules(world)
    await earn(world, CARDS[0])
    worker = started(settings, tmp_path / "worker.log")
    try:
        await eventually_async(lambda: produced(conn, CARDS[:1]), timeout=WAIT_S,
                               what="the frozen one-time record and the rebate")
        await caught_up(settings, conn, await relevant_events(conn, settings))
    finally:
        worker.stop()
    before = await state(conn)
    assert [(key.split(":")[0], s, fen) for key, s, fen in before["records"]] == [
        ("one_time", "frozen", 1000), ("per_order", "available", 300)]
    assert before["balances"][FROZEN_A] == 1000

    # REPLAY: a new group reads the topic from the beginning; the inbox is lost as well, so
    # every event is applied again and only the idempotency keys stand in the way (H-37)
    await conn.execute("DELETE FROM commission_inbox")
    replay = settings.model_copy(update={"worker_group": f"{settings.worker_group}-replay"})
    again = started(replay, tmp_path / "replay.log")
    try:
        await caught_up(replay, conn, await relevant_events(conn, settings))
    finally:
        again.stop()
    assert await state(conn) == before


@pytest.mark.req("H-37", "C-05")
async def test_a_worker_killed_mid_stream_leaves_every_record_exactly_once(
        world: Shop, conn: Conn, tmp_path: Path) -> None:
    settings = world.settings
    await rules(world)
    for iccid in CARDS[:2]:  # made before the worker runs: its fulfilment never races them
        await earn(world, iccid)
    worker = started(settings, tmp_path / "worker.log")
    try:
        await eventually_async(lambda: produced(conn, CARDS[:1]), timeout=WAIT_S,
                               what="the first card's records")
        # mid-stream: the second card's events relayed, consumed, committed — or not yet
        worker.stop(signal.SIGKILL)  # offsets of the last batch may be uncommitted
        await earn(world, CARDS[2])  # more events while the worker is down
        worker.start()
        await eventually_async(lambda: produced(conn, CARDS), timeout=WAIT_S,
                               what="every card's records after the restart")
        await caught_up(settings, conn, await relevant_events(conn, settings))
    finally:
        worker.stop()
    after = await state(conn)
    assert len(after["records"]) == expected_records(CARDS)
    assert len({key for key, *_ in after["records"]}) == expected_records(CARDS)
    assert sorted(fen for _, fen in after["transfers"]) == [300] * 3 + [1000] * 3
    assert after["balances"][FROZEN_A] == 1000 * len(CARDS)
    assert await count(conn, "SELECT count(*) FROM commission_inbox") == await relevant_events(
        conn, settings)
