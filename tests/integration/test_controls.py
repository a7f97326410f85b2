"""The reconciler against the operator simulator over real HTTP, with injected faults."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from connectors.factory import build_clients
from controls.reconciler import OperatorLane, Policy, Reconciler
from core.settings import Settings
from store.cards import set_manual
from store.db import Reconnecting
from tests.support.cards import add_cards, iccids, network, number_of
from tests.support.controls import run_until
from tests.support.services import ControlsProcess, settings_env
from tests.support.simulator import Simulator
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def make_reconciler(settings: Settings, sim: Simulator, http: httpx.AsyncClient,
                    rate: float | None = None, cooldown: float = 0.0,
                    policy: Policy | None = None) -> Reconciler:
    configured = settings.model_copy(update={"operator_base_url": sim.url})
    lanes = {op: OperatorLane(c, rate) for op, c in build_clients(configured, http).items()}
    policy = policy or Policy(max_attempts=20, card_cooldown_s=cooldown, backoff_base_s=0.05,
                              backoff_cap_s=0.5, scan_s=0.1, scan_limit=2000,
                              confirm_first_s=0.1, confirm_cap_s=0.5)
    partitions = list(range(settings.usage_partitions))
    return Reconciler(Reconnecting(settings.require_database()), lanes, policy,
                      lambda: partitions, random.Random(3))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client




async def manual(settings: Settings, iccid: str, stopped: bool) -> None:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        await set_manual(conn, iccid, stopped)


@pytest.mark.parametrize("operator", ["onelink", "jasper", "ctcc"])
async def test_one_accepted_change_per_transition(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient, operator: str,
) -> None:
    sim = sim_factory(cooldown_s=0)
    burst, reversed_, untouched = iccids(3)
    add_cards(settings, [burst, reversed_, untouched], operator)
    for _ in range(3):
        await manual(settings, burst, True)  # a burst of the same desired change
    await manual(settings, reversed_, True)
    await manual(settings, reversed_, False)  # reversed before anything was sent
    reconciler = make_reconciler(settings, sim, http)

    async def converged() -> bool:
        return network(settings)[burst] == "stopped"

    await run_until(reconciler, converged, 20, "the stop reaches the network")
    card = sim.card(burst)
    assert (card["status"], card["status_changes"]) == ("stopped", 1)
    assert sim.card(reversed_)["status_changes"] == 0
    assert sim.card(untouched)["status_changes"] == 0

    await manual(settings, burst, False)
    reconciler = make_reconciler(settings, sim, http)

    async def resumed() -> bool:
        return network(settings)[burst] == "active"

    await run_until(reconciler, resumed, 20, "the resume reaches the network")
    assert sim.card(burst)["status_changes"] == 2


async def test_fan_out_of_1000_cards_under_5_per_s_with_20_percent_errors(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(error_rate=0.2, cooldown_s=0, batch_delay_ms=20, seed=11)
    fleet = iccids(1000)
    add_cards(settings, fleet, "onelink", pool=("fleet", 100), numbered=True)
    sim.register({i: number_of(i) for i in fleet})  # OneLink batches go by number
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        conn.execute("UPDATE pools SET exhausted = true")  # the pool ran dry
    reconciler = make_reconciler(settings, sim, http, rate=5)

    async def all_stopped() -> bool:
        return all(s == "stopped" for s in network(settings).values())

    await run_until(reconciler, all_stopped, 120, "1000 cards stopped")
    changes = [sim.card(i)["status_changes"] for i in fleet]
    assert changes == [1] * 1000, "exactly one accepted change per card"
    assert sim.stats()["requests"]["onelink"].get("error", 0) > 0, "errors were injected"


async def test_jasper_rate_limit_and_cooldown_are_respected(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(rate_per_s=2, cooldown_s=1.5)
    fleet = iccids(12, "8986200000")
    add_cards(settings, fleet, "jasper")
    for iccid in fleet:
        await manual(settings, iccid, True)
    reconciler = make_reconciler(settings, sim, http, rate=50, cooldown=1.5)

    async def stopped() -> bool:
        return all(s == "stopped" for s in network(settings).values())

    await run_until(reconciler, stopped, 60, "12 Jasper cards stopped")
    assert sim.stats()["requests"]["jasper"].get("rate_limited", 0) > 0
    for iccid in fleet:
        await manual(settings, iccid, False)  # straight back: must wait for the cooldown
    reconciler = make_reconciler(settings, sim, http, rate=5, cooldown=1.5)

    async def resumed() -> bool:
        return all(s == "active" for s in network(settings).values())

    await run_until(reconciler, resumed, 60, "12 Jasper cards resumed")
    assert sim.stats()["requests"]["jasper"].get("cooldown", 0) == 0, "never asked too soon"
    assert [sim.card(i)["status_changes"] for i in fleet] == [2] * 12


async def test_reconciler_killed_mid_fan_out_neither_loses_nor_repeats(
    settings: Settings, sim_factory: Any, tmp_path: Path,
) -> None:
    sim = sim_factory(cooldown_s=0, latency_ms=20, batch_delay_ms=50)
    fleet = iccids(600, "8986300000")
    add_cards(settings, fleet, "onelink", pool=("fleet", 100), numbered=True)
    sim.register({i: number_of(i) for i in fleet})
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        conn.execute("UPDATE pools SET exhausted = true")
    env = settings_env(settings) | {"CARDPULSE_OPERATOR_BASE_URL": sim.url,
                                    "CARDPULSE_CONTROLS_RATE_PER_S": "1",
                                    "CARDPULSE_CONTROLS_CARD_COOLDOWN_S": "0"}
    controls = ControlsProcess(env, tmp_path / "controls.log")
    controls.start()
    try:
        eventually(lambda: 0 < sum(s == "stopped" for s in network(settings).values()) < 600,
                   timeout=60, what="part of the fan-out done")
        controls.kill()
        controls.start()
        eventually(lambda: all(s == "stopped" for s in network(settings).values()),
                   timeout=120, what="every card stopped after the restart")
    finally:
        controls.kill()
    assert [sim.card(i)["status_changes"] for i in fleet] == [1] * 600


async def test_failed_after_n_attempts_and_retried_on_a_new_desired_state(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(error_rate=1.0, cooldown_s=0)
    (iccid,) = iccids(1, "8986500000")
    add_cards(settings, [iccid], "ctcc")
    await manual(settings, iccid, True)

    def control() -> tuple[str, str, int, str | None]:
        with psycopg.connect(settings.require_database()) as conn:
            row = conn.execute("SELECT target, state, attempts, last_outcome FROM card_control"
                               " WHERE iccid = %s", (iccid,)).fetchone()
        return (str(row[0]), str(row[1]), int(row[2]), row[3]) if row else ("", "", 0, None)

    reconciler = make_reconciler(settings, sim, http, policy=Policy(
        max_attempts=3, card_cooldown_s=0, backoff_base_s=0.01, backoff_cap_s=0.05,
        scan_s=0.05, scan_limit=10))

    async def failed() -> bool:
        return control()[:3] == ("stopped", "failed", 3)

    await run_until(reconciler, failed, 20, "terminal failure after 3 attempts")
    assert control()[3] == "error" and network(settings)[iccid] != "stopped"
    calls = sum(sim.stats()["requests"]["ctcc"].values())
    assert await reconciler.round("ctcc") == 0, "a failed card is not acted on"
    assert sum(sim.stats()["requests"]["ctcc"].values()) == calls, "no calls once failed"

    httpx.put(f"{sim.url}/_sim/knobs", json={"error_rate": 0.0})
    await manual(settings, iccid, False)
    await manual(settings, iccid, True)  # wanted stopped again: a new desired change
    assert control()[1:3] == ("pending", 0), "a new desired change re-arms a failed card"
    reconciler = make_reconciler(settings, sim, http)

    async def stopped() -> bool:
        return network(settings)[iccid] == "stopped"

    await run_until(reconciler, stopped, 20, "retried after the desired state changed")
    assert sim.card(iccid)["status_changes"] == 1
