"""Each connector against the operator simulator's app in process (ASGI, a hand-moved clock):
what every dialect shares, then Jasper's and China Telecom's own rules.

The simulator's own answers are tested in test_sim_dialects.py; these check what the clients
make of them: `CommandResult`s, `OperatorError`s and parsed values. OneLink's tokens and batch
jobs are in test_connector_onelink.py.
"""

from __future__ import annotations

import asyncio

import pytest

from connectors.base import OperatorClient, OperatorError
from connectors.ctcc import CtccClient
from connectors.jasper import JasperClient
from connectors.onelink import OneLinkClient
from controls.reconciler import OperatorLane
from core.operators import CardStatus
from domain.control.plan import Batch
from domain.control.results import Result
from tests.support.simulator import SIM_URL, Sim

CARD = "8986001234567890123"
DIALECTS = ["onelink", "jasper", "ctcc"]
COOLDOWN_S = 180  # the simulator's default


def connector(dialect: str, sim: Sim, secret: str = "secret") -> OperatorClient:  # noqa: S107 - a test account
    """The dialect's client on the simulator's in-process HTTP client."""
    if dialect == "onelink":
        return OneLinkClient(sim.client, SIM_URL, "app1", secret, job_poll_s=0.001)
    if dialect == "jasper":
        return JasperClient(sim.client, SIM_URL, "acct", secret)
    return CtccClient(sim.client, SIM_URL, "user", secret)


async def results(client: OperatorClient, iccids: list[str], target: CardStatus
                  ) -> list[Result]:
    answers = await client.set_status(iccids, target)
    assert [a.iccid for a in answers] == iccids, "one result per card, in order"
    return [a.result for a in answers]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_stop_resume_and_status(sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim)
    assert await client.status(CARD) == "active"
    assert await results(client, [CARD], "stopped") == [Result.CHANGED]
    assert await client.status(CARD) == "stopped"
    sim.clock.advance(COOLDOWN_S)
    assert await results(client, [CARD], "active") == [Result.CHANGED]
    assert await client.status(CARD) == "active"
    assert await sim.card(CARD) == {"iccid": CARD, "status": "active", "status_changes": 2}


@pytest.mark.parametrize(("dialect", "repeat"), [
    ("onelink", Result.ALREADY), ("ctcc", Result.ALREADY),
    ("jasper", Result.CHANGED),  # Jasper answers a repeat exactly like a change
])
async def test_already_in_that_state_is_done(sim: Sim, dialect: str, repeat: Result) -> None:
    client = connector(dialect, sim)
    await results(client, [CARD], "stopped")
    assert await results(client, [CARD], "stopped") == [repeat]
    assert repeat.done
    assert (await sim.card(CARD))["status_changes"] == 1


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_changed_too_recently_is_cooldown(sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim)
    await results(client, [CARD], "stopped")
    sim.clock.advance(COOLDOWN_S - 1)
    assert await results(client, [CARD], "active") == [Result.COOLDOWN]
    assert (await sim.card(CARD))["status"] == "stopped"
    sim.clock.advance(1)
    assert await results(client, [CARD], "active") == [Result.CHANGED]


@pytest.mark.parametrize(("dialect", "nbytes"), [
    ("onelink", 4 * 1024), ("ctcc", 4 * 1024),  # both count whole KB
    ("jasper", 5000),
])
async def test_usage_bytes(sim: Sim, dialect: str, nbytes: int) -> None:
    client = connector(dialect, sim)
    assert await client.usage_bytes(CARD) == 0
    await sim.usage(CARD, 3000)
    await sim.usage(CARD, 2000)
    assert await client.usage_bytes(CARD) == nbytes


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("knob", "result"), [
    ("limit_rate", Result.RATE_LIMITED), ("error_rate", Result.TRANSIENT),
])
async def test_injected_faults(sim: Sim, dialect: str, knob: str, result: Result) -> None:
    client = connector(dialect, sim)
    await sim.knobs(**{knob: 1})
    assert await results(client, [CARD], "stopped") == [result]
    for read in (client.status, client.usage_bytes):
        with pytest.raises(OperatorError) as raised:
            await read(CARD)
        assert raised.value.result is result
    assert (await sim.card(CARD))["status_changes"] == 0


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_refused_credentials_are_rejected(sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim, secret="")
    assert await results(client, [CARD], "stopped") == [Result.REJECTED]
    with pytest.raises(OperatorError) as raised:
        await client.status(CARD)
    assert raised.value.result is Result.REJECTED


@pytest.mark.parametrize("dialect", ["jasper", "ctcc"])
async def test_one_call_per_card_each_with_its_own_answer(sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim)
    stopped, cooling, fresh = CARD, "8986001234567890124", "8986001234567890125"
    await results(client, [stopped], "stopped")
    await results(client, [cooling], "stopped")
    assert await results(client, [stopped, fresh], "stopped") == [
        Result.ALREADY if dialect == "ctcc" else Result.CHANGED, Result.CHANGED]
    assert await results(client, [cooling], "active") == [Result.COOLDOWN]
    assert len(sim.calls("/rws/" if dialect == "jasper" else "/m2m_ec/")) == 5


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_bad_card_number_is_rejected(sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim)
    assert await results(client, ["8986-not-a-card"], "stopped") == [Result.REJECTED]


# --- Jasper: about 5 calls per second and one in flight per account ---------------------------

async def test_jasper_over_its_rate_is_rate_limited(sim: Sim) -> None:
    client = connector("jasper", sim)
    fleet = [f"89860012345678{n:05d}" for n in range(6)]
    assert await results(client, fleet, "stopped") == [Result.CHANGED] * 5 + [Result.RATE_LIMITED]
    sim.clock.advance(0.2)  # one call's worth at 5 per second
    assert await results(client, fleet[5:], "stopped") == [Result.CHANGED]


async def test_jasper_one_call_in_flight_and_the_lane_keeps_to_it(sim: Sim) -> None:
    client = connector("jasper", sim)
    await sim.knobs(latency_ms=20)  # real latency: calls overlap
    side_by_side = await asyncio.gather(*(client.status(CARD) for _ in range(2)),
                                        return_exceptions=True)
    refused = [r for r in side_by_side if isinstance(r, OperatorError)]
    assert len(refused) == 1 and refused[0].result is Result.RATE_LIMITED
    sim.clock.advance(1)

    lane = OperatorLane(client, rate_per_s=1000)  # the reconciler's in-flight cap: 1
    other = "8986001234567890124"
    answers = await asyncio.gather(lane.send(Batch("jasper", "stopped", [CARD])),
                                   lane.send(Batch("jasper", "stopped", [other])))
    assert [[a.result for a in batch] for batch in answers] == [[Result.CHANGED]] * 2
