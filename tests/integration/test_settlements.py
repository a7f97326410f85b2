"""Number-card settlements (H-31 … H-36, SM-H-COMM) through store/settlements.py: a statement
is imported once per (factory, period) as one batch; each line matched to its card's
attributed agent and rule (fixed or percent, half-up, may exceed the line: flagged); unmatched
lines stay platform profit; the factory pays exactly the total (agent commissions frozen, the
rest to revenue in one batch transfer); conditions unfreeze, the deadline invalidates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core.money import Fen
from core.settings import Settings
from domain.imports.errors import SettlementTotalMismatch
from domain.imports.kinds import SettlementHeader, SettlementLine
from domain.ledger import REVENUE, agent_available, agent_commission_frozen, factory_settlement
from store import commissions, ledger, settlements
from store.agents import Actor, create_agent
from store.card_events import CardEvent, receive
from store.db import Conn, Reconnecting
from streams.number_cards import DailySweep
from tests.support.commission import deliver
from tests.support.dates import store_clock
from tests.support.imports import read_xlsx, xlsx
from tests.support.ledger import balances, connect
from tests.support.orders import Shop, shop, spec_world
from tests.support.pricing import ok

pytestmark = pytest.mark.integration
TOPIC = "orders"
ADMIN = Actor("admin", "admin")
OPERATOR = Actor("user:op", "platform_operator")
T0 = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)
FACTORY = factory_settlement("F1")
CARDS = [f"898600000000000000{n:02d}" for n in range(1, 6)]
TERMS = ('{"first_recharge_fen": 5000, "min_tenure_days": 30, "require_not_sanwu": true,'
         ' "conditions_deadline_days": 90}')


async def _world(conn: Conn, *, mode: str = "fixed", value: int = 3000,
                 terms: str = "{}", approval: bool = True) -> None:
    """Agents A and B; number-card product NC1; cards 1–3 attributed to A, card 4 to B (no
    rule), card 5 to nobody; A's rule on the number-card business line."""
    await create_agent(conn, "A", "Agent A", None, ["number_card"], ADMIN)
    await create_agent(conn, "B", "Agent B", None, ["number_card"], ADMIN)
    await conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('sh', 'SH')")
    await conn.execute("INSERT INTO packages (package_id, name, business_line,"
                       " factory_price_fen) VALUES ('NC1', 'Number card', 'number_card', 1900)")
    for iccid in CARDS:
        await conn.execute("INSERT INTO cards (iccid, enterprise_id, operator, product_id)"
                           " VALUES (%s, 'sh', 'onelink', 'NC1')", (iccid,))
    for iccid, agent in zip(CARDS[:4], "AAAB", strict=True):
        await conn.execute("INSERT INTO card_attributions (iccid, agent_id, source, source_ref,"
                           " at) VALUES (%s, %s, 'platform', 'test', %s)",
                           (iccid, agent, T0 - timedelta(days=60)))
    await conn.execute(
        "INSERT INTO commission_rules (rule_id, version, agent_id, kind, business_line,"
        " amount_mode, amount_value, freeze_days, requires_approval, terms, effective_from,"
        " status, created_by) VALUES ('nc', 1, 'A', 'number_card_settlement', 'number_card',"
        " %s, %s, 0, %s, %s, %s, 'active', 'admin')",
        (mode, value, approval, terms, T0 - timedelta(days=30)))


def _header(total: int, period: str = "2026-03") -> SettlementHeader:
    return SettlementHeader("F1", period, Fen(total))


def _lines(*amounts: int) -> list[SettlementLine]:
    return [SettlementLine(n + 2, CARDS[n], Fen(a)) for n, a in enumerate(amounts)]


async def _import(conn: Conn, total: int, *amounts: int, at: datetime = T0
                  ) -> settlements.Batch:
    return await settlements.import_batch(conn, _header(total), _lines(*amounts),
                                          actor=OPERATOR, at=at, topic=TOPIC)


async def _records(conn: Conn, batch_id: str) -> dict[int, commissions.Record]:
    found = await commissions.by_keys(conn, [settlements.idem_key(batch_id, n)
                                             for n in range(2, 7)])
    return {r.line_no: r for r in found.values() if r.line_no is not None}


@pytest.mark.req("H-31", "H-32", "H-34", "H-36", "SM-H-COMM")
async def test_lines_are_matched_to_attributed_agents_and_the_rest_is_platform_profit(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn, terms=TERMS)  # fixed 3000 per card; conditions unmet
        batch = await _import(conn, 2000 + 5000 + 4000 + 3000 + 1000,
                              2000, 5000, 4000, 3000, 1000)
        assert (batch.lines, batch.matched, batch.unmatched) == (5, 3, 2)
        assert batch.agent_commission_fen == 9000
        assert batch.retained_profit_fen == 15000 - 9000
        assert batch.negative_margin_lines == 1  # 3000 on a 2000 line
        lines = await settlements.lines(conn, batch.batch_id)
        assert [(ln.status, ln.agent_id, ln.commission_fen, ln.negative_margin,
                 ln.retained_profit_fen) for ln in lines] == [
            ("matched", "A", 3000, True, -1000), ("matched", "A", 3000, False, 2000),
            ("matched", "A", 3000, False, 1000), ("unmatched", None, None, False, 3000),
            ("unmatched", None, None, False, 1000)]
        records = await _records(conn, batch.batch_id)
        assert {r.state for r in records.values()} == {"frozen"}
        assert records[2].source_account == FACTORY and records[2].unfreeze_due_at is None
        assert records[2].explanation["base"] == {
            "source": "settlement_line", "batch_id": batch.batch_id, "factory_id": "F1",
            "period": "2026-03", "line_no": 2, "amount_fen": 2000}
        frozen = agent_commission_frozen("A")
        assert await balances(conn, FACTORY, frozen, REVENUE) == {
            FACTORY: -15000, frozen: 9000, REVENUE: 6000}
        assert (await ledger.trial_balance(conn)).balanced
        unmatched = await settlements.lines(conn, batch.batch_id, status="unmatched")
        assert [ln.iccid for ln in unmatched] == CARDS[3:]
        flagged = await settlements.lines(conn, batch.batch_id, negative_only=True)
        assert [ln.line_no for ln in flagged] == [2]


@pytest.mark.req("H-32")
async def test_a_percent_rule_takes_basis_points_of_the_line_rounded_half_up(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn, mode="percent", value=1250, terms=TERMS)  # 12.5 %
        batch = await _import(conn, 100 + 3 + 4, 100, 3, 4)
        # 12.5 → 13; 0.375 → 0 (a record, no money); 0.5 → 1
        lines = await settlements.lines(conn, batch.batch_id)
        assert [ln.commission_fen for ln in lines] == [13, 0, 1]
        records = await _records(conn, batch.batch_id)
        assert records[2].explanation["formula"] == "100 × 1250 bp / 10000, half-up"
        assert records[3].amount_fen == 0 and records[3].state == "frozen"
        assert batch.agent_commission_fen == 14 and batch.retained_profit_fen == 93
        assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("H-36", "AMB-46", "SM-H-COMM")
async def test_commissions_above_the_total_are_flagged_and_revenue_pays_the_factory_back(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn, terms=TERMS)  # fixed 3000 per card
        batch = await _import(conn, 100 + 200, 100, 200)
        assert batch.negative_margin_lines == 2 and batch.retained_profit_fen == 300 - 6000
        frozen = agent_commission_frozen("A")
        assert await balances(conn, FACTORY, frozen, REVENUE) == {
            FACTORY: -300, frozen: 6000, REVENUE: -5700}
        profit = await ledger.get_transfer(conn, f"settlement:{batch.batch_id}:profit")
        assert (profit.debit_account, profit.credit_account, profit.amount) == (
            REVENUE, FACTORY, 5700)
        assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("H-36")
async def test_a_factory_period_is_imported_once(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn)
        await _import(conn, 5000, 5000)
        with pytest.raises(settlements.SettlementExists) as refused:
            await _import(conn, 4000, 4000)
        assert refused.value.code == "settlement_exists"
        assert refused.value.message_zh == "该厂家该周期的结算单已导入"
        assert refused.value.field is None  # 409
        content = xlsx(["ICCID", "金额(分)"], [[CARDS[0], 5000]])
        with pytest.raises(settlements.SettlementExists):
            await settlements.import_file(conn, content, _header(5000), actor=OPERATOR,
                                          at=T0, topic=TOPIC)
        count = await (await conn.execute("SELECT count(*) FROM commission_records")).fetchone()
        assert count == (1,)


@pytest.mark.req("H-36")
async def test_lines_that_do_not_add_up_to_the_total_refuse_the_file(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn)
        content = xlsx(["ICCID", "金额(分)"], [[CARDS[0], 5000], [CARDS[1], 2000]])
        with pytest.raises(SettlementTotalMismatch) as refused:
            await settlements.import_file(conn, content, _header(7001), actor=OPERATOR,
                                          at=T0, topic=TOPIC)
        assert refused.value.message_zh == "结算明细合计与结算总额不一致"
        assert await settlements.batches(conn) == []
        done = await settlements.import_file(conn, content, _header(7000), actor=OPERATOR,
                                             at=T0, topic=TOPIC)
        assert done.failed == () and done.batch.matched == 2


async def _card_event(conn: Conn, event_id: str, iccid: str, kind: str, at: datetime,
                      amount: int | None = None) -> None:
    await conn.execute("INSERT INTO card_events (operator, event_id, iccid, type, amount_fen,"
                       " at, outcome) VALUES ('onelink', %s, %s, %s, %s, %s, 'recorded')",
                       (event_id, iccid, kind, amount, at))


async def _used(conn: Conn, iccid: str, cycle: date) -> None:
    await conn.execute("INSERT INTO card_cycle_usage (iccid, cycle, bytes, records)"
                       " VALUES (%s, %s, 1024, 1)", (iccid, cycle))




@pytest.mark.req("H-33", "H-35", "SM-H-COMM", "SM-H-APPROVAL")
async def test_conditions_met_unfreeze_with_an_approval(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn, terms=TERMS)
        card = CARDS[0]
        await conn.execute("UPDATE cards SET network_status = 'active' WHERE iccid = %s",
                           (card,))
        await _card_event(conn, "act1", card, "activated", T0 - timedelta(days=20))
        await _card_event(conn, "rc1", card, "recharged", T0 - timedelta(days=19), 5000)
        await _used(conn, card, date(2026, 3, 1))
        batch = await _import(conn, 6000, 6000)
        [record] = (await _records(conn, batch.batch_id)).values()
        assert record.state == "frozen"  # 20 days of tenure: not 30
        later = T0 + timedelta(days=9, hours=23)
        done = await settlements.evaluate_number_cards(conn, [card], later, TOPIC)
        assert (done.unfrozen, done.waiting) == (0, 1)
        await settlements.sweep_number_cards(conn, T0 + timedelta(days=10), TOPIC)
        moved = await commissions.get(conn, record.record_id)
        assert moved.state == "unfreezing" and moved.unfreezing_at == T0 + timedelta(days=10)
        approval = await commissions.get_approval(
            conn, commissions.approval_id_of(record.record_id))
        assert approval.state == "pending"


@pytest.mark.req("H-35", "SM-H-COMM")
async def test_conditions_met_without_approval_pay_the_agent(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn, terms='{"first_recharge_fen": 1000, "require_not_sanwu": false}',
                     approval=False)
        card = CARDS[0]
        await _card_event(conn, "rc1", card, "recharged", T0 - timedelta(days=1), 1000)
        batch = await _import(conn, 6000, 6000)
        [record] = (await _records(conn, batch.batch_id)).values()
        moved = await commissions.get(conn, record.record_id)
        assert moved.state == "available" and moved.available_at == T0
        assert await balances(conn, agent_available("A")) == {agent_available("A"): 3000}


@pytest.mark.req("H-33", "H-34", "H-35", "SM-H-COMM", "C-09")
async def test_unmet_at_the_deadline_the_commission_is_invalid_and_returns_to_the_platform(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn, terms=TERMS)
        batch = await _import(conn, 6000 + 4000, 6000, 4000)
        deadline = T0 + timedelta(days=90)
        await settlements.sweep_number_cards(conn, deadline - timedelta(seconds=1), TOPIC)
        records = await _records(conn, batch.batch_id)
        assert {r.state for r in
                [await commissions.get(conn, r.record_id) for r in records.values()]} == {
            "frozen"}
        done = await settlements.sweep_number_cards(conn, deadline + timedelta(hours=3), TOPIC)
        assert done.invalidated == 2
        again = await settlements.sweep_number_cards(conn, deadline + timedelta(days=1), TOPIC)
        assert (again.invalidated, again.unfrozen, again.waiting) == (0, 0, 0)
        for record in records.values():
            moved = await commissions.get(conn, record.record_id)
            assert (moved.state, moved.closed_at, moved.reason) == (
                "invalid", deadline, "返佣条件未满足")
        frozen = agent_commission_frozen("A")
        assert await balances(conn, FACTORY, frozen, REVENUE) == {
            FACTORY: -10000, frozen: 0, REVENUE: 10000}
        assert (await settlements.batch(conn, batch.batch_id)).retained_profit_fen == 10000
        assert (await ledger.trial_balance(conn)).balanced


@pytest.fixture
async def market(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        yield made


@pytest.mark.req("H-34", "H-36", "X-01")
async def test_platform_roles_read_batches_and_lines_and_agents_do_not(market: Shop) -> None:
    db = market.settings.require_database()
    async with connect(db) as conn:  # lines for cards nobody is attributed: all unmatched
        made = await _import(conn, 3000, 1000, 2000)
    listed = await ok(market.who("finance").get("/v1/settlements"))
    assert [(b["batch_id"], b["total_fen"], b["unmatched"], b["retained_profit_fen"])
            for b in listed] == [(made.batch_id, 3000, 2, 3000)]
    detail = await ok(market.who("operator").get(f"/v1/settlements/{made.batch_id}",
                                                 params={"status": "unmatched"}))
    assert [(ln["line_no"], ln["iccid"], ln["retained_profit_fen"])
            for ln in detail["line_items"]] == [(2, CARDS[0], 1000), (3, CARDS[1], 2000)]
    await ok(market.market.admin.get("/v1/settlements/stl-F9-2026-01"), 404)
    for who in ("a.admin", "a.viewer", "buyer"):
        await ok(market.who(who).get("/v1/settlements"), 403)
        await ok(market.who(who).get(f"/v1/settlements/{made.batch_id}"), 403)
        await ok(market.who(who).get("/v1/commissions/long-term/verification-template.xlsx"),
                 403)
    template = await market.who("operator").get(
        "/v1/commissions/long-term/verification-template.xlsx", params={"cycle": "2026-03"})
    assert template.status_code == 200
    assert read_xlsx(template.content) == [["ICCID", "在网状态", "是否三无"]]
    refused = await ok(market.market.admin.get(
        "/v1/commissions/long-term/verification-template.xlsx", params={"cycle": "2026-13"}),
        422)
    assert refused["detail"][0]["code"] == "invalid_cycle"


@pytest.mark.req("H-35", "C-09")
async def test_the_daily_sweep_runs_once_per_platform_day_on_the_platform_clock(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn, terms=TERMS)
        batch = await _import(conn, 6000, 6000)
    sweep = DailySweep(Reconnecting(db_url), TOPIC)
    try:
        await store_clock(db_url, T0 + timedelta(days=89, hours=1))  # 11:00 in UTC+8
        first = await sweep.tick()
        assert first is not None and first.waiting == 1
        await store_clock(db_url, T0 + timedelta(days=89, hours=11))  # 21:00, the same day
        assert await sweep.tick() is None
        await store_clock(db_url, T0 + timedelta(days=90, hours=1))  # the next day
        done = await sweep.tick()
        assert done is not None and done.invalidated == 1
    finally:
        await sweep.db.close()
    async with connect(db_url) as conn:
        [record] = (await _records(conn, batch.batch_id)).values()
        moved = await commissions.get(conn, record.record_id)
        assert (moved.state, moved.closed_at) == ("invalid", T0 + timedelta(days=90))


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _upload(market: Shop, body: bytes, code: int, **form: str) -> Any:
    return await ok(market.who("operator").post(
        "/v1/imports/number_card_settlement", files={"file": ("s.xlsx", body, XLSX_TYPE)},
        data=form), code)


async def _finished(market: Shop, task_id: str) -> Any:
    for _ in range(100):
        task = await ok(market.who("operator").get(f"/v1/imports/{task_id}"))
        if task["status"] != "running":
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"import {task_id} still running")


@pytest.mark.req("H-31", "H-36", "X-05")
async def test_a_statement_uploaded_as_an_import_becomes_one_batch_once(market: Shop) -> None:
    async with connect(market.settings.require_database()) as conn:
        await conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('sh', 'SH')")
        await conn.execute("INSERT INTO packages (package_id, name, business_line,"
                           " factory_price_fen) VALUES ('NC1', 'Number card', 'number_card',"
                           " 1900)")
        await conn.execute("INSERT INTO cards (iccid, enterprise_id, operator, product_id)"
                           " VALUES (%s, 'sh', 'onelink', 'NC1')", (CARDS[0],))
        await conn.execute("INSERT INTO card_attributions (iccid, agent_id, source, source_ref,"
                           " at) VALUES (%s, 'A', 'platform', 'test', %s)", (CARDS[0], T0))
        await conn.execute(
            "INSERT INTO commission_rules (rule_id, version, agent_id, kind, business_line,"
            " amount_mode, amount_value, freeze_days, requires_approval, terms,"
            " effective_from, status, created_by) VALUES ('nc', 1, 'A',"
            " 'number_card_settlement', 'number_card', 'fixed', 3000, 0, true, %s, %s,"
            " 'active', 'admin')", (TERMS, T0))
    body = xlsx(["ICCID", "金额(分)"], [[CARDS[0], 5000], [CARDS[1], 2000]])
    refused = await _upload(market, body, 422, factory_id="F1", period="2026-03",
                            total_fen="7001")
    assert refused["detail"][0]["code"] == "settlement_total_mismatch"
    made = await _upload(market, body, 201, factory_id="F1", period="2026-03",
                         total_fen="7000")
    task = await _finished(market, made["task_id"])
    assert (task["status"], task["rows_ok"]) == ("done", 2)
    batch_id = task["result"]["batch_id"]
    assert (task["result"]["matched"], task["result"]["retained_profit_fen"]) == (1, 4000)
    detail = await ok(market.who("finance").get(f"/v1/settlements/{batch_id}"))
    assert (detail["task_id"], detail["imported_by"]) == (made["task_id"], "user:operator")
    again = xlsx(["ICCID", "金额(分)"], [[CARDS[0], 6000]])
    exists = await _upload(market, again, 409, factory_id="F1", period="2026-03",
                           total_fen="6000")
    assert exists["detail"]["code"] == "settlement_exists"


@pytest.mark.req("H-35", "H-33")
async def test_a_recharge_event_after_the_import_unfreezes_through_the_consumer(
        db_url: str, settings: Settings) -> None:
    """The commission consumer judges a card's frozen number-card commissions on each of its
    events, not only in the daily sweep."""
    async with connect(db_url) as conn:
        await _world(conn, terms='{"first_recharge_fen": 1000, "require_not_sanwu": false}')
        batch = await _import(conn, 6000, 6000)
        [record] = (await _records(conn, batch.batch_id)).values()
        assert record.state == "frozen"  # no recharge yet
        await receive(conn, "onelink", [CardEvent("rc-late", CARDS[0], "recharged",
                                                  T0 + timedelta(days=1), 1000)],
                      settings.orders_topic)
        done = await deliver(conn, settings)
        assert done.unfrozen == 1
        moved = await commissions.get(conn, record.record_id)
        assert moved.state == "unfreezing"
