"""SM-H-COMM and SM-H-APPROVAL through store/commissions.py: every transition is one
compare-and-set with its ledger move, audit row and event; keys make production idempotent
(H-37); approvals singly or in batch, a reason required to reject; the H-13 timer stamps the
due instant; a clawback may take the agent's balance below zero (G2-16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.commission import machines as sm
from domain.ledger import REVENUE, agent_available, agent_commission_frozen
from store import commissions, ledger
from store.agents import Actor, create_agent
from store.commissions import NewRecord
from store.db import Conn
from store.errors import NotFound
from tests.support.ledger import balances, connect

pytestmark = pytest.mark.integration
TOPIC = "orders"
ADMIN = Actor("admin", "admin")
FINANCE = Actor("user:fin", "platform_finance")
T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
FROZEN, AVAILABLE = agent_commission_frozen("A"), agent_available("A")


async def _world(conn: Conn, *, requires_approval: bool = True) -> None:
    await create_agent(conn, "A", "Agent A", None, ["traffic_card"], ADMIN)
    await conn.execute(
        "INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids,"
        " amount_mode, amount_value, freeze_days, requires_approval, terms, effective_from,"
        " status, created_by) VALUES ('r1', 1, 'A', 'one_time', '{P}', 'fixed', 1000, 7, %s,"
        " '{}', %s, 'active', 'admin')", (requires_approval, T0 - timedelta(days=30)))


def _new(key: str, state: Any = "frozen", amount: int = 1000, **extra: Any) -> NewRecord:
    return NewRecord(idem_key=key, part=extra.pop("part", "one_time"), rule_kind="one_time",
                     rule_id="r1", rule_version=1, agent_id="A", amount_fen=amount,
                     state=state, freeze_days=7, requires_approval=True,
                     explanation={"formula": "fixed 1000"}, at=T0, timed=True, **extra)


async def _states(conn: Conn, *ids: str) -> list[str]:
    return [(await commissions.get(conn, rid)).state for rid in ids]


@pytest.mark.req("H-37", "H-13", "SM-H-COMM")
async def test_a_key_makes_one_record_and_one_transfer_however_often_produced(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn)
        first = await commissions.produce(conn, [_new("one_time:r1:8986")], TOPIC)
        again = await commissions.produce(conn, [_new("one_time:r1:8986"),
                                                 _new("one_time:r1:8986")], TOPIC)
        assert len(first) == 1 and again == []
        record = first[0]
        assert record.state == "frozen" and record.frozen_at == T0
        assert record.unfreeze_due_at == T0 + timedelta(days=7)
        assert await balances(conn, FROZEN, REVENUE) == {FROZEN: 1000, REVENUE: -1000}
        count = await (await conn.execute("SELECT count(*) FROM ledger_transfers WHERE "
                                          "transfer_id LIKE 'commission:%'")).fetchone()
        assert count is not None and count[0] == 1


@pytest.mark.req("H-13", "SM-H-COMM", "SM-H-APPROVAL", "C-09")
async def test_the_freeze_ends_at_exactly_n_days_stamped_with_the_due_instant(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn)
        [record] = await commissions.produce(conn, [_new("k1")], TOPIC)
        due = T0 + timedelta(days=7)
        assert await commissions.unfreeze_due(conn, due - timedelta(seconds=1), TOPIC) == 0
        assert await _states(conn, record.record_id) == ["frozen"]
        assert await commissions.unfreeze_due(conn, due + timedelta(seconds=30), TOPIC) == 1
        moved = await commissions.get(conn, record.record_id)
        assert moved.state == "unfreezing" and moved.unfreezing_at == due
        approval = await commissions.get_approval(conn, commissions.approval_id_of(
            record.record_id))
        assert approval.state == "pending" and approval.created_at == due
        assert await commissions.unfreeze_due(conn, due + timedelta(days=1), TOPIC) == 0


@pytest.mark.req("SM-H-APPROVAL", "SM-H-COMM")
async def test_approval_in_a_batch_releases_the_money_and_cannot_be_decided_twice(
        db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn)
        made = await commissions.produce(conn, [_new("k1"), _new("k2", amount=500)], TOPIC)
        await commissions.unfreeze_due(conn, T0 + timedelta(days=8), TOPIC)
        ids = [commissions.approval_id_of(r.record_id) for r in made]
        at = T0 + timedelta(days=9)
        decided = await commissions.decide(conn, ids, True, FINANCE, at, TOPIC)
        assert {a.state for a in decided} == {"approved"}
        assert await _states(conn, *(r.record_id for r in made)) == ["available", "available"]
        assert await balances(conn, FROZEN, AVAILABLE) == {FROZEN: 0, AVAILABLE: 1500}
        with pytest.raises(sm.ApprovalClosed):
            await commissions.decide(conn, ids[:1], False, FINANCE, at, TOPIC, reason="late")
        history = await commissions.history(conn, made[0].record_id)
        assert [(e.from_state, e.to_state, e.actor) for e in history] == [
            (None, "frozen", "system:commission"), ("frozen", "unfreezing", "system:commission"),
            (None, "pending", "system:commission"), ("pending", "approved", "user:fin"),
            ("unfreezing", "available", "user:fin")]


@pytest.mark.req("SM-H-APPROVAL", "SM-H-COMM")
async def test_rejection_needs_a_reason_and_returns_the_money_to_revenue(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn)
        [record] = await commissions.produce(conn, [_new("k1")], TOPIC)
        await commissions.unfreeze_due(conn, T0 + timedelta(days=8), TOPIC)
        approval = commissions.approval_id_of(record.record_id)
        with pytest.raises(sm.RejectionReasonRequired) as refused:
            await commissions.decide(conn, [approval], False, FINANCE, T0, TOPIC, reason="  ")
        assert refused.value.message_zh == "请填写驳回原因"
        await commissions.decide(conn, [approval], False, FINANCE, T0, TOPIC, reason="三无卡")
        rejected = await commissions.get(conn, record.record_id)
        assert (rejected.state, rejected.reason) == ("rejected", "三无卡")
        assert await balances(conn, FROZEN, REVENUE) == {FROZEN: 0, REVENUE: 0}
        with pytest.raises(NotFound):
            await commissions.decide(conn, ["ap-nope"], True, FINANCE, T0, TOPIC)


@pytest.mark.req("SM-H-COMM", "H-38", "G2-16")
async def test_reversal_in_every_state_and_the_clawback_may_overdraw(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn)
        made = await commissions.produce(conn, [
            _new("awaiting", "awaiting_conditions", part="long_term"), _new("frozen"),
            _new("unfreezing"), _new("available", "available", part="per_order")], TOPIC)
        ids = {r.idem_key: r.record_id for r in made}
        await commissions.transition(conn, [ids["unfreezing"]], "unfreeze", "system",
                                     commissions.SYSTEM, T0, TOPIC)
        assert await balances(conn, FROZEN, AVAILABLE) == {FROZEN: 2000, AVAILABLE: 1000}
        await ledger.transfer(conn, ledger_move_out(1000))  # the agent withdrew its balance
        done = await commissions.transition(conn, list(ids.values()), "reverse", "system",
                                            commissions.SYSTEM, T0, TOPIC, reason="refund")
        assert len(done.records) == 4
        assert await _states(conn, *ids.values()) == ["reversed"] * 4
        assert await balances(conn, FROZEN, AVAILABLE) == {FROZEN: 0, AVAILABLE: -1000}
        approval = await commissions.get_approval(conn, commissions.approval_id_of(
            ids["unfreezing"]))
        assert approval.state == "closed"
        again = await commissions.transition(conn, list(ids.values()), "reverse", "system",
                                             commissions.SYSTEM, T0, TOPIC)
        assert again.records == [] and len(again.skipped) == 4
        assert (await ledger.trial_balance(conn)).balanced


@pytest.mark.req("SM-H-COMM", "AMB-51")
async def test_a_rule_without_approval_unfreezes_straight_to_available(db_url: str) -> None:
    async with connect(db_url) as conn:
        await _world(conn, requires_approval=False)
        new = _new("k1")
        [record] = await commissions.produce(conn, [NewRecord(**{
            **new.__dict__, "requires_approval": False})], TOPIC)
        await commissions.unfreeze_due(conn, T0 + timedelta(days=7), TOPIC)
        assert await _states(conn, record.record_id) == ["available"]
        assert await balances(conn, AVAILABLE) == {AVAILABLE: 1000}


def ledger_move_out(amount: int) -> Any:
    from core.money import Fen
    from domain.ledger import PAYMENT_CHANNEL, FeeType, Transfer
    return Transfer("withdrawn", AVAILABLE, PAYMENT_CHANNEL, Fen(amount), FeeType.PAYOUT)
