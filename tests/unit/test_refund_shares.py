"""Refunds in parts, pure (SM-G2-ORDER, C-03): a refund is shared over the settlement legs in
proportion to what each still holds, half-up, the parts summing exactly to the amount and
none taking back more than its account received — over any sequence of partial refunds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import Fen
from domain.ledger import PAYMENT_CHANNEL, REVENUE, agent_available, card_wallet, order_escrow
from domain.orders import money

weights = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=6)


@pytest.mark.req("SM-G2-ORDER", "C-03")
@given(weights, st.data())
def test_parts_sum_to_the_amount_and_none_exceeds_its_weight(ws: list[int],
                                                             data: st.DataObject) -> None:
    amount = data.draw(st.integers(min_value=0, max_value=sum(ws)))
    parts = money.split(Fen(amount), ws)
    assert sum(parts) == amount
    assert all(0 <= part <= weight for part, weight in zip(parts, ws, strict=True))
    total = sum(ws)
    if total:  # each part within one fen of its exact share
        assert all(abs(part * total - amount * w) <= total for part, w in zip(parts, ws,
                                                                               strict=True))


@pytest.mark.req("SM-G2-ORDER", "G2-16")
@given(st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=4),
       st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=6),
       st.sampled_from(["online", "wallet", "agent_wallet"]))
def test_partial_refunds_never_take_back_more_than_a_leg_received(
        costs: list[int], cuts: list[int], method: str) -> None:
    costs = sorted(costs)  # a price chain never falls
    chain = [(f"a{i}", Fen(c)) for i, c in enumerate(costs)]
    retail = Fen(costs[-1] + 1000)
    legs = money.settlement_legs(method, chain, retail)
    paid = money.paid_amount(method, retail, Fen(costs[-1]))
    assert sum(leg.amount for leg in legs) == paid
    taken = [0] * len(legs)
    earlier: list[Fen] = []
    for cut in cuts:
        amount = Fen(min(cut, paid - sum(earlier)))
        if amount <= 0:
            break
        shares = money.refund_shares(legs, earlier, amount)
        assert sum(shares) == amount
        taken = [t + s for t, s in zip(taken, shares, strict=True)]
        assert all(0 <= t <= leg.amount for t, leg in zip(taken, legs, strict=True))
        earlier.append(amount)
    if sum(earlier) == paid:  # refunded in full: every leg gave back all it received
        assert taken == [leg.amount for leg in legs]


@pytest.mark.req("SM-G2-ORDER", "G2-05")
def test_the_spec_chain_refunded_3000_of_9000() -> None:
    chain = [("A", Fen(6000)), ("A1", Fen(7000))]
    moves = money.partial_refund_transfers("P1", 1, "wallet", chain, Fen(9000), [], Fen(3000))
    assert [(t.debit, t.credit, t.amount, t.allow_negative) for t in moves] == [
        (REVENUE, order_escrow("P1"), 2000, True),
        (agent_available("A"), order_escrow("P1"), 333, True),
        (agent_available("A1"), order_escrow("P1"), 667, True)]
    # Flow 1 refunds go to the payer's channel or card wallet, Flow 2 to the agent that paid
    card = "89860012345678901234"
    assert money.payer_account("online", "A1", card) == PAYMENT_CHANNEL
    assert money.payer_account("wallet", "A1", card) == card_wallet(card)
    assert money.payer_account("agent_wallet", "A1", card) == agent_available("A1")
