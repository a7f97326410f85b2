"""OneLinkClient against the simulator's app in process: tokens (reuse, refresh before expiry,
a new one when refused), single changes as orders, and batch changes of numbered cards as
polled jobs whose results come back keyed by MSISDN.

Shared dialect behaviour (stop, resume, status, usage, repeats, cooldowns, faults) is in
test_connectors.py; the wire shapes themselves in test_connector_contracts.py.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connectors.onelink import OneLinkClient
from domain.control.results import CardRef, Result
from tests.support.simulator import SIM_URL, Sim
from tests.support.waiting import eventually_async

CARD = CardRef("8986001234567890123", "1440000000123")
API = "/v5/ec/"
TOKEN, CHANGE, BATCH, POLL, STATUS, ORDER = (API + p for p in (
    "get/token", "change/sim-status", "change/sim-status/batch", "query/sim-batch-result",
    "query/sim-status", "query/order-info"))


def onelink(sim: Sim, job_timeout_s: float = 30.0) -> OneLinkClient:
    return OneLinkClient(sim.client, SIM_URL, "app1", "secret", job_poll_s=0.001,
                         job_timeout_s=job_timeout_s)


async def fleet(sim: Sim, n: int) -> list[CardRef]:
    """`n` cards with numbers, known to the simulator."""
    cards = [CardRef(f"89860012345678{k:05d}", f"14400000{k:05d}") for k in range(n)]
    await sim.register(*({"iccid": c.iccid, "msisdn": c.msisdn} for c in cards))
    return cards


@pytest.fixture(autouse=True)
async def numbered(sim: Sim) -> None:
    await sim.register({"iccid": CARD.iccid, "msisdn": CARD.msisdn})


async def test_one_token_serves_every_call_until_it_is_refused(sim: Sim) -> None:
    await sim.knobs(token_ttl_s=60)
    client = onelink(sim)
    await client.status(CARD)
    await client.set_status([CARD], "stopped")
    assert sim.calls(API) == [TOKEN, STATUS, CHANGE]

    sim.clock.advance(60)  # expired at the operator, not yet by the client's reckoning
    assert (await client.status(CARD)).network == "stopped"
    assert sim.calls(API)[3:] == [STATUS, TOKEN, STATUS], "refused once, signed in, retried"
    assert (await sim.stats())["requests"]["onelink"]["unauthorized"] == 1


async def test_the_token_is_renewed_before_it_expires(sim: Sim) -> None:
    await sim.knobs(token_ttl_s=0.05)  # the client renews after 80 % of it, in real time
    client = onelink(sim)

    async def renewed() -> bool:
        await client.status(CARD)
        return sim.calls(API).count(TOKEN) >= 2

    await eventually_async(renewed, timeout=5, what="a second token")
    assert "unauthorized" not in (await sim.stats())["requests"]["onelink"], \
        "never refused: the operator's clock did not move, only the client's reckoning"


async def test_concurrent_calls_share_one_sign_in(sim: Sim) -> None:
    client = onelink(sim)
    await asyncio.gather(*(client.status(c) for c in await fleet(sim, 5)))
    assert sim.calls(API).count(TOKEN) == 1


@pytest.mark.req("OPS-ASYNC")
async def test_a_single_change_is_an_order_completed_later(sim: Sim) -> None:
    client = onelink(sim)
    await sim.knobs(completion_ms=5000)
    [answer] = await client.set_status([CARD], "stopped")
    assert answer.result is Result.SUBMITTED and answer.ticket
    assert (await client.status(CARD)).network == "active", "not done yet"
    assert (await client.confirm(CARD, "stopped", answer.ticket)).result is Result.SUBMITTED
    sim.clock.advance(5)
    assert (await client.confirm(CARD, "stopped", answer.ticket)).result is Result.CHANGED
    assert (await client.status(CARD)).network == "stopped"
    assert ORDER in sim.calls(API)


async def test_a_batch_is_one_job_polled_until_done_keyed_by_msisdn(sim: Sim) -> None:
    client = onelink(sim)
    stopped, *rest = await fleet(sim, 3)
    await client.set_status([stopped], "stopped")
    sim.clock.advance(181)  # out of its cooldown, or the whole batch would be refused
    sim.per_request_s = 0.1  # each request takes 100 ms of the operator's time; jobs take 200
    answers = await client.set_status([*rest, stopped], "stopped")
    assert sorted((a.iccid, a.result) for a in answers) == sorted([
        (rest[0].iccid, Result.CHANGED), (rest[1].iccid, Result.CHANGED),
        (stopped.iccid, Result.ALREADY)])
    assert sim.calls(API).count(BATCH) == 1
    assert sim.calls(API).count(POLL) >= 2, "polled while the job was processing"
    assert [(await sim.card(c.iccid))["status"] for c in [stopped, *rest]] == ["stopped"] * 3


@pytest.mark.req("OPS-COOLDOWN")
async def test_one_card_in_its_cooldown_refuses_the_whole_batch(sim: Sim) -> None:
    client = onelink(sim)
    cards = await fleet(sim, 3)
    await client.set_status(cards[:1], "stopped")
    answers = await client.set_status(cards, "active")
    assert {(a.result, a.whole_batch) for a in answers} == {(Result.COOLDOWN, True)}
    assert [(await sim.card(c.iccid))["status"] for c in cards] == [
        "stopped", "active", "active"], "nothing changed"
    singles = [await client.set_status([c], "stopped") for c in cards[1:]]
    assert [s[0].result for s in singles] == [Result.SUBMITTED] * 2, "card by card they go"


async def test_a_batch_fails_card_by_card(sim: Sim) -> None:
    client = onelink(sim)
    cards = await fleet(sim, 8)
    await sim.knobs(batch_delay_ms=1000, seed=4)
    polling = asyncio.Event()

    async def hold_polls(request: httpx.Request) -> None:
        if request.url.path == POLL:
            await polling.wait()

    sim.client.event_hooks["request"].append(hold_polls)
    job = asyncio.create_task(client.set_status(cards, "stopped"))

    async def waiting_to_poll() -> bool:
        return POLL in sim.calls(API)

    await eventually_async(waiting_to_poll, timeout=5, what="the client polling its job")
    await sim.knobs(error_rate=0.5)  # drawn per card as the job completes…
    sim.clock.advance(1)
    await sim.card(CARD.iccid)  # …which the simulator does on its next request
    await sim.knobs(error_rate=0)
    polling.set()
    answers = {a.iccid: a.result for a in await job}
    assert set(answers.values()) == {Result.CHANGED, Result.TRANSIENT}
    for iccid, result in answers.items():
        status = (await sim.card(iccid))["status"]
        assert status == ("stopped" if result is Result.CHANGED else "active"), iccid


async def test_a_job_still_processing_at_the_deadline_is_left_to_confirm(sim: Sim) -> None:
    client = onelink(sim, job_timeout_s=0.05)
    await sim.knobs(batch_delay_ms=1000)  # the operator's clock stands still: never done
    answers = await client.set_status(await fleet(sim, 2), "stopped")
    assert [a.result for a in answers] == [Result.SUBMITTED] * 2
    assert all("still running" in a.detail for a in answers)


async def test_a_refused_batch_fails_every_card_of_it(sim: Sim) -> None:
    client = onelink(sim)
    cards = await fleet(sim, 101)
    too_many = await client.set_status(cards, "stopped")
    assert {a.result for a in too_many} == {Result.REJECTED} and len(too_many) == 101
    await sim.knobs(error_rate=1)
    busy = await client.set_status(cards[:3], "stopped")
    assert [a.result for a in busy] == [Result.TRANSIENT] * 3
    assert (await sim.card(cards[0].iccid))["status_changes"] == 0
