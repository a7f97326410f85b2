"""One reconciler round (`Reconciler.round`) against real PostgreSQL, the operator scripted.

The fast, precise layer under test_controls.py (which drives the whole loop against the
simulator over HTTP): what one pass reads, which calls it makes in which batches, and what it
records for each answer. Cards are registered and stopped through the store.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.rows import class_row

from connectors.base import OperatorError
from controls.reconciler import OperatorLane, Policy, Reconciler
from core.operators import Operator
from core.settings import Settings
from domain.control.results import CommandResult, Result
from domain.usage.partitioning import partition_for
from domain.usage.records import UsageRecord
from store.cards import CardView, NewCard, create_card, get_card, set_manual
from store.controls import StatusReport, observe
from store.db import Conn, Reconnecting
from store.enterprises import create_enterprise
from store.usage import OperatorRecords, account
from tests.support.cards import iccids
from tests.support.operator import ScriptedOperator
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration
OPERATOR: Operator = "onelink"
POLICY = Policy(max_attempts=3, card_cooldown_s=0.0, backoff_base_s=0.01, backoff_cap_s=0.02,
                scan_s=0.05, scan_limit=1000)
_records = itertools.count()


@dataclass(frozen=True)
class Timing:
    """A card's control row timings: seconds until its next attempt, and whether the network
    changed it (the start of its cooldown)."""

    wait_s: float
    changed: bool


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    """A connection to the test's database, with enterprise `e` in it."""
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        await create_enterprise(made, "e", "E", "Asia/Shanghai")
        yield made


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Reconnecting]:
    made = Reconnecting(settings.require_database())
    yield made
    await made.close()


def reconciler(settings: Settings, db: Reconnecting, operator: ScriptedOperator,
               policy: Policy = POLICY, partitions: list[int] | None = None) -> Reconciler:
    """A reconciler with one lane, toward `operator`, over this process's `partitions`."""
    owned = list(range(settings.usage_partitions)) if partitions is None else partitions
    return Reconciler(db, {OPERATOR: OperatorLane(operator)}, policy, lambda: owned,
                      random.Random(5))


async def register(conn: Conn, settings: Settings, cards: list[str],
                   package_bytes: int | None = None) -> None:
    for iccid in cards:
        await create_card(conn, "e", NewCard(iccid, OPERATOR, package_bytes, None, [],
                                             partition_for(iccid, settings.usage_partitions)))


async def use(conn: Conn, iccid: str, nbytes: int) -> None:
    """Usage ending now, stored and accounted as the stream worker does."""
    now_ms = int(time.time() * 1000)
    record = UsageRecord(f"r{next(_records)}", iccid, nbytes, now_ms - 60_000, now_ms)
    await account(conn, [OperatorRecords(OPERATOR, now_ms, [record])])


async def manual(conn: Conn, iccid: str, *stops: bool) -> None:
    for stopped in stops:
        await set_manual(conn, iccid, stopped)


async def timing(conn: Conn, iccid: str) -> Timing:
    async with conn.cursor(row_factory=class_row(Timing)) as cur:
        await cur.execute("SELECT extract(epoch FROM next_attempt - now())::float8 AS wait_s,"
                          " last_change_at IS NOT NULL AS changed"
                          " FROM card_control WHERE iccid = %s", (iccid,))
        found = await cur.fetchone()
    assert found is not None, f"no control row for {iccid}"
    return found


async def control(conn: Conn, iccid: str) -> tuple[str, str, int, str | None, str]:
    """(target, state, attempts, last outcome, network status) of a card with a control row."""
    view: CardView = await get_card(conn, iccid)
    assert view.control is not None, f"no control row for {iccid}"
    c = view.control
    return c.target, c.state, c.attempts, c.last_outcome, view.network_status


async def rounds_until_state(rec: Reconciler, conn: Conn, iccid: str, state: str,
                             timeout: float = 10.0) -> None:
    """Run rounds until the card's control state is `state`."""
    async def step() -> bool:
        await rec.round(OPERATOR)
        view = await get_card(conn, iccid)
        return view.control is not None and view.control.state == state

    await eventually_async(step, timeout=timeout, what=f"{iccid} {state}")


async def test_a_card_over_its_quota_gets_one_stop(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card], package_bytes=100)
    await use(conn, card, 150)
    assert (await get_card(conn, card)).stop_reasons == ["package_quota"]
    operator = ScriptedOperator()
    rec = reconciler(settings, db, operator)

    assert await rec.round(OPERATOR) == 1
    assert operator.changes() == [("stopped", (card,))]
    assert await control(conn, card) == ("stopped", "done", 0, "accepted", "stopped")
    assert await rec.round(OPERATOR) == 0, "a confirmed card is not read again"
    assert len(operator.calls) == 1


async def test_the_same_desired_state_twice_makes_one_call(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card], package_bytes=100)
    await use(conn, card, 150)
    await manual(conn, card, True, True)  # a second reason, and the same one again
    assert (await get_card(conn, card)).stop_reasons == ["manual", "package_quota"]
    operator = ScriptedOperator()
    rec = reconciler(settings, db, operator)

    assert await rec.round(OPERATOR) == 1
    await manual(conn, card, True)
    assert await rec.round(OPERATOR) == 0
    assert operator.changes() == [("stopped", (card,))]


async def test_a_change_reversed_before_the_round_makes_none(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    flipped, confirmed = iccids(2)
    await register(conn, settings, [flipped, confirmed])
    operator = ScriptedOperator()
    rec = reconciler(settings, db, operator)
    await manual(conn, confirmed, True)
    assert await rec.round(OPERATOR) == 1  # `confirmed` is stopped on the network

    await manual(conn, flipped, True, False)  # wanted stopped, then active again
    await manual(conn, confirmed, False, True)  # wanted active, then stopped again
    assert await rec.round(OPERATOR) == 0
    assert operator.changes() == [("stopped", (confirmed,))]
    assert (await get_card(conn, flipped)).control is None, "nothing was recorded for it"


async def test_batches_are_cut_to_max_batch_most_recently_used_first(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    fleet = iccids(8)
    await register(conn, settings, fleet)
    for iccid in fleet[:7]:  # each later card used more recently; the last never
        await use(conn, iccid, 10)
    for iccid in fleet:
        await manual(conn, iccid, True)
    operator = ScriptedOperator(max_batch=3, in_flight=1)  # one call at a time: a clear order
    rec = reconciler(settings, db, operator)

    assert await rec.round(OPERATOR) == 8
    c = fleet
    assert operator.changes() == [("stopped", (c[6], c[5], c[4])), ("stopped", (c[3], c[2], c[1])),
                                  ("stopped", (c[0], c[7]))]


async def test_an_operator_cooldown_is_a_wait_not_an_attempt(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    waits, outlasts = iccids(2)
    await register(conn, settings, [waits, outlasts])
    operator = ScriptedOperator()
    operator.answer(waits, Result.COOLDOWN)
    await manual(conn, waits, True)
    slow = Policy(max_attempts=3, card_cooldown_s=60, backoff_base_s=0.01, backoff_cap_s=0.02,
                  scan_s=0.05, scan_limit=1000)
    assert await reconciler(settings, db, operator, slow).round(OPERATOR) == 1
    assert await control(conn, waits) == ("stopped", "pending", 0, "cooldown", "unknown")
    assert 50 < (await timing(conn, waits)).wait_s <= 60
    assert await reconciler(settings, db, operator, slow).round(OPERATOR) == 0

    # more cooldowns than max_attempts allows failures, then the change goes through
    operator.answer(outlasts, *[Result.COOLDOWN] * 4)
    await manual(conn, outlasts, True)
    short = Policy(max_attempts=3, card_cooldown_s=0.05, backoff_base_s=0.01,
                   backoff_cap_s=0.02, scan_s=0.05, scan_limit=1000)
    await rounds_until_state(reconciler(settings, db, operator, short), conn, outlasts, "done")
    assert [t for t, cards in operator.changes() if cards == (outlasts,)] == ["stopped"] * 5
    assert await control(conn, outlasts) == ("stopped", "done", 0, "accepted", "stopped")


async def test_a_card_changed_moments_ago_waits_out_the_cooldown_without_a_call(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card])
    await manual(conn, card, True)
    operator = ScriptedOperator()
    rec = reconciler(settings, db, operator, Policy(
        max_attempts=3, card_cooldown_s=60, backoff_base_s=0.01, backoff_cap_s=0.02,
        scan_s=0.05, scan_limit=1000))
    assert await rec.round(OPERATOR) == 1
    assert (await timing(conn, card)).changed

    await manual(conn, card, False)
    assert await rec.round(OPERATOR) == 1  # read, and told to wait
    assert operator.changes() == [("stopped", (card,))], "no resume inside the cooldown"
    assert await control(conn, card) == ("active", "pending", 0, "accepted", "stopped")
    assert 50 < (await timing(conn, card)).wait_s <= 60
    assert await rec.round(OPERATOR) == 0


async def test_rate_limited_slows_the_lane_and_costs_no_attempt(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card])
    await manual(conn, card, True)
    operator = ScriptedOperator(rate_per_s=1000)  # about 1 ms between calls, unless slowed
    operator.answer(card, Result.RATE_LIMITED)
    rec = reconciler(settings, db, operator)

    assert await rec.round(OPERATOR) == 1
    assert await control(conn, card) == ("stopped", "pending", 0, "rate_limited", "unknown")
    assert (await timing(conn, card)).wait_s <= POLICY.backoff_base_s
    await rounds_until_state(rec, conn, card, "done")
    first, second = operator.calls
    assert second.at - first.at >= 0.9, "the lane paused about a second after `too many`"


async def test_transient_failures_back_off_until_failed_and_a_new_change_rearms(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card])
    await manual(conn, card, True)
    operator = ScriptedOperator()
    operator.answer(card, *[Result.TRANSIENT] * 3)
    rec = reconciler(settings, db, operator, Policy(
        max_attempts=3, card_cooldown_s=0, backoff_base_s=0.5, backoff_cap_s=1.0,
        scan_s=0.05, scan_limit=1000))

    assert await rec.round(OPERATOR) == 1
    assert await control(conn, card) == ("stopped", "pending", 1, "error", "unknown")
    assert 0.2 < (await timing(conn, card)).wait_s <= 0.5  # half to all of the base
    assert await rec.round(OPERATOR) == 0, "not before the backoff is over"
    await rounds_until_state(rec, conn, card, "failed")
    first, second, third = (c.at for c in operator.calls)
    assert second - first >= 0.25 and third - second >= 0.5, "the backoff doubles"
    view = await get_card(conn, card)
    assert view.control is not None and view.control.last_error == "scripted error"
    assert await control(conn, card) == ("stopped", "failed", 3, "error", "unknown")
    assert await rec.round(OPERATOR) == 0, "a failed card is left alone"

    await manual(conn, card, False, True)  # wanted active, then stopped again: a new change
    assert (await control(conn, card))[1:3] == ("pending", 0)
    assert await rec.round(OPERATOR) == 1
    assert await control(conn, card) == ("stopped", "done", 0, "accepted", "stopped")
    assert len(operator.calls) == 4


async def test_a_call_that_raises_is_an_attempt_for_every_card_of_its_batch(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    pair = iccids(2)
    await register(conn, settings, pair)
    for iccid in pair:
        await manual(conn, iccid, True)
    operator = ScriptedOperator()
    operator.next_calls(OperatorError(Result.TRANSIENT, "connection reset"))
    assert await reconciler(settings, db, operator).round(OPERATOR) == 2
    assert operator.changes() == [("stopped", tuple(pair))]
    for iccid in pair:
        assert await control(conn, iccid) == ("stopped", "pending", 1, "error", "unknown")
        view = await get_card(conn, iccid)
        assert view.control is not None
        assert view.control.last_error == "OperatorError: connection reset"


async def test_rejected_fails_at_once(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card])
    await manual(conn, card, True)
    operator = ScriptedOperator()
    operator.answer(card, Result.REJECTED)
    rec = reconciler(settings, db, operator)
    assert await rec.round(OPERATOR) == 1
    assert await control(conn, card) == ("stopped", "failed", 1, "rejected", "unknown")
    assert await rec.round(OPERATOR) == 0
    assert len(operator.calls) == 1


async def test_already_in_that_state_is_done_and_starts_no_cooldown(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card])
    await manual(conn, card, True)
    operator = ScriptedOperator()
    operator.answer(card, Result.ALREADY)
    rec = reconciler(settings, db, operator, Policy(
        max_attempts=3, card_cooldown_s=60, backoff_base_s=0.01, backoff_cap_s=0.02,
        scan_s=0.05, scan_limit=1000))
    assert await rec.round(OPERATOR) == 1
    assert await control(conn, card) == ("stopped", "done", 0, "repeat", "stopped")
    assert not (await timing(conn, card)).changed

    await manual(conn, card, False)
    assert await rec.round(OPERATOR) == 1
    assert operator.changes() == [("stopped", (card,)), ("active", (card,))], \
        "the resume went at once: nothing changed on the network, so no cooldown"
    assert await control(conn, card) == ("active", "done", 0, "accepted", "active")


async def test_the_network_status_is_confirmed_only_on_a_done_answer(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    answers = [Result.CHANGED, Result.ALREADY, Result.COOLDOWN, Result.RATE_LIMITED,
               Result.TRANSIENT, Result.REJECTED]
    fleet = iccids(len(answers))
    await register(conn, settings, fleet)
    operator = ScriptedOperator()
    for iccid, answer in zip(fleet, answers, strict=True):
        await manual(conn, iccid, True)
        operator.answer(iccid, answer)
    rec = reconciler(settings, db, operator)
    assert await rec.round(OPERATOR) == len(fleet)
    assert len(operator.calls) == 1, "one batch"
    seen = {iccid: (await get_card(conn, iccid)).network_status for iccid in fleet}
    assert seen == dict(zip(fleet, ["stopped", "stopped"] + ["unknown"] * 4, strict=True))

    stopped = fleet[0]  # a confirmed stop is undone only by a done resume
    await manual(conn, stopped, False)
    operator.answer(stopped, Result.TRANSIENT)
    await rec.round(OPERATOR)
    assert await control(conn, stopped) == ("active", "pending", 1, "error", "stopped")
    await rounds_until_state(rec, conn, stopped, "done")
    assert (await get_card(conn, stopped)).network_status == "active"


async def test_a_round_acts_only_on_the_partitions_it_owns(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    fleet = iccids(12)
    by_partition = {partition_for(i, settings.usage_partitions): i for i in fleet}
    assert len(by_partition) > 1, "the cards spread over partitions"
    await register(conn, settings, fleet)
    for iccid in fleet:
        await manual(conn, iccid, True)
    owned = min(by_partition)
    mine = [i for i in fleet if partition_for(i, settings.usage_partitions) == owned]
    operator = ScriptedOperator()
    assert await reconciler(settings, db, operator, partitions=[owned]).round(OPERATOR) == len(mine)
    assert [set(cards) for _, cards in operator.changes()] == [set(mine)]
    assert await reconciler(settings, db, operator, partitions=[]).round(OPERATOR) == 0


CONFIRMING = replace(POLICY, confirm_first_s=0.05, confirm_cap_s=0.1, confirm_deadline_s=30.0)


@pytest.mark.req("OPS-ASYNC")
async def test_a_submitted_change_is_pending_until_a_status_read_confirms_it(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card])
    operator = ScriptedOperator()
    operator.answer(card, Result.SUBMITTED)
    await manual(conn, card, True)
    rec = reconciler(settings, db, operator, CONFIRMING)

    assert await rec.round(OPERATOR) == 1
    view = await get_card(conn, card)
    assert view.control is not None and view.control.pending_confirmation
    assert (view.control.state, view.network_status) == ("confirming", "unknown")
    assert (await timing(conn, card)).changed, "the cooldown counts from the acceptance"
    time.sleep(0.06)
    await rec.round(OPERATOR)  # the operator has not done it yet: still pending
    assert [c.method for c in operator.calls] == ["set_status", "confirm", "status"]
    assert (await get_card(conn, card)).control.pending_confirmation  # type: ignore[union-attr]

    operator.complete()
    await rounds_until_state(rec, conn, card, "done")
    view = await get_card(conn, card)
    assert view.network_status == "stopped" and view.control is not None
    assert not view.control.pending_confirmation and view.control.last_outcome == "accepted"
    assert operator.changes() == [("stopped", (card,))], "confirmed, never sent twice"


@pytest.mark.req("OPS-ASYNC")
async def test_a_change_unconfirmed_by_the_deadline_is_sent_again(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card])
    operator = ScriptedOperator()
    operator.answer(card, Result.SUBMITTED)  # the operator loses the first order
    await manual(conn, card, True)
    short = replace(POLICY, confirm_first_s=0.05, confirm_cap_s=0.05, confirm_deadline_s=0.2)
    rec = reconciler(settings, db, operator, short)
    await rec.round(OPERATOR)
    operator.submitted.clear()  # lost at the operator
    await rounds_until_state(rec, conn, card, "done")
    assert operator.changes() == [("stopped", (card,)), ("stopped", (card,))]
    assert (await control(conn, card))[1:] == ("done", 0, "accepted", "stopped")


@pytest.mark.req("OPS-ASYNC")
async def test_the_status_feed_confirms_a_submitted_change(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card])
    operator = ScriptedOperator()
    operator.answer(card, Result.SUBMITTED)
    await manual(conn, card, True)
    rec = reconciler(settings, db, operator, CONFIRMING)
    await rec.round(OPERATOR)
    await observe(conn, OPERATOR, [StatusReport(card, "stopped", datetime.now(UTC))])
    view = await get_card(conn, card)
    assert view.control is not None and view.control.state == "done"
    assert not view.control.pending_confirmation and view.network_status == "stopped"
    assert await rec.round(OPERATOR) == 0, "nothing left to check"


@pytest.mark.req("OPS-HELD")
async def test_an_operator_hold_fails_for_good_with_the_reason_until_a_new_decision(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    (card,) = iccids(1)
    await register(conn, settings, [card])
    operator = ScriptedOperator()
    await manual(conn, card, True)
    rec = reconciler(settings, db, operator)
    await rec.round(OPERATOR)
    operator.answer(card, Result.HELD)
    await manual(conn, card, False)
    assert await rec.round(OPERATOR) == 1
    view = await get_card(conn, card)
    assert view.control is not None and view.control.operator_held
    assert (view.control.state, view.control.last_outcome) == ("failed", "operator_held")
    assert view.control.last_error == "scripted operator_held"
    for _ in range(3):
        assert await rec.round(OPERATOR) == 0, "never retried"
    assert len(operator.changes()) == 2
    await manual(conn, card, True, False)  # a new decision tries once more
    await rounds_until_state(rec, conn, card, "done")
    assert len(operator.changes()) == 3


@pytest.mark.req("OPS-COOLDOWN")
async def test_a_batch_refused_whole_for_one_cards_cooldown_is_sent_card_by_card(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    fleet = iccids(3)
    await register(conn, settings, fleet)
    operator = ScriptedOperator()
    refused = [CommandResult(i, Result.COOLDOWN, "12108", whole_batch=True) for i in fleet]
    operator.next_results(refused)
    operator.answer(fleet[1], Result.COOLDOWN)  # the card whose cooldown refused the batch
    for iccid in fleet:
        await manual(conn, iccid, True)
    rec = reconciler(settings, db, operator, replace(POLICY, card_cooldown_s=60))
    assert await rec.round(OPERATOR) == 3
    assert [len(cards) for _, cards in operator.changes()] == [3, 1, 1, 1]
    states = {i: (await control(conn, i))[1] for i in fleet}
    assert states == {fleet[0]: "done", fleet[1]: "pending", fleet[2]: "done"}
    assert (await timing(conn, fleet[1])).wait_s > 50, "only that card waits its cooldown"


@pytest.mark.req("OPS-ASYNC")
async def test_a_change_wanted_back_while_the_first_is_in_flight_is_sent(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    """A stop the operator accepted but has not done, then the card is wanted active again:
    the network status still says active, yet the resume must go (or the stop lands)."""
    (card,) = iccids(1)
    await register(conn, settings, [card])
    operator = ScriptedOperator()
    operator.answer(card, Result.SUBMITTED, Result.SUBMITTED)
    rec = reconciler(settings, db, operator, CONFIRMING)
    await manual(conn, card, True)
    await rec.round(OPERATOR)
    await manual(conn, card, False)
    assert await rec.round(OPERATOR) == 1
    assert operator.changes() == [("stopped", (card,)), ("active", (card,))]
    operator.complete()
    await rounds_until_state(rec, conn, card, "done")
    assert operator.statuses[card] == "active"
    assert (await control(conn, card))[:2] == ("active", "done")


@pytest.mark.req("OPS-ASYNC")
async def test_a_change_wanted_back_inside_the_cooldown_waits_then_goes(
    settings: Settings, conn: Conn, db: Reconnecting,
) -> None:
    """The change in flight is remembered while the card waits out its cooldown, even though
    the network status never showed it."""
    (card,) = iccids(1)
    await register(conn, settings, [card])
    operator = ScriptedOperator()
    operator.answer(card, Result.SUBMITTED)
    cooling = replace(POLICY, card_cooldown_s=0.3, confirm_first_s=5.0, confirm_cap_s=5.0,
                      confirm_deadline_s=60.0)
    rec = reconciler(settings, db, operator, cooling)
    await manual(conn, card, True)
    await rec.round(OPERATOR)
    await manual(conn, card, False)
    assert await rec.round(OPERATOR) == 1  # inside the cooldown: recorded as waiting
    view = await get_card(conn, card)
    assert view.control is not None and view.control.pending_confirmation
    assert (view.control.target, view.control.state) == ("active", "pending")
    assert operator.changes() == [("stopped", (card,))]
    time.sleep(0.35)
    await rounds_until_state(rec, conn, card, "done")
    assert operator.changes() == [("stopped", (card,)), ("active", (card,))]
    operator.complete()
    assert operator.statuses[card] == "active"
    view = await get_card(conn, card)
    assert view.control is not None and not view.control.pending_confirmation
