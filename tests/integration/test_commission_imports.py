"""Applying the commission imports (H-19, H-20, H-21, H-41) through store/commission_imports.py:
the verification rows move frozen long-term commissions (unfreezing + approval, or invalid
with the reason and the money back to revenue); a card without a frozen long-term commission
fails its row, so a second import changes nothing; the template is pre-filled with the
advisory verdicts; a real-name row lets a waiting one-time commission be produced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from core.clock import now
from core.settings import Settings
from domain.imports.kinds import RealNameRow, VerificationRow
from domain.ledger import REVENUE, agent_available, agent_commission_frozen
from store import commission_imports, commissions
from store.agents import Actor, create_agent
from store.commissions import NewRecord
from store.db import Conn
from tests.support.commission import deliver, one_time_rule, records
from tests.support.imports import read_xlsx, xlsx
from tests.support.ledger import balances, connect
from tests.support.orders import Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok

pytestmark = pytest.mark.integration
TOPIC = "orders"
ADMIN = Actor("admin", "admin")
OPERATOR = Actor("user:op", "platform_operator")
T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
IMPORT_AT = T0 + timedelta(days=40)
C1, C2, C3, C4 = (f"8986000000000000000{n}" for n in range(1, 5))
FROZEN, AVAILABLE = agent_commission_frozen("A"), agent_available("A")


async def _world(conn: Conn) -> dict[str, str]:
    """Agent A's long-term rule; one frozen long-term commission of 500 per card C1–C3 (C3's
    rule needs no approval), and C4 with one produced after the import instant."""
    await create_agent(conn, "A", "Agent A", None, ["traffic_card"], ADMIN)
    await conn.execute("INSERT INTO enterprises (enterprise_id, name) VALUES ('sh', 'SH')")
    for iccid in (C1, C2, C3, C4):
        await conn.execute("INSERT INTO cards (iccid, enterprise_id, operator) VALUES"
                           " (%s, 'sh', 'onelink')", (iccid,))
    await conn.execute(
        "INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids,"
        " amount_mode, amount_value, freeze_days, requires_approval, terms, effective_from,"
        " status, created_by) VALUES ('lt', 1, 'A', 'long_term', '{P}', 'fixed', 500, 0,"
        " true, '{}', %s, 'active', 'admin')", (T0 - timedelta(days=30),))
    ids: dict[str, str] = {}
    for iccid, approval, at in ((C1, True, T0), (C2, True, T0), (C3, False, T0),
                                (C4, True, IMPORT_AT + timedelta(seconds=1))):
        [made] = await commissions.produce(conn, [NewRecord(
            idem_key=f"long_term:lt:{iccid}", part="long_term", rule_kind="long_term",
            rule_id="lt", rule_version=1, agent_id="A", amount_fen=500, state="frozen",
            freeze_days=0, requires_approval=approval, explanation={"formula": "fixed 500"},
            at=at, timed=False, iccid=iccid)], TOPIC)
        ids[iccid] = made.record_id
    return ids


def _row(n: int, iccid: str, network: bool = True, sanwu: bool = False) -> VerificationRow:
    return VerificationRow(n, iccid, network, sanwu)


async def _apply(conn: Conn, *rows: VerificationRow) -> commission_imports.Result:
    async with conn.transaction():
        return await commission_imports.apply_verification(conn, rows, actor=OPERATOR,
                                                           at=IMPORT_AT, topic=TOPIC)


@pytest.mark.req("H-19", "H-20", "SM-H-COMM", "SM-H-APPROVAL")
async def test_a_normal_card_unfreezes_its_long_term_commission_into_an_approval(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        ids = await _world(conn)
        done = await _apply(conn, _row(2, C1), _row(3, C3))
        assert done.failures == []
        assert done.summary == {"unfreezing": 1, "available": 1, "invalid": 0}
        first = await commissions.get(conn, ids[C1])
        assert (first.state, first.unfreezing_at) == ("unfreezing", IMPORT_AT)
        approval = await commissions.get_approval(conn, commissions.approval_id_of(ids[C1]))
        assert approval.state == "pending"
        [step] = [e for e in await commissions.history(conn, ids[C1])
                  if e.to_state == "unfreezing"]
        assert (step.actor, step.actor_role) == ("user:op", "platform_operator")
        assert (await commissions.get(conn, ids[C3])).state == "available"  # no approval
        assert await balances(conn, FROZEN, AVAILABLE) == {FROZEN: 1500, AVAILABLE: 500}


@pytest.mark.req("H-20", "SM-H-COMM")
async def test_not_in_network_or_sanwu_invalidates_with_the_reason_and_returns_the_money(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        ids = await _world(conn)
        done = await _apply(conn, _row(2, C1, network=False, sanwu=True),
                            _row(3, C2, sanwu=True))
        assert done.summary["invalid"] == 2
        first, second = [await commissions.get(conn, ids[c]) for c in (C1, C2)]
        assert (first.state, first.reason) == ("invalid", "在网状态非正常")
        assert (second.state, second.reason) == ("invalid", "三无卡")
        assert await balances(conn, FROZEN, REVENUE) == {FROZEN: 2000 - 1000,
                                                         REVENUE: -2000 + 1000}


@pytest.mark.req("H-19", "H-20", "H-37")
async def test_a_card_without_a_frozen_long_term_commission_fails_and_a_second_import_is_a_no_op(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        ids = await _world(conn)
        rows = (_row(2, C1), _row(3, C4), _row(4, C1))
        first = await _apply(conn, *rows)
        # C4's only commission was produced after the import; C1 repeated: the first row took it
        assert [(f.row_no, f.message_zh, f.message_en) for f in first.failures] == [
            (3, "该卡无冻结中的长期佣金", "This card has no frozen long-term commission"),
            (4, "该卡无冻结中的长期佣金", "This card has no frozen long-term commission")]
        again = await _apply(conn, *rows)
        assert [f.row_no for f in again.failures] == [2, 3, 4]
        assert again.summary == {"unfreezing": 0, "available": 0, "invalid": 0}
        assert (await commissions.get(conn, ids[C4])).state == "frozen"


@pytest.mark.req("H-21")
async def test_the_template_lists_cards_with_frozen_long_term_commissions_and_verdicts(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn)
        await conn.execute("UPDATE cards SET network_status = 'active' WHERE iccid IN (%s, %s)",
                           (C1, C2))
        await conn.execute("INSERT INTO card_cycle_usage (iccid, cycle, bytes, records)"
                           " VALUES (%s, %s, 1024, 1)", (C1, date(2026, 3, 1)))
        await _apply(conn, _row(2, C3))  # C3 leaves frozen: not listed
        sheet = read_xlsx(await commission_imports.verification_template(conn, "2026-03"))
        assert sheet == [["ICCID", "在网状态", "是否三无"], [C1, "正常", "否"],
                         [C2, "正常", "是"], [C4, "非正常", "是"]]


SECRET = "push-secret"
CARD = "89860000000000000001"


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        admin = made.market.admin
        await ok(admin.post("/v1/enterprises", json={"enterprise_id": "e", "name": "E"}), 201)
        await ok(admin.post("/v1/cards", json={"iccid": CARD, "enterprise_id": "e",
                                               "operator": "onelink", "opened": True}), 201)
        yield made


@pytest.mark.req("H-41", "H-10", "H-15")
async def test_a_real_name_import_row_produces_the_waiting_one_time_commission(
        world: Shop) -> None:
    db = world.settings.require_database()
    await one_time_rule(db, "A", "p90", threshold_fen=10000, amount_fen=1000)
    buyer = world.who("buyer")
    await recharge(world, buyer, "card", 10000, CARD)
    made = await order(buyer, "wallet", CARD)
    await ok(world.market.admin.post(f"/v1/orders/{made['order_id']}/complete"))
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
        await deliver(conn, world.settings)
        assert await records(conn, iccid=CARD) == []  # not real-name verified yet
        at = now()
        rows = [RealNameRow(2, CARD, True, at - timedelta(minutes=5)),
                RealNameRow(3, "89860000000000000099", True, at)]
        async with conn.transaction():
            done = await commission_imports.apply_real_name(conn, rows, task_id="t1", at=at,
                                                            topic=world.settings.orders_topic)
        assert [(f.row_no, f.message_zh) for f in done.failures] == [(3, "ICCID不存在")]
        assert done.summary["verified"] == 1 and done.summary["commissions_produced"] == 1
        [produced] = await records(conn, iccid=CARD)
        assert (produced["part"], produced["state"], produced["amount_fen"]) == (
            "one_time", "frozen", 1000)
        real = await (await conn.execute("SELECT source, source_ref FROM card_real_name"
                                          " WHERE iccid = %s", (CARD,))).fetchone()
        assert real == ("import", "import:t1:2")
        async with conn.transaction():
            again = await commission_imports.apply_real_name(conn, rows[:1], task_id="t2",
                                                             at=at, topic=TOPIC)
        assert again.summary["unchanged"] == 1 and len(await records(conn, iccid=CARD)) == 1


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.req("H-19", "H-20", "X-05")
async def test_the_verification_file_uploaded_twice_moves_the_commission_once(
        world: Shop) -> None:
    db = world.settings.require_database()
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids,"
            " amount_mode, amount_value, freeze_days, requires_approval, terms,"
            " effective_from, status, created_by) VALUES ('lt', 1, 'A', 'long_term', '{p90}',"
            " 'fixed', 500, 0, true, '{}', %s, 'active', 'admin')",
            (now() - timedelta(days=30),))
        [made] = await commissions.produce(conn, [NewRecord(
            idem_key=f"long_term:lt:{CARD}", part="long_term", rule_kind="long_term",
            rule_id="lt", rule_version=1, agent_id="A", amount_fen=500, state="frozen",
            freeze_days=0, requires_approval=True, explanation={}, at=now(), timed=False,
            iccid=CARD)], TOPIC)
    operator = world.who("operator")
    tasks = []
    body = xlsx(["ICCID", "在网状态", "是否三无"], [[CARD, "正常", "否"]])
    for name in ("first.xlsx", "second.xlsx"):  # two names, one content: X-06 answers the task
        answer = await operator.post("/v1/imports/long_term_verification",
                                     files={"file": (name, body, XLSX_TYPE)})
        assert answer.status_code in (200, 201), answer.text
        tasks.append(answer.json()["task_id"])
    assert tasks[0] == tasks[1]
    task = await _finished(operator, tasks[0])
    assert (task["status"], task["rows_ok"], task["result"]["unfreezing"]) == ("done", 1, 1)
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
        assert (await commissions.get(conn, made.record_id)).state == "unfreezing"


async def _finished(client: Any, task_id: str) -> Any:
    for _ in range(100):
        task = await ok(client.get(f"/v1/imports/{task_id}"))
        if task["status"] != "running":
            return task
        await asyncio.sleep(0.1)
    raise AssertionError(f"import {task_id} still running")
