"""Operators as they really are, over real HTTP against the simulator: changes that complete
later, a batch refused whole for one card's cooldown, the operator's own stops, and usage
counted in each operator's cycle (Unicom's from the 27th, a T-1 number's last day closed)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from connectors.factory import build_clients
from controls.poller import poll_operator
from controls.reconciler import OperatorLane, Policy, Reconciler
from core.settings import Settings
from domain.usage.partitioning import partition_for
from store.cards import CardView, get_card, set_manual
from store.db import Reconnecting
from streams.publish import Publisher
from tests.support.controls import published_usage, run_until
from tests.support.dates import store_clock
from tests.support.simulator import Simulator

pytestmark = pytest.mark.integration
BEIJING = ZoneInfo("Asia/Shanghai")
MB = 1024 * 1024
POLICY = Policy(max_attempts=20, card_cooldown_s=0.0, backoff_base_s=0.05, backoff_cap_s=0.5,
                scan_s=0.05, scan_limit=2000, confirm_first_s=0.1, confirm_cap_s=0.3,
                confirm_deadline_s=60.0)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def register(settings: Settings, operator: str, cards: Mapping[str, str | None]) -> None:
    """Cards (ICCID → number) of `operator` in enterprise `e`."""
    with psycopg.connect(settings.require_database(), autocommit=True) as conn:
        conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('e', 'E')"
                     " ON CONFLICT DO NOTHING")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO cards (iccid, enterprise_id, operator, msisdn, kafka_partition)"
                " VALUES (%s, 'e', %s, %s, %s)",
                [(i, operator, m, partition_for(i, settings.usage_partitions))
                 for i, m in cards.items()])


async def sim_card(http: httpx.AsyncClient, sim: Simulator, iccid: str,
                   **changes: Any) -> dict[str, Any]:
    """The simulator's card, after the operator-side `changes` (if any)."""
    if changes:
        answer = await http.put(f"{sim.url}/_sim/cards/{iccid}", json=changes)
        assert answer.is_success, answer.text
    found: dict[str, Any] = (await http.get(f"{sim.url}/_sim/cards/{iccid}")).json()
    return found


def reconciler(settings: Settings, sim: Simulator, http: httpx.AsyncClient,
               policy: Policy = POLICY) -> Reconciler:
    configured = settings.model_copy(update={"operator_base_url": sim.url})
    lanes = {op: OperatorLane(c) for op, c in build_clients(configured, http).items()}
    partitions = list(range(settings.usage_partitions))
    return Reconciler(Reconnecting(settings.require_database()), lanes, policy,
                      lambda: partitions, random.Random(3))


async def manual(settings: Settings, iccid: str, stopped: bool) -> None:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        await set_manual(conn, iccid, stopped)


async def control_of(settings: Settings, iccid: str) -> CardView:
    async with await psycopg.AsyncConnection.connect(settings.require_database()) as conn:
        return await get_card(conn, iccid)




@pytest.mark.req("OPS-ASYNC")
@pytest.mark.parametrize("operator", ["onelink", "jasper", "ctcc"])
async def test_an_accepted_change_is_pending_until_the_operator_confirms_it(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient, operator: str,
) -> None:
    sim = sim_factory(cooldown_s=0, completion_ms=1500)
    card = "89860012300000000001"
    register(settings, operator, {card: "1440000000001"})
    await sim_card(http, sim, card, msisdn="1440000000001")
    await manual(settings, card, True)
    seen: list[bool] = []

    async def confirmed() -> bool:
        view = await control_of(settings, card)
        if view.control is not None:
            seen.append(view.control.pending_confirmation)
        return view.control is not None and view.control.state == "done"

    await run_until(reconciler(settings, sim, http), confirmed, 20, "confirmed")
    assert True in seen, "shown as pending confirmation while the operator worked on it"
    view = await control_of(settings, card)
    assert view.network_status == "stopped" and view.control is not None
    assert not view.control.pending_confirmation
    assert (await sim_card(http, sim, card))["status_changes"] == 1, "sent once"


@pytest.mark.req("OPS-COOLDOWN")
async def test_a_batch_refused_for_one_cards_cooldown_costs_no_card_its_transition(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(cooldown_s=0)
    cards = {f"8986001230000000010{n}": f"144000000010{n}" for n in range(4)}
    register(settings, "onelink", cards)
    answer = await http.post(f"{sim.url}/_sim/cards", json={"cards": [
        {"iccid": i, "msisdn": m} for i, m in cards.items()]})
    assert answer.is_success, answer.text
    cooling = next(iter(cards))
    # Someone changed one card on the operator's side just now: it is inside its cooldown.
    await sim_card(http, sim, cooling, status="stopped", stop_reason="主动停机")
    await sim_card(http, sim, cooling, status="active")
    await http.put(f"{sim.url}/_sim/knobs", json={"cooldown_s": 3})
    for iccid in cards:
        await manual(settings, iccid, True)

    async def all_stopped() -> bool:
        states = {i: (await sim_card(http, sim, i))["status"] for i in cards}
        return set(states.values()) == {"stopped"}

    await run_until(reconciler(settings, sim, http), all_stopped, 20, "every card stopped")
    stats = (await http.get(f"{sim.url}/_sim/stats")).json()["requests"]["onelink"]
    assert stats.get("cooldown", 0) >= 1, "the batch was refused once"
    for iccid in cards:
        assert (await sim_card(http, sim, iccid))["status"] == "stopped"


@pytest.mark.req("OPS-HELD")
@pytest.mark.parametrize("operator", ["onelink", "jasper", "ctcc"])
async def test_an_operator_freeze_ends_in_the_non_retryable_state(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient, operator: str,
) -> None:
    sim = sim_factory(cooldown_s=0)
    card = "89860012300000000201"
    register(settings, operator, {card: "1440000000201"})
    await sim_card(http, sim, card, msisdn="1440000000201")
    await manual(settings, card, True)

    async def stopped() -> bool:
        view = await control_of(settings, card)
        return view.network_status == "stopped" and view.control is not None and (
            view.control.state == "done")

    await run_until(reconciler(settings, sim, http), stopped, 20, "stopped")
    await sim_card(http, sim, card, status="stopped", stop_reason="欠费停机", frozen=True)
    await manual(settings, card, False)

    async def held() -> bool:
        view = await control_of(settings, card)
        return view.control is not None and view.control.state == "failed"

    rec = reconciler(settings, sim, http)
    await run_until(rec, held, 20, "given up")
    view = await control_of(settings, card)
    assert view.control is not None
    assert view.control.operator_held and view.control.last_outcome == "operator_held"
    assert view.control.last_error and ("欠费停机" in view.control.last_error
                                        or "管理停机" in view.control.last_error
                                        or "blocked" in view.control.last_error)
    before = (await http.get(f"{sim.url}/_sim/stats")).json()["requests"][operator]
    for _ in range(5):
        assert await rec.round(operator) == 0, "never asked again"
    after = (await http.get(f"{sim.url}/_sim/stats")).json()["requests"][operator]
    assert after == before
    assert (await sim_card(http, sim, card))["status"] == "stopped"




class Calendar:
    """The platform clock and the simulator's calendar, moved together."""

    def __init__(self, settings: Settings, sim: Simulator, http: httpx.AsyncClient) -> None:
        self.settings, self.sim, self.http = settings, sim, http

    async def at(self, local: str) -> None:
        target = datetime.fromisoformat(local).replace(tzinfo=BEIJING)
        moved = await store_clock(self.settings.require_database(), target)
        answer = await self.http.put(f"{self.sim.url}/_sim/knobs",
                                     json={"time_offset_s": moved.offset_s})
        assert answer.is_success, answer.text

    async def use(self, iccid: str, nbytes: int) -> None:
        answer = await self.http.post(f"{self.sim.url}/_sim/usage",
                                      json={"records": [{"iccid": iccid, "bytes": nbytes}]})
        assert answer.is_success, answer.text


@asynccontextmanager
async def poller(settings: Settings, sim: Simulator, http: httpx.AsyncClient, operator: str,
                 cycle_day: int = 1) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """One polling pass of `operator`'s cards (over the simulator) per call of what it gives;
    the month close is due two hours into a cycle, as by default."""
    configured = settings.model_copy(update={"operator_base_url": sim.url})
    db, publisher = Reconnecting(settings.require_database()), Publisher(settings)
    lane = OperatorLane(build_clients(configured, http)[operator])
    partitions = list(range(settings.usage_partitions))

    async def poll() -> int:
        return await poll_operator(db, lane, publisher, partitions, cycle_day=cycle_day,
                                   close_delay_s=7200)

    try:
        yield poll
    finally:
        await publisher.stop()
        await db.close()


@pytest.mark.req("OPS-CYCLE")
async def test_a_unicom_rollover_on_the_27th_counts_every_byte_once(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(cooldown_s=0)
    card = "89860012300000000301"
    register(settings, "jasper", {card: None})
    calendar = Calendar(settings, sim, http)
    async with poller(settings, sim, http, "jasper", cycle_day=27) as poll:
        await calendar.at("2026-11-26T22:00:00")
        await calendar.use(card, 3 * MB)
        assert await poll() == 1
        await calendar.at("2026-11-26T23:50:00")
        await calendar.use(card, 1 * MB)
        assert await poll() == 1
        await calendar.at("2026-11-27T00:20:00")  # Unicom's counter starts again
        assert await poll() == 0, "a reset is a new cycle, not negative usage"
        await calendar.use(card, 2 * MB)
        assert await poll() == 1, "counted at once, not four days later"
        assert await poll() == 0
    records = await published_usage(settings, 3)
    assert sorted(r.bytes for r in records) == [1 * MB, 2 * MB, 3 * MB]
    with psycopg.connect(settings.require_database()) as conn:
        rows = conn.execute("SELECT cycle, high_bytes FROM usage_snapshots").fetchall()
    marks: dict[str, int] = dict(rows)
    assert marks == {"2026-10-27": 4 * MB, "2026-11-27": 2 * MB}


@pytest.mark.req("OPS-CYCLE")
async def test_the_month_close_counts_the_last_day_of_a_t1_number_once(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(cooldown_s=0)
    card, number = "89860012300000000401", "1440000000401"
    register(settings, "onelink", {card: number})
    await sim_card(http, sim, card, msisdn=number, platform="pb")
    calendar = Calendar(settings, sim, http)
    async with poller(settings, sim, http, "onelink") as poll:
        await calendar.at("2026-11-29T12:00:00")
        await calendar.use(card, 1 * MB)
        assert await poll() == 0, "T-1: today is not reported yet"
        await calendar.at("2026-11-30T12:00:00")
        assert await poll() == 1, "yesterday's megabyte"
        await calendar.use(card, 2 * MB)  # the last day of the month
        await calendar.at("2026-12-01T01:00:00")
        assert await poll() == 0, "the new month shows nothing of November, the close waits"
        await calendar.at("2026-12-01T03:00:00")
        assert await poll() == 1, "the close counts the 30th"
        assert await poll() == 0, "and only once"
    records = await published_usage(settings, 2)
    assert sorted(r.bytes for r in records) == [1 * MB, 2 * MB]
    closing = next(r for r in records if r.record_id.startswith("close:"))
    ended = datetime.fromtimestamp(closing.end_ms / 1000, BEIJING)
    assert ended.strftime("%Y-%m-%d %H:%M:%S") == "2026-11-30 23:59:59", "inside November"


@pytest.mark.req("OPS-CYCLE")
async def test_telecom_usage_after_the_last_poll_of_a_month_is_closed_by_date(
    settings: Settings, sim_factory: Any, http: httpx.AsyncClient,
) -> None:
    sim = sim_factory(cooldown_s=0)
    card, number = "89860012300000000501", "1410000000501"
    register(settings, "ctcc", {card: number})
    await sim_card(http, sim, card, msisdn=number)
    calendar = Calendar(settings, sim, http)
    async with poller(settings, sim, http, "ctcc") as poll:
        await calendar.at("2026-11-30T23:00:00")
        await calendar.use(card, 1 * MB)
        assert await poll() == 1
        await calendar.at("2026-11-30T23:59:00")
        await calendar.use(card, 2 * MB)  # after the month's last poll
        await calendar.at("2026-12-01T03:00:00")
        assert await poll() == 1, "queryTrafficByDate over November finds it"
        assert await poll() == 0
    records = await published_usage(settings, 2)
    assert sorted(r.bytes for r in records) == [1 * MB, 2 * MB]
