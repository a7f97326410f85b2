"""Opening a card bought but never opened (G2-17, I-63): the `activate` desired change carried
out by the real reconciler, against the operator simulator over real HTTP for each dialect and
against a scripted operator for the precise steps; a business stop reason keeps the card
unopened; failures end failed and are re-armed; a killed controls process neither loses nor
repeats an activation; the API registers, activates and publishes."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from connectors.factory import build_clients
from controls.reconciler import OperatorLane, Policy, Reconciler
from core.settings import Settings
from domain.control.results import Result
from domain.quota import DesiredChange
from domain.usage.partitioning import partition_for
from domain.usage.records import UsageRecord
from store.cards import (
    NewCard,
    activate,
    card_opened,
    create_card,
    get_card,
    set_manual,
    update_card,
)
from store.controls import StatusReport, observe
from store.db import Conn, Reconnecting
from store.enterprises import create_enterprise
from store.quota import NOTHING
from store.usage import OperatorRecords, account
from streams.events import decode_desired
from tests.support.api import ADMIN, setup_tenant
from tests.support.cards import iccids, number_of
from tests.support.controls import run_until
from tests.support.operator import ScriptedOperator
from tests.support.services import ControlsProcess, settings_env
from tests.support.simulator import Simulator
from tests.support.waiting import eventually, eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.req("G2-17")]
POLICY = Policy(max_attempts=20, card_cooldown_s=0.0, backoff_base_s=0.05, backoff_cap_s=0.3,
                scan_s=0.05, scan_limit=2000, confirm_first_s=0.1, confirm_cap_s=0.3,
                confirm_deadline_s=60.0)
DIALECTS = ["onelink", "jasper", "ctcc"]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        await create_enterprise(made, "e", "E", "Asia/Shanghai")
        yield made


async def register(conn: Conn, settings: Settings, iccid: str, operator: Any, *,
                   package_bytes: int | None = None, msisdn: str | None = None) -> None:
    """A card registered as bought but not opened."""
    await create_card(conn, "e", NewCard(iccid, operator, package_bytes, None, [],
                                         partition_for(iccid, settings.usage_partitions),
                                         msisdn, opened=False))


def reconciler(settings: Settings, sim: Simulator, http: httpx.AsyncClient,
               policy: Policy = POLICY) -> Reconciler:
    configured = settings.model_copy(update={"operator_base_url": sim.url})
    lanes = {op: OperatorLane(c) for op, c in build_clients(configured, http).items()}
    partitions = list(range(settings.usage_partitions))
    return Reconciler(Reconnecting(settings.require_database()), lanes, policy,
                      lambda: partitions, random.Random(7))


async def in_inventory(http: httpx.AsyncClient, sim: Simulator, iccid: str, msisdn: str,
                       **more: Any) -> None:
    answer = await http.put(f"{sim.url}/_sim/cards/{iccid}",
                            json={"msisdn": msisdn, "stage": "inventory", **more})
    assert answer.is_success, answer.text


def changes_asked(sim: Simulator, dialect: str) -> int:
    """Requests the simulator counted for `dialect` (all calls, reads included)."""
    return sum(sim.stats()["requests"].get(dialect, {}).values())


@pytest.mark.parametrize("operator", DIALECTS)
async def test_an_inventory_card_is_opened_once_and_confirmed(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient, conn: Conn, operator: str,
) -> None:
    sim = sim_factory(cooldown_s=0, activation_ms=1500)
    card, number = "89860012300000007001", "1440000007001"
    await register(conn, settings, card, operator, msisdn=number)
    await in_inventory(http, sim, card, number)
    view = await get_card(conn, card)
    assert (view.stop_reasons, view.desired_status, view.opened) == (["not_opened"], "stopped",
                                                                     False)
    rec = reconciler(settings, sim, http)
    assert await rec.round(operator) == 0, "a card not asked to open is left alone"
    assert changes_asked(sim, operator) == 0

    view, outcome = await activate(conn, card)
    assert outcome.changes == [DesiredChange(card, "active", [], "activate")]
    assert (view.desired_status, view.opened) == ("active", False)
    seen: list[bool] = []

    async def opened() -> bool:
        found = await get_card(conn, card)
        if found.control is not None:
            seen.append(found.control.pending_confirmation)
        return await card_opened(conn, card)

    await run_until(rec, opened, 30, "opened")
    assert True in seen, "pending confirmation while the operator worked on it"
    view = await get_card(conn, card)
    assert view.control is not None
    assert (view.network_status, view.opened, view.control.state,
            view.control.last_command) == ("active", True, "done", "activate")
    on_network = (await http.get(f"{sim.url}/_sim/cards/{card}")).json()
    assert (on_network["status"], on_network["stage"], on_network["status_changes"]) == (
        "active", None, 1)

    calls = changes_asked(sim, operator)
    view, outcome = await activate(conn, card)
    assert outcome is NOTHING and view.opened, "asking again changes nothing"
    for _ in range(3):
        assert await rec.round(operator) == 0
    assert changes_asked(sim, operator) == calls, "and sends nothing"


async def use(conn: Conn, iccid: str, nbytes: int) -> None:
    now_ms = int(time.time() * 1000)
    record = UsageRecord(f"u-{iccid}-{nbytes}", iccid, nbytes, now_ms - 60_000, now_ms)
    await account(conn, [OperatorRecords("onelink", now_ms, [record])])


async def test_a_card_with_a_business_reason_is_opened_only_once_the_reason_clears(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient, conn: Conn,
) -> None:
    sim = sim_factory(cooldown_s=0)
    card, number = "89860012300000007101", "1440000007101"
    await register(conn, settings, card, "onelink", package_bytes=100, msisdn=number)
    await in_inventory(http, sim, card, number)
    await use(conn, card, 150)  # a test-period session, reported before the activation
    view, _ = await set_manual(conn, card, False)
    assert view.stop_reasons == ["not_opened", "package_quota"], "a manual resume opens nothing"
    view, outcome = await activate(conn, card)
    assert view.stop_reasons == ["package_quota"] and view.desired_status == "stopped"
    assert outcome.changes == [DesiredChange(card, "stopped", ["package_quota"], "activate")]

    rec = reconciler(settings, sim, http)
    for _ in range(5):
        await rec.round("onelink")
    assert changes_asked(sim, "onelink") == 0, "neither opened nor stopped: it does not run"
    on_network = (await http.get(f"{sim.url}/_sim/cards/{card}")).json()
    assert (on_network["stage"], on_network["status_changes"]) == ("inventory", 0)
    assert not await card_opened(conn, card)

    await update_card(conn, card, package_bytes=10_000)  # the package the order paid for

    async def opened() -> bool:
        return await card_opened(conn, card)

    await run_until(rec, opened, 30, "opened once the package allows it")
    on_network = (await http.get(f"{sim.url}/_sim/cards/{card}")).json()
    assert (on_network["status"], on_network["status_changes"]) == ("active", 1)


async def test_a_failed_activation_is_rearmed_by_asking_again(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient, conn: Conn,
) -> None:
    sim = sim_factory(cooldown_s=0, error_rate=1.0)
    card, number = "89860012300000007201", "1410000007201"
    await register(conn, settings, card, "ctcc", msisdn=number)
    await in_inventory(http, sim, card, number)
    await activate(conn, card)
    rec = reconciler(settings, sim, http, Policy(
        max_attempts=3, card_cooldown_s=0, backoff_base_s=0.01, backoff_cap_s=0.05,
        scan_s=0.05, scan_limit=10))

    async def failed() -> bool:
        view = await get_card(conn, card)
        return view.control is not None and view.control.state == "failed"

    await run_until(rec, failed, 20, "failed after 3 attempts")
    view = await get_card(conn, card)
    assert view.control is not None
    assert (view.control.target, view.control.attempts, view.control.last_command) == (
        "active", 3, "activate")
    assert await rec.round("ctcc") == 0, "a failed activation is not retried by itself"

    await http.put(f"{sim.url}/_sim/knobs", json={"error_rate": 0.0})
    view, _ = await activate(conn, card)
    assert view.control is not None and (view.control.state, view.control.attempts) == (
        "pending", 0), "asking again re-arms it"

    async def opened() -> bool:
        return await card_opened(conn, card)

    await run_until(reconciler(settings, sim, http), opened, 20, "opened after the re-arm")
    assert (await http.get(f"{sim.url}/_sim/cards/{card}")).json()["status_changes"] == 1


async def test_an_operator_hold_fails_the_activation_for_good(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient, conn: Conn,
) -> None:
    sim = sim_factory(cooldown_s=0)
    card, number = "89860012300000007301", "1440000007301"
    await register(conn, settings, card, "onelink", msisdn=number)
    await in_inventory(http, sim, card, number, frozen=True)
    await activate(conn, card)

    async def failed() -> bool:
        view = await get_card(conn, card)
        return view.control is not None and view.control.state == "failed"

    await run_until(reconciler(settings, sim, http), failed, 20, "given up")
    view = await get_card(conn, card)
    assert view.control is not None and view.control.operator_held
    assert not view.opened


# --- the precise steps, against a scripted operator -------------------------------------------

async def test_the_status_feed_confirms_an_activation(
    settings: Settings, conn: Conn,
) -> None:
    card = "89860012300000007401"
    await register(conn, settings, card, "onelink")
    await activate(conn, card)
    operator = ScriptedOperator()
    operator.statuses[card] = "stopped"
    operator.answer(card, Result.SUBMITTED)
    db = Reconnecting(settings.require_database())
    slow = Policy(max_attempts=3, card_cooldown_s=0, backoff_base_s=0.01, backoff_cap_s=0.02,
                  scan_s=0.05, scan_limit=100, confirm_first_s=60.0)
    rec = Reconciler(db, {"onelink": OperatorLane(operator)}, slow,
                     lambda: list(range(settings.usage_partitions)), random.Random(1))
    try:
        assert await rec.round("onelink") == 1
        assert operator.activations() == [(card,)] and operator.changes() == []
        view = await get_card(conn, card)
        assert view.control is not None and view.control.pending_confirmation
        assert not view.opened
        await observe(conn, "onelink", [StatusReport(card, "active", datetime.now(UTC))])
        view = await get_card(conn, card)
        assert view.control is not None
        assert (view.control.state, view.network_status, view.opened) == ("done", "active",
                                                                          True)
        assert await rec.round("onelink") == 0
    finally:
        await db.close()


async def test_a_card_opened_then_stopped_for_quota_is_stopped_and_resumed_not_reopened(
    settings: Settings, conn: Conn,
) -> None:
    card = "89860012300000007501"
    await register(conn, settings, card, "onelink", package_bytes=100)
    await activate(conn, card)
    operator = ScriptedOperator()
    operator.statuses[card] = "stopped"
    db = Reconnecting(settings.require_database())
    rec = Reconciler(db, {"onelink": OperatorLane(operator)}, POLICY,
                     lambda: list(range(settings.usage_partitions)), random.Random(1))
    try:
        await rec.round("onelink")
        assert await card_opened(conn, card)
        await use(conn, card, 150)
        await rec.round("onelink")
        await update_card(conn, card, package_bytes=1000)
        await rec.round("onelink")
        assert operator.activations() == [(card,)]
        assert operator.changes() == [("stopped", (card,)), ("active", (card,))]
    finally:
        await db.close()


async def test_a_card_the_operator_opens_unasked_is_stopped_until_activated(
    settings: Settings, conn: Conn,
) -> None:
    """Not paid for, not delivered: `not_opened` is a stop reason like any other once the
    network shows the card running (a test period that turned into activation, say)."""
    card = "89860012300000007701"
    await register(conn, settings, card, "onelink")
    operator = ScriptedOperator()
    db = Reconnecting(settings.require_database())
    rec = Reconciler(db, {"onelink": OperatorLane(operator)}, POLICY,
                     lambda: list(range(settings.usage_partitions)), random.Random(1))
    try:
        assert await rec.round("onelink") == 0
        await observe(conn, "onelink", [StatusReport(card, "active", datetime.now(UTC))])
        assert await card_opened(conn, card)
        await rec.round("onelink")
        assert operator.changes() == [("stopped", (card,))] and operator.activations() == []
        await activate(conn, card)
        await rec.round("onelink")
        assert operator.changes()[-1] == ("active", (card,)), "opened: resumed, not reopened"
        assert operator.activations() == []
    finally:
        await db.close()


# --- crash safety ------------------------------------------------------------------------------

async def test_a_controls_process_killed_mid_activation_neither_loses_nor_repeats(
    settings: Settings, sim_factory: Any, tmp_path: Path,
) -> None:
    sim = sim_factory(cooldown_s=0, latency_ms=15)
    fleet = iccids(300, "8986310000")
    with psycopg.connect(settings.require_database(), autocommit=True) as sync:
        sync.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('e', 'E')")
        with sync.cursor() as cur:  # registered as not opened, activation already asked
            cur.executemany(
                "INSERT INTO cards (iccid, enterprise_id, operator, kafka_partition, msisdn,"
                " opened) VALUES (%s, 'e', 'onelink', %s, %s, false)",
                [(i, partition_for(i, settings.usage_partitions), number_of(i)) for i in fleet])
    with httpx.Client(timeout=10) as client:
        for i in fleet:
            answer = client.put(f"{sim.url}/_sim/cards/{i}",
                                json={"msisdn": number_of(i), "stage": "inventory"})
            assert answer.is_success, answer.text

    def opened() -> int:
        with psycopg.connect(settings.require_database()) as sync:
            row = sync.execute("SELECT count(*) FILTER (WHERE opened) FROM cards").fetchone()
        return int(row[0]) if row else 0

    env = settings_env(settings) | {"CARDPULSE_OPERATOR_BASE_URL": sim.url,
                                    "CARDPULSE_CONTROLS_RATE_PER_S": "20",
                                    "CARDPULSE_CONTROLS_CARD_COOLDOWN_S": "0"}
    controls = ControlsProcess(env, tmp_path / "controls.log")
    controls.start()
    try:
        eventually(lambda: 0 < opened() < 300, timeout=60, what="part of the activations done")
        controls.kill()
        controls.start()
        eventually(lambda: opened() == 300, timeout=120, what="every card opened")
    finally:
        controls.kill()
    assert [sim.card(i)["status_changes"] for i in fleet] == [1] * 300


# --- the API -----------------------------------------------------------------------------------

async def test_the_api_registers_not_opened_cards_and_activates_them(
    settings: Settings, client: httpx.AsyncClient,
) -> None:
    admin = await setup_tenant(client, "acme")
    viewer_key = await client.post("/v1/enterprises/acme/api-keys",
                                   json={"role": "enterprise_viewer"}, headers=ADMIN)
    viewer = {"Authorization": f"Bearer {viewer_key.json()['key']}"}
    other = await setup_tenant(client, "other")
    card, imported, plain = "89860012300000007601", "89860012300000007602", "89860012300000007603"
    made = await client.post("/v1/cards", headers=admin, json={
        "enterprise_id": "acme", "iccid": card, "operator": "jasper", "opened": False})
    assert made.status_code == 201, made.text
    assert (made.json()["stop_reasons"], made.json()["opened"]) == (["not_opened"], False)
    batch = await client.post("/v1/cards/import", headers=admin, json={
        "enterprise_id": "acme", "cards": [{"iccid": imported, "operator": "ctcc",
                                            "opened": False},
                                           {"iccid": plain, "operator": "ctcc"}]})
    assert batch.status_code == 200, batch.text
    for iccid, reasons, opened in ((imported, ["not_opened"], False), (plain, [], True)):
        shown = (await client.get(f"/v1/cards/{iccid}", headers=admin)).json()
        assert (shown["stop_reasons"], shown["opened"]) == (reasons, opened), "default: opened"

    assert (await client.post(f"/v1/cards/{card}/activate", headers=viewer)).status_code == 403
    assert (await client.post(f"/v1/cards/{card}/activate", headers=other)).status_code == 404
    for _ in range(2):  # idempotent
        done = await client.post(f"/v1/cards/{card}/activate", headers=admin)
        assert done.status_code == 200, done.text
        assert (done.json()["stop_reasons"], done.json()["desired_status"]) == ([], "active")
    assert (await client.post(f"/v1/cards/{imported}/activate",
                              headers=ADMIN)).status_code == 200, "the platform admin too"
    resumed = await client.post(f"/v1/cards/{plain}/resume", headers=admin)
    assert resumed.json()["stop_reasons"] == []

    consumer = AIOKafkaConsumer(settings.desired_topic, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: list[tuple[str, str, str]] = []
    try:
        async def both() -> bool:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                for message in messages:
                    seen.extend((c.iccid, c.desired_status, c.cause)
                                for c in decode_desired(message.value).changes
                                if c.cause == "activate")
            return len(seen) >= 2

        await eventually_async(both, timeout=10, what="the activate changes published")
    finally:
        await consumer.stop()
    assert sorted(seen) == sorted([(card, "active", "activate"),
                                   (imported, "active", "activate")]), "once each"
