"""Each connector against the operator simulator's app in process (ASGI, a hand-moved clock):
what every dialect shares, then Jasper's and China Telecom's own rules.

The simulator's own answers are tested in test_sim_*.py and the wire shapes against the
evidence in test_connector_contracts.py; these check that client and simulator agree, from a
change to its confirmation. OneLink's tokens, orders and batch jobs are in
test_connector_onelink.py.
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
from domain.control.results import CardRef, Result
from tests.support.simulator import SIM_URL, Sim

CARD = CardRef("8986001234567890123", "1410000000123")
DIALECTS = ["onelink", "jasper", "ctcc"]
COOLDOWN_S = 180  # the simulator's default
MB = 1024 * 1024


def connector(dialect: str, sim: Sim, secret: str = "simulator") -> OperatorClient:  # noqa: S107 - a test account
    """The dialect's client on the simulator's in-process HTTP client (the simulator's
    China Telecom account is password `simulator`, key `cardpulse`)."""
    if dialect == "onelink":
        return OneLinkClient(sim.client, SIM_URL, "app1", secret, job_poll_s=0.001)
    if dialect == "jasper":
        return JasperClient(sim.client, SIM_URL, "acct", secret)
    return CtccClient(sim.client, SIM_URL, "user", secret, "cardpulse")


@pytest.fixture(autouse=True)
async def numbered(sim: Sim) -> None:
    await sim.register({"iccid": CARD.iccid, "msisdn": CARD.msisdn})


async def results(client: OperatorClient, cards: list[CardRef], target: CardStatus
                  ) -> list[Result]:
    answers = await client.set_status(cards, target)
    assert [a.iccid for a in answers] == [c.iccid for c in cards], "one result per card"
    return [a.result for a in answers]


async def change(client: OperatorClient, card: CardRef, target: CardStatus) -> Result:
    """A change, followed to its confirmation when the operator takes it as an order."""
    [answer] = await client.set_status([card], target)
    if answer.result is Result.SUBMITTED:
        return (await client.confirm(card, target, answer.ticket)).result
    return answer.result


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_stop_resume_and_status(sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim)
    assert (await client.status(CARD)).network == "active"
    assert await change(client, CARD, "stopped") is Result.CHANGED
    assert (await client.status(CARD)).network == "stopped"
    sim.clock.advance(COOLDOWN_S)
    assert await change(client, CARD, "active") is Result.CHANGED
    assert (await client.status(CARD)).network == "active"
    card = await sim.card(CARD.iccid)
    assert (card["status"], card["status_changes"]) == ("active", 2)


@pytest.mark.parametrize(("dialect", "repeat"), [
    ("onelink", Result.ALREADY), ("ctcc", Result.ALREADY),
    ("jasper", Result.CHANGED),  # Jasper answers a repeat exactly like a change
])
async def test_already_in_that_state_is_done(sim: Sim, dialect: str, repeat: Result) -> None:
    client = connector(dialect, sim)
    await change(client, CARD, "stopped")
    assert await results(client, [CARD], "stopped") == [repeat]
    assert repeat.done
    assert (await sim.card(CARD.iccid))["status_changes"] == 1


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_changed_too_recently_is_cooldown(sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim)
    await change(client, CARD, "stopped")
    sim.clock.advance(COOLDOWN_S - 1)
    assert await results(client, [CARD], "active") == [Result.COOLDOWN]
    assert (await sim.card(CARD.iccid))["status"] == "stopped"
    sim.clock.advance(1)
    assert await change(client, CARD, "active") is Result.CHANGED


@pytest.mark.parametrize(("dialect", "nbytes"), [
    ("onelink", 3 * MB + 512 * 1024),  # KB with two decimals
    ("ctcc", 3 * MB + 512 * 1024),  # MB with two decimals: 3.50MB
    ("jasper", 3 * MB + 512 * 1024),  # bytes
])
async def test_usage_bytes(sim: Sim, dialect: str, nbytes: int) -> None:
    client = connector(dialect, sim)
    assert await client.usage_bytes(CARD) == 0
    await sim.usage(CARD.iccid, 3 * MB)
    await sim.usage(CARD.iccid, 512 * 1024)
    assert await client.usage_bytes(CARD) == nbytes


@pytest.mark.parametrize(("dialect", "knob", "result"), [
    ("onelink", "limit_rate", Result.RATE_LIMITED), ("jasper", "limit_rate", Result.RATE_LIMITED),
    ("ctcc", "limit_rate", Result.TRANSIENT),  # no Telecom rate-limit code is known
    ("onelink", "error_rate", Result.TRANSIENT), ("jasper", "error_rate", Result.TRANSIENT),
    ("ctcc", "error_rate", Result.TRANSIENT),
])
async def test_injected_faults(sim: Sim, dialect: str, knob: str, result: Result) -> None:
    client = connector(dialect, sim)
    await sim.knobs(**{knob: 1})
    assert await results(client, [CARD], "stopped") == [result]
    with pytest.raises(OperatorError) as raised:
        await client.status(CARD)
    assert raised.value.result is result
    with pytest.raises(OperatorError):
        await client.usage_bytes(CARD)
    assert (await sim.card(CARD.iccid))["status_changes"] == 0


@pytest.mark.parametrize(("dialect", "result"), [
    ("onelink", Result.REJECTED), ("ctcc", Result.REJECTED),
    ("jasper", Result.TRANSIENT),  # 401 10000001: a configuration fault, retried with backoff
])
async def test_refused_credentials(sim: Sim, dialect: str, result: Result) -> None:
    client = connector(dialect, sim, secret="wrong" if dialect == "ctcc" else "")
    assert await results(client, [CARD], "stopped") == [result]
    with pytest.raises(OperatorError):
        await client.status(CARD)


@pytest.mark.parametrize("dialect", ["jasper", "ctcc"])
async def test_one_call_per_card_each_with_its_own_answer(sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim)
    stopped, cooling = CARD, CardRef("8986001234567890124")
    fresh = CardRef("8986001234567890125")
    await results(client, [stopped], "stopped")
    await results(client, [cooling], "stopped")
    answers = await results(client, [stopped, fresh], "stopped")
    first = Result.ALREADY if dialect == "ctcc" else Result.CHANGED
    assert answers == [first, Result.SUBMITTED if dialect == "ctcc" else Result.CHANGED]
    assert await results(client, [cooling], "active") == [Result.COOLDOWN]
    assert len(sim.calls("/rws/" if dialect == "jasper" else "/m2m_ec/")) == 5


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_bad_card_number_is_rejected(sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim)
    assert await results(client, [CardRef("8986-not-a-card")], "stopped") == [Result.REJECTED]


@pytest.mark.req("OPS-HELD")
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_resume_of_a_card_the_operator_holds_is_refused_for_good(
        sim: Sim, dialect: str) -> None:
    client = connector(dialect, sim)
    await sim.edit_card(CARD.iccid, status="stopped", stop_reason="欠费停机")
    [answer] = await client.set_status([CARD], "active")
    assert answer.result is Result.HELD and answer.result.final
    assert "欠费停机" in answer.detail or dialect == "jasper"
    await sim.edit_card(CARD.iccid, stop_reason="主动停机", frozen=True)
    sim.clock.advance(COOLDOWN_S)
    [frozen] = await client.set_status([CARD], "active")
    assert frozen.result is Result.HELD
    assert (await sim.card(CARD.iccid))["status"] == "stopped"


@pytest.mark.req("OPS-ASYNC")
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_change_that_completes_later_is_confirmed_by_a_read(sim: Sim,
                                                                   dialect: str) -> None:
    client = connector(dialect, sim)
    await sim.knobs(completion_ms=60_000)
    [answer] = await client.set_status([CARD], "stopped")
    assert answer.result is Result.SUBMITTED
    assert (await client.confirm(CARD, "stopped", answer.ticket)).result is Result.SUBMITTED
    sim.clock.advance(60)
    assert (await client.confirm(CARD, "stopped", answer.ticket)).result is Result.CHANGED


# --- Jasper: about 5 calls per second and one in flight per account ---------------------------

async def test_jasper_over_its_rate_is_rate_limited(sim: Sim) -> None:
    client = connector("jasper", sim)
    fleet = [CardRef(f"89860012345678{n:05d}") for n in range(6)]
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
    other = CardRef("8986001234567890124")
    answers = await asyncio.gather(lane.send(Batch("jasper", "stopped", [CARD])),
                                   lane.send(Batch("jasper", "stopped", [other])))
    assert [[a.result for a in batch] for batch in answers] == [[Result.CHANGED]] * 2
