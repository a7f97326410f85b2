"""G2 pure rules: the three state machines (every allowed and every refused transition) and
the settlement arithmetic (the legs always sum to what was paid; the escrow ends at 0)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import BasisPoints, Fen
from domain.ledger import PAYMENT_CHANNEL, REVENUE, agent_available, agent_withdrawing
from domain.orders import machines as sm
from domain.orders import money
from domain.orders.errors import TransitionRefused

ACTORS: tuple[sm.Actor, ...] = ("buyer", "agent", "channel", "system", "operator", "finance")

# The spec's tables (§2.5), written out again: (state, event, next, who)
SPEC = {
    "package": [
        (sm.NEW, "create_pay_later", "pending_payment", {"buyer"}),
        (sm.NEW, "create_agent_wallet", "paid", {"agent"}),
        ("pending_payment", "payment_confirmed", "paid", {"channel"}),
        ("pending_payment", "cancel", "cancelled", {"buyer", "system"}),
        ("paid", "fulfilment_started", "fulfilling", {"system"}),
        ("fulfilling", "fulfilled", "completed", {"system", "operator"}),
        ("fulfilling", "activation_failed", "failed", {"system"}),
        ("failed", "refund_paid", "refunded", {"system"}),
        ("paid", "refund_approved", "refunding", {"operator"}),
        ("fulfilling", "refund_approved", "refunding", {"operator"}),
        ("completed", "refund_approved", "refunding", {"operator"}),
        ("refunding", "refund_paid", "refunded", {"system"}),
        ("refunding", "partial_refund_paid", "partially_refunded", {"system"}),
        # not in the spec's table: a partial refund leaves the rest refundable
        ("partially_refunded", "refund_approved", "refunding", {"operator"}),
    ],
    "recharge": [
        (sm.NEW, "create", "pending_payment", {"buyer", "agent"}),
        ("pending_payment", "payment_confirmed", "credited", {"channel"}),
        ("pending_payment", "cancel", "cancelled", {"buyer", "system"}),
        ("credited", "refund_approved", "refunded", {"operator"}),
    ],
    "withdrawal": [
        (sm.NEW, "request", "requested", {"agent"}),
        ("requested", "approve", "approved", {"finance"}),
        ("requested", "reject", "rejected", {"finance"}),
        ("approved", "payout_paid", "paid", {"channel"}),
        ("approved", "payout_failed", "failed", {"channel"}),
    ],
    # G2-09: no money through the platform, final at once
    "number_card_event": [
        (sm.NEW, "notified", "recorded", {"system"}),
    ],
    # G2-01, G1-17: pending_payment → paid → (delivery) → completed / cancelled / refunded
    "card_purchase": [
        (sm.NEW, "create_pay_later", "pending_payment", {"buyer"}),
        (sm.NEW, "create_wallet", "paid", {"buyer"}),
        ("pending_payment", "payment_confirmed", "paid", {"channel"}),
        ("pending_payment", "cancel", "cancelled", {"buyer", "system"}),
        ("paid", "cards_allocated", "completed", {"operator"}),
        ("paid", "refund_approved", "refunding", {"operator"}),
        ("refunding", "refund_paid", "refunded", {"system"}),
    ],
}
KINDS: tuple[sm.Kind, ...] = ("package", "recharge", "withdrawal", "number_card_event",
                              "card_purchase")


@pytest.mark.req("SM-G2-ORDER", "SM-G2-RECHARGE", "SM-G2-WITHDRAWAL", "G2-01")
@pytest.mark.parametrize("kind", KINDS)
def test_every_transition_of_the_spec_is_allowed_to_its_actors_only(kind: sm.Kind) -> None:
    for state, event, to, who in SPEC[kind]:
        for actor in ACTORS:
            if actor in who:
                assert sm.step(kind, state, event, actor) == to
            else:
                with pytest.raises(TransitionRefused):
                    sm.step(kind, state, event, actor)


@pytest.mark.req("SM-G2-ORDER", "SM-G2-RECHARGE", "SM-G2-WITHDRAWAL")
@pytest.mark.parametrize("kind", KINDS)
def test_every_other_state_and_event_is_refused(kind: sm.Kind) -> None:
    allowed = {(state, event) for state, event, _, _ in SPEC[kind]}
    assert set(sm.MACHINES[kind]) == allowed
    for state, event, actor in itertools.product(sm.states(kind) | {sm.NEW}, sm.events(kind),
                                                 ACTORS):
        if (state, event) not in allowed:
            with pytest.raises(TransitionRefused) as refused:
                sm.step(kind, state, event, actor)
            assert refused.value.code == "invalid_transition"


@pytest.mark.req("SM-G2-ORDER")
def test_finished_states_have_no_way_out_but_refunds() -> None:
    for kind in KINDS:
        for state in sm.FINISHED[kind]:
            ways = {e for (s, e) in sm.MACHINES[kind] if s == state}
            assert ways <= {"refund_approved"}


@pytest.mark.req("G2-02", "G2-24")
def test_flow_1_one_level_settles_cost_to_the_platform_and_the_difference_to_the_agent() -> None:
    legs = money.settlement_legs("online", [("A", Fen(6000))], Fen(9000))
    assert [(leg.account, leg.amount) for leg in legs] == [
        (REVENUE, 6000), (agent_available("A"), 3000)]


@pytest.mark.req("G2-03", "G2-24")
def test_flow_2_one_level_settles_the_cost_to_the_platform() -> None:
    legs = money.settlement_legs("agent_wallet", [("A", Fen(6000))], Fen(9000))
    assert [(leg.account, leg.amount) for leg in legs] == [(REVENUE, 6000)]
    assert money.paid_amount("agent_wallet", Fen(9000), Fen(6000)) == 6000


@pytest.mark.req("G2-05")
def test_multi_level_worked_example() -> None:
    chain = [("A", Fen(6000)), ("A1", Fen(7000))]
    flow1 = money.settlement_legs("wallet", chain, Fen(9000))
    assert [(leg.account, leg.amount) for leg in flow1] == [
        (REVENUE, 6000), (agent_available("A"), 1000), (agent_available("A1"), 2000)]
    flow2 = money.settlement_legs("agent_wallet", chain, Fen(9000))
    assert [(leg.account, leg.amount) for leg in flow2] == [
        (REVENUE, 6000), (agent_available("A"), 1000)]
    assert money.paid_amount("agent_wallet", Fen(9000), Fen(7000)) == 7000


costs = st.lists(st.integers(1, 10**7), min_size=1, max_size=6).map(sorted)


@pytest.mark.req("G2-05", "G2-24")
@given(costs, st.integers(0, 10**7), st.sampled_from(["online", "wallet", "agent_wallet"]))
def test_settlement_legs_sum_to_what_was_paid(levels: list[int], margin: int,
                                              method: str) -> None:
    chain = [(f"a{i}", Fen(c)) for i, c in enumerate(levels)]
    retail = Fen(levels[-1] + margin)
    paid = money.paid_amount(method, retail, chain[-1][1])
    moves = money.settlement_transfers("o1", method, chain, retail)
    assert sum(t.amount for t in moves) == paid  # the escrow ends at 0
    assert all(t.amount > 0 and t.debit == "order:o1:escrow" for t in moves)
    assert len({t.transfer_id for t in moves}) == len(moves)


@pytest.mark.req("G2-15")
@given(st.integers(1, 10**9), st.integers(0, 10_000))
def test_a_withdrawal_pays_out_the_amount_less_the_fee_and_the_fee_to_revenue(
        amount: int, fee_bp: int) -> None:
    fee = money.withdrawal_fee(Fen(amount), BasisPoints(fee_bp))
    moves = money.withdrawal_payout("w1", "A", Fen(amount), fee)
    assert sum(t.amount for t in moves) == amount
    assert {t.credit for t in moves} <= {PAYMENT_CHANNEL, REVENUE}
    assert all(t.debit == agent_withdrawing("A") for t in moves)
    back = money.withdrawal_return("w1", "A", Fen(amount))
    assert (back.debit, back.credit, back.amount) == (agent_withdrawing("A"),
                                                      agent_available("A"), amount)


@pytest.mark.req("G2-15", "C-03")
def test_the_withdrawal_fee_rounds_half_up() -> None:
    assert money.withdrawal_fee(Fen(5999), BasisPoints(500)) == 300
    assert money.withdrawal_fee(Fen(5989), BasisPoints(500)) == 299
    assert money.withdrawal_fee(Fen(10000), BasisPoints(0)) == 0
