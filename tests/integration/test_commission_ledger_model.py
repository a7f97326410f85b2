"""The commission lifecycle against the real ledger (hypothesis stateful, SM-H-COMM,
SM-H-APPROVAL, H-37, G2-16, C-01): random operations on the records of two agents — produce
(available / frozen / awaiting, amounts incl. 0), produce again with the same key, conditions
met, the H-13 timer after clock moves, approvals and rejections singly and in batches (incl.
already decided ones → ApprovalClosed, nothing changes), reversals in every state (incl. a
clawback after the agent withdrew its balance) — and after every step a recomputation from the
records table: the agents' frozen and available balances, platform revenue, the trial balance,
one approval per record that went to `unfreezing`, and each record's transfers exactly those its
path implies.

Each example has its own agents, keys and time (earlier than the examples before it, so the
timer sweep never reaches their records): examples share the database."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, cast

import psycopg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as settings_
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.money import Fen
from core.settings import Settings
from domain.commission import machines as sm
from domain.ledger import (
    PAYMENT_CHANNEL,
    REVENUE,
    FeeType,
    Transfer,
    agent_available,
    agent_commission_frozen,
)
from store import commissions, ledger
from store.agents import Actor, create_agent
from store.commissions import NewRecord, Part
from store.db import Conn

pytestmark = pytest.mark.integration
TOPIC = "model.commission"
ADMIN = Actor("cm-admin", "admin")
FINANCE = Actor("cm-finance", "platform_finance")
T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
_EXAMPLES = itertools.count()
MONEY = {"awaiting_conditions": (), "frozen": ("freeze",), "available": ("pay",)}
REACHED: set[str] = set()  # the states and moves all examples reached (the model got somewhere)


@dataclass
class Rec:
    """What the model expects of one record."""

    new: NewRecord
    state: str
    moves: list[str]
    approval: str | None = None
    due: datetime | None = None

    @property
    def record_id(self) -> str:
        return self.new.record_id


@dataclass
class World:
    recs: list[Rec] = field(default_factory=list)
    withdrawn: dict[str, int] = field(default_factory=dict)


class CommissionMachine(RuleBasedStateMachine):
    url: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.conn: Conn = self.runner.run(psycopg.AsyncConnection.connect(self.url,
                                                                          autocommit=True))
        n = next(_EXAMPLES)
        self.n = n
        self.agents = [f"CM{n}a", f"CM{n}b"]
        self.now = T0 - timedelta(days=400 * n)  # earlier than every example before
        self.world = World(withdrawn=dict.fromkeys(self.agents, 0))
        self.keys = itertools.count()
        self.run(self._setup())
        self.revenue0 = self.run(ledger.balance(self.conn, REVENUE)).posted

    async def _setup(self) -> None:
        for agent in self.agents:
            await create_agent(self.conn, agent, "model", None, ["traffic_card"], ADMIN)
            await self.conn.execute(
                "INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids,"
                " amount_mode, amount_value, freeze_days, requires_approval, effective_from,"
                " status, created_by) VALUES (%s, 1, %s, 'one_time', '{P}', 'fixed', 1, 7,"
                " true, %s, 'active', 'model')", (f"r{agent}", agent, self.now))

    def run(self, action: Any) -> Any:
        return self.runner.run(action)

    def teardown(self) -> None:
        self.run(self.conn.close())
        self.runner.close()

    # --- operations ------------------------------------------------------------------------

    def _pick(self, i: int, *states: str) -> Rec | None:
        found = [r for r in self.world.recs if not states or r.state in states]
        return found[i % len(found)] if found else None

    @rule(agent=st.integers(0, 1),
          state=st.sampled_from(["available", "frozen", "frozen", "awaiting_conditions"]),
          amount=st.sampled_from([0, 1, 500, 1000, 12345]),
          part=st.sampled_from(["one_time", "per_order", "long_term"]),
          approval=st.booleans(), freeze_days=st.sampled_from([1, 7]))
    def produce(self, agent: int, state: str, amount: int, part: str, approval: bool,
                freeze_days: int) -> None:
        if state != "frozen":  # waiting: a long-term part; paid at once: a per-order rebate
            part = "long_term" if state == "awaiting_conditions" else "per_order"
        agent_id = self.agents[agent]
        timed = part != "long_term"
        new = NewRecord(idem_key=f"model:{self.n}:{next(self.keys)}", part=cast(Part, part),
                        rule_kind="one_time", rule_id=f"r{agent_id}", rule_version=1,
                        agent_id=agent_id, amount_fen=amount, state=cast(Any, state),
                        freeze_days=freeze_days, requires_approval=approval,
                        explanation={"model": True}, at=self.now, timed=timed)
        made = self.run(commissions.produce(self.conn, [new], TOPIC))
        assert [r.record_id for r in made] == [new.record_id]
        due = self.now + timedelta(days=freeze_days) if state == "frozen" and timed else None
        self.world.recs.append(Rec(new, state, list(MONEY[state]), due=due))
        REACHED.add(state)

    @initialize()
    def some_records_to_start_with(self) -> None:
        """Each agent starts with frozen records waiting for approval and one paid out."""
        for agent in (0, 1):
            self.produce(agent, "frozen", 1000, "one_time", True, 7)
            self.produce(agent, "frozen", 300, "per_order", True, 1)
            self.produce(agent, "available", 500, "per_order", False, 1)

    @precondition(lambda self: self.world.recs)
    @rule(i=st.integers(0, 99), amount=st.sampled_from([0, 7, 99999]),
          state=st.sampled_from(["available", "frozen", "awaiting_conditions"]))
    def produce_again(self, i: int, amount: int, state: str) -> None:
        """H-37: the same key again — another amount or state even — changes nothing."""
        rec = self._pick(i)
        assert rec is not None
        again = NewRecord(**{**rec.new.__dict__, "amount_fen": amount, "state": state,
                             "at": self.now})
        assert self.run(commissions.produce(self.conn, [again, rec.new], TOPIC)) == []

    @precondition(lambda self: self.world.recs)
    @rule(i=st.integers(0, 99))
    def conditions_met(self, i: int) -> None:
        rec = self._pick(i)
        assert rec is not None
        moved = self.run(commissions.transition(self.conn, [rec.record_id], "conditions_met",
                                                "system", commissions.SYSTEM, self.now,
                                                TOPIC))
        if rec.state == "awaiting_conditions":
            assert len(moved.records) == 1
            rec.state, rec.moves = "frozen", [*rec.moves, "freeze"]
        else:
            assert moved.records == [] and moved.skipped == [rec.record_id]

    @rule(hours=st.sampled_from([1, 24, 24 * 6, 24 * 7, 24 * 7, 24 * 8]))
    def clock_moves_and_the_timer_runs(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        count = self.run(commissions.unfreeze_due(self.conn, self.now, TOPIC))
        due = [r for r in self.world.recs
               if r.state == "frozen" and r.due is not None and r.due <= self.now]
        assert count == len(due)
        for rec in due:
            if rec.new.requires_approval:
                rec.state, rec.approval = "unfreezing", "pending"
            else:
                rec.state, rec.moves = "available", [*rec.moves, "release"]
            REACHED.add(rec.state)

    def _approvals(self, picks: list[int]) -> list[Rec]:
        having = [r for r in self.world.recs if r.approval is not None]
        return list({id(r): r for r in (having[i % len(having)] for i in picks)}.values())

    @precondition(lambda self: any(r.approval for r in self.world.recs))
    @rule(picks=st.lists(st.integers(0, 99), min_size=1, max_size=3), approve=st.booleans(),
          reason=st.sampled_from(["三无卡", "  ", "在网状态非正常"]))
    def decide(self, picks: list[int], approve: bool, reason: str) -> None:
        chosen = self._approvals(picks)
        ids = [commissions.approval_id_of(r.record_id) for r in chosen]
        closed = any(r.approval != "pending" for r in chosen)
        if not approve and not reason.strip():
            with pytest.raises(sm.RejectionReasonRequired):
                self.run(commissions.decide(self.conn, ids, False, FINANCE, self.now, TOPIC,
                                            reason=reason))
            return
        if closed:  # the whole batch refused, nothing changes
            with pytest.raises(sm.ApprovalClosed):
                self.run(commissions.decide(self.conn, ids, approve, FINANCE, self.now, TOPIC,
                                            reason=reason))
            REACHED.add("approval_closed")
            return
        decided = self.run(commissions.decide(self.conn, ids, approve, FINANCE, self.now,
                                              TOPIC, reason=reason))
        assert len(decided) == len(chosen)
        for rec in chosen:
            if approve:
                rec.state, rec.approval, rec.moves = "available", "approved", [*rec.moves,
                                                                              "release"]
            else:
                rec.state, rec.approval, rec.moves = "rejected", "rejected", [*rec.moves,
                                                                             "return"]
            REACHED.add(rec.state)
        if len(chosen) > 1:
            REACHED.add("batch")

    @precondition(lambda self: self.world.recs)
    @rule(i=st.integers(0, 99))
    def reverse(self, i: int) -> None:
        rec = self._pick(i)
        assert rec is not None
        moved = self.run(commissions.transition(self.conn, [rec.record_id], "reverse",
                                                "system", commissions.SYSTEM, self.now, TOPIC,
                                                reason="refunded"))
        if rec.state in sm.FINAL:
            assert moved.records == []
            return
        move = {"awaiting_conditions": None, "frozen": "return", "unfreezing": "return",
                "available": "clawback"}[rec.state]
        if rec.state == "unfreezing":
            rec.approval = "closed"
        if move is not None:
            rec.moves.append(move)
        if move == "clawback" and rec.new.amount_fen > 0:
            after = self.run(ledger.balance(self.conn, agent_available(rec.new.agent_id)))
            if after.posted < 0:
                REACHED.add("negative")
        rec.state = "reversed"
        REACHED.add(f"reversed_from_{move}")

    @rule(agent=st.integers(0, 1))
    def agent_withdraws_its_balance(self, agent: int) -> None:
        agent_id = self.agents[agent]
        have = self.run(ledger.balance(self.conn, agent_available(agent_id))).posted
        if have <= 0:
            return
        self.run(ledger.transfer(self.conn, Transfer(
            f"model:{self.n}:out:{next(self.keys)}", agent_available(agent_id), PAYMENT_CHANNEL,
            Fen(have), FeeType.PAYOUT)))
        self.world.withdrawn[agent_id] += have

    # --- the recomputation, after every step ------------------------------------------------

    def _rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return list(self.run(self.run(self.conn.execute(query, params)).fetchall()))

    @invariant()
    def records_are_as_modelled(self) -> None:
        rows = dict(self._rows("SELECT record_id, state FROM commission_records "
                               "WHERE agent_id = ANY(%s)", self.agents))
        assert rows == {r.record_id: r.state for r in self.world.recs}
        approvals = dict(self._rows("SELECT record_id, state FROM commission_approvals "
                                    "WHERE record_id = ANY(%s)", list(rows)))
        assert approvals == {r.record_id: r.approval for r in self.world.recs
                             if r.approval is not None}
        for rid, state in rows.items():  # one pending approval ⇔ unfreezing
            assert (state == "unfreezing") == (approvals.get(rid) == "pending")

    @invariant()
    def balances_are_the_records_sums(self) -> None:
        """From the records table alone: frozen = Σ frozen/unfreezing; available = Σ
        available − withdrawn (= pay + release − clawback − withdrawn, the clawback of a
        withdrawn commission overdrawing it, G2-16); revenue paid out = Σ of both."""
        sums = {(a, s): int(v) for a, s, v in self._rows(
            "SELECT agent_id, CASE WHEN state IN ('frozen', 'unfreezing') THEN 'frozen' "
            "ELSE state END, sum(amount_fen) FROM commission_records WHERE agent_id = ANY(%s)"
            " GROUP BY 1, 2", self.agents)}
        out = 0
        for agent in self.agents:
            frozen = sums.get((agent, "frozen"), 0)
            paid = sums.get((agent, "available"), 0)
            assert self.run(ledger.balance(self.conn, agent_commission_frozen(agent))
                            ).posted == frozen
            assert self.run(ledger.balance(self.conn, agent_available(agent))).posted == (
                paid - self.world.withdrawn[agent])
            out += frozen + paid
        revenue = self.run(ledger.balance(self.conn, REVENUE)).posted
        assert revenue - self.revenue0 == -out
        assert self.run(ledger.trial_balance(self.conn)).balanced

    @invariant()
    def each_record_has_the_transfers_its_path_implies(self) -> None:
        rows = self._transfers()
        found: dict[str, set[str]] = {}
        for transfer_id, debit, credit, amount, fee_type in rows:
            _, rid, move = transfer_id.split(":")
            found.setdefault(rid, set()).add(move)
            rec = next(r for r in self.world.recs if r.record_id == rid)
            assert (int(amount), fee_type) == (rec.new.amount_fen, "commission")
            agent = rec.new.agent_id
            assert (debit, credit) == {
                "freeze": (REVENUE, agent_commission_frozen(agent)),
                "pay": (REVENUE, agent_available(agent)),
                "release": (agent_commission_frozen(agent), agent_available(agent)),
                "return": (agent_commission_frozen(agent), REVENUE),
                "clawback": (agent_available(agent), REVENUE)}[move]
        for rec in self.world.recs:
            assert len(rec.moves) == len(set(rec.moves)), rec.moves  # each move at most once
            expected = set(rec.moves) if rec.new.amount_fen > 0 else set()  # 0 moves nothing
            assert found.get(rec.record_id, set()) == expected, (rec.record_id, rec.moves)

    def _transfers(self) -> list[tuple[Any, ...]]:
        return self._rows("SELECT transfer_id, debit_account, credit_account, amount, fee_type"
                          " FROM ledger_transfers WHERE split_part(transfer_id, ':', 2)"
                          " = ANY(%s) AND transfer_id LIKE 'commission:%%'",
                          [r.record_id for r in self.world.recs])


@pytest.mark.req("H-37", "SM-H-COMM", "SM-H-APPROVAL", "G2-16", "C-01", "H-13")
def test_the_commission_lifecycle_keeps_the_ledger_equal_to_the_records(
        settings: Settings) -> None:
    machine: Any = type("Machine", (CommissionMachine,), {"url": settings.require_database()})
    run = settings_(max_examples=15, stateful_step_count=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
    run_state_machine_as_test(machine, settings=run)
    wanted = {"available", "frozen", "awaiting_conditions", "unfreezing", "rejected",
              "approval_closed", "batch", "reversed_from_clawback", "reversed_from_return",
              "reversed_from_None", "negative"}
    assert wanted <= REACHED, wanted - REACHED  # the machine got everywhere
