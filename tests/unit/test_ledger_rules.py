"""The pure ledger: account keys and floors, transfer validation, the idempotency hash, the floor
decision and batch plans (property-tested), and statement arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import Fen
from domain.ledger import (
    PAYMENT_CHANNEL,
    REVENUE,
    Balance,
    Entry,
    FeeType,
    Floor,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAccount,
    InvalidTransfer,
    Phase,
    Transfer,
    account_kind,
    agent_available,
    agent_commission_frozen,
    agent_withdrawing,
    build_statement,
    card_wallet,
    check,
    content_hash,
    dedupe_batch,
    empty,
    enterprise_alipay,
    enterprise_wallet,
    factory_settlement,
    hold,
    is_account,
    order_escrow,
    plan,
    post,
    reversal,
    supplier_fund,
    void,
)

ICCID = "89860012345678901234"
FLOORED = [agent_available("a1"), agent_available("a2"), card_wallet(ICCID), order_escrow("o1")]
UNFLOORED = [PAYMENT_CHANNEL, REVENUE]
ACCOUNTS = FLOORED + UNFLOORED
FIXED = settings(max_examples=200, deadline=None)
RESOLVED = {Phase.POST_PENDING: "posted", Phase.VOID_PENDING: "voided"}


@pytest.mark.req("G2-22")
def test_every_g2_22_account_has_a_key_and_a_floor() -> None:
    expected = {
        REVENUE: ("platform_revenue", Floor.NONE),
        PAYMENT_CHANNEL: ("payment_channel", Floor.NONE),
        agent_available("a1"): ("agent_available", Floor.MUST_NOT_GO_NEGATIVE),
        agent_commission_frozen("a1"): ("agent_commission_frozen", Floor.MUST_NOT_GO_NEGATIVE),
        agent_withdrawing("a1"): ("agent_withdrawing", Floor.MUST_NOT_GO_NEGATIVE),
        card_wallet(ICCID): ("card_wallet", Floor.MUST_NOT_GO_NEGATIVE),
        enterprise_wallet("acme"): ("enterprise_wallet", Floor.MUST_NOT_GO_NEGATIVE),
        enterprise_alipay("acme"): ("enterprise_alipay", Floor.NONE),
        order_escrow("SO-2026.1_x"): ("order_escrow", Floor.MUST_NOT_GO_NEGATIVE),
        supplier_fund("s1"): ("supplier_fund", Floor.MUST_NOT_GO_NEGATIVE),
        factory_settlement("f1"): ("factory_settlement", Floor.NONE),
    }
    assert {key: (account_kind(key).name, account_kind(key).floor) for key in expected} == expected
    assert agent_available("a1") == "agent:a1:available"


@pytest.mark.req("G2-22")
@pytest.mark.parametrize("key", [
    "", "platform", "platform:revenue:x", "agent::available", "agent:a:b:available",
    "agent:a1:spending", "Agent:a1:available", "agent:-a:available", "wallet:1234",
    "wallet:89860012345678901234x", "wallet:89860012345678901abc", "order:o1:escrow\n",
    "agent:" + "a" * 65 + ":available", "external:bank",
])
def test_keys_outside_the_patterns_are_refused(key: str) -> None:
    assert not is_account(key)
    with pytest.raises(InvalidAccount):
        account_kind(key)


def test_builders_refuse_ids_that_break_the_key() -> None:
    for bad in ["a:b", "", "a b", "x" * 65]:
        with pytest.raises(InvalidAccount):
            agent_available(bad)


@pytest.mark.req("G2-21")
@pytest.mark.parametrize(("changes", "problem"), [
    ({"amount": 0}, "positive"), ({"amount": -5}, "positive"), ({"amount": True}, "positive"),
    ({"amount": 1.0}, "positive"), ({"credit": REVENUE}, "two accounts"),
    ({"transfer_id": ""}, "1 to 128"), ({"transfer_id": "x" * 129}, "1 to 128"),
    ({"phase": Phase.POST_PENDING}, "pending_id"), ({"pending_id": "h"}, "pending_id"),
    ({"allow_negative": True}, "overdraw"), ({"reverses": "x", "phase": Phase.PENDING}, "posted"),
])
def test_transfers_that_can_never_apply_are_refused(changes: dict[str, object],
                                                    problem: str) -> None:
    fields: dict[str, object] = {"transfer_id": "t1", "debit": REVENUE,
                                 "credit": agent_available("a1"), "amount": 100,
                                 "fee_type": FeeType.COST} | changes
    with pytest.raises(InvalidTransfer, match=problem):
        Transfer(**fields)  # type: ignore[arg-type]
    with pytest.raises(InvalidAccount):
        Transfer("t", "nope", REVENUE, Fen(1), FeeType.COST)


@pytest.mark.req("G2-16")
def test_only_refunds_clawbacks_and_reversals_may_overdraw() -> None:
    a = agent_available("a1")
    Transfer("t1", a, REVENUE, Fen(1), FeeType.COMMISSION, allow_negative=True)
    Transfer("t2", a, REVENUE, Fen(1), FeeType.REFUND, allow_negative=True)
    Transfer("t3", a, REVENUE, Fen(1), FeeType.PRICE_DIFFERENCE, reverses="t0",
             allow_negative=True)
    with pytest.raises(InvalidTransfer):
        Transfer("t4", a, REVENUE, Fen(1), FeeType.WITHDRAWAL, allow_negative=True)
    with pytest.raises(InvalidTransfer):
        hold("t5", a, REVENUE, Fen(1), FeeType.REFUND, allow_negative=True)


transfers = st.builds(
    Transfer, transfer_id=st.text(min_size=1, max_size=8),
    debit=st.sampled_from(ACCOUNTS[:3]), credit=st.sampled_from(ACCOUNTS[3:]),
    amount=st.integers(1, 10**12).map(Fen), fee_type=st.sampled_from(FeeType),
    order_id=st.none() | st.text(max_size=5), order_line=st.none() | st.text(max_size=3),
    metadata=st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=4),
                             max_size=3))


@pytest.mark.req("G2-21")
@FIXED
@given(transfers, transfers)
def test_the_hash_is_the_content_whatever_the_id_or_key_order(a: Transfer, b: Transfer) -> None:
    same = Transfer("other-id", a.debit, a.credit, a.amount, a.fee_type, a.order_id,
                    a.order_line, metadata=dict(reversed(list(a.metadata.items()))))
    assert content_hash(same) == content_hash(a)
    assert len(content_hash(a)) == 64
    content = {k: v for k, v in vars(a).items() if k != "transfer_id"}
    other = {k: v for k, v in vars(b).items() if k != "transfer_id"}
    assert (content_hash(a) == content_hash(b)) == (content == other)


@pytest.mark.req("G2-21")
def test_a_batch_drops_exact_repeats_and_refuses_a_changed_repeat() -> None:
    t = Transfer("t1", PAYMENT_CHANNEL, REVENUE, Fen(5), FeeType.RETAIL)
    assert dedupe_batch((t, t)) == (t,)
    with pytest.raises(IdempotencyConflict):
        dedupe_batch((t, Transfer("t1", PAYMENT_CHANNEL, REVENUE, Fen(6), FeeType.RETAIL)))
    with pytest.raises(InvalidTransfer):
        dedupe_batch(())


totals = st.integers(0, 10**6)
floored_balances = st.builds(Balance, st.sampled_from(FLOORED), st.just(Floor.MUST_NOT_GO_NEGATIVE),
                             totals, totals, totals, totals)


@pytest.mark.req("G2-16", "G2-04")
@FIXED
@given(floored_balances, st.integers(1, 10**6), st.sampled_from([Phase.SINGLE, Phase.PENDING]))
def test_a_debit_is_refused_exactly_when_it_exceeds_what_is_available(
        balance: Balance, amount: int, phase: Phase) -> None:
    t = Transfer("t", balance.account, REVENUE, Fen(amount), FeeType.COST, phase=phase)
    refusal = check(balance, t)
    assert (refusal is None) == (balance.available >= amount)
    if refusal is not None:
        assert (refusal.available, refusal.needed, refusal.code) == (
            balance.available, amount, "insufficient_balance")
        assert refusal.message_zh == "余额不足"
    unfloored = Balance(balance.account, Floor.NONE, *list(vars(balance).values())[2:])
    assert check(unfloored, t) is None
    if phase is Phase.SINGLE:
        clawback = Transfer("c", balance.account, REVENUE, Fen(amount), FeeType.COMMISSION,
                            allow_negative=True)
        assert check(balance, clawback) is None


@st.composite
def batches(draw: st.DrawFn) -> list[Transfer]:
    """Random single transfers and holds, with posts and voids of earlier holds."""
    made: list[Transfer] = []
    open_holds: list[Transfer] = []
    for i in range(draw(st.integers(1, 25))):
        debit, credit = draw(st.lists(st.sampled_from(ACCOUNTS), min_size=2, max_size=2,
                                      unique=True))
        amount = Fen(draw(st.integers(1, 500)))
        choice = draw(st.sampled_from(["single", "hold", "resolve", "clawback"]))
        if choice == "resolve" and open_holds:
            h = open_holds.pop(draw(st.integers(0, len(open_holds) - 1)))
            part = Fen(draw(st.integers(1, h.amount)))
            made.append(post(h, f"r{i}", part) if draw(st.booleans()) else void(h, f"r{i}"))
        elif choice == "hold":
            open_holds.append(hold(f"h{i}", debit, credit, amount, FeeType.WITHDRAWAL))
            made.append(open_holds[-1])
        else:
            made.append(Transfer(f"t{i}", debit, credit, amount, FeeType.COMMISSION,
                                 allow_negative=choice == "clawback"))
    return made


@pytest.mark.req("G2-21", "G2-16")
@FIXED
@given(batches())
def test_applied_transfers_keep_the_ledger_balanced_and_the_floors(
        sequence: list[Transfer]) -> None:
    state = {key: empty(key) for key in ACCOUNTS}
    holds: dict[str, tuple[Transfer, str]] = {}
    overdrawn: set[str] = set()
    for t in sequence:
        try:
            state = plan(state, (t,), holds)
        except InsufficientFunds as refusal:
            assert refusal.account == t.debit and refusal.available < t.amount
            continue
        except InvalidTransfer:  # the post or void of a hold that was refused
            continue
        if t.phase is Phase.PENDING:
            holds[t.transfer_id] = (t, "pending")
        elif t.pending_id is not None:
            holds[t.pending_id] = (holds[t.pending_id][0], RESOLVED[t.phase])
        if t.allow_negative:
            overdrawn.add(t.debit)
        assert sum(b.posted for b in state.values()) == 0
        assert sum(b.debits_pending for b in state.values()) == sum(
            b.credits_pending for b in state.values())
        for key in FLOORED:
            assert key in overdrawn or state[key].available >= 0, key


@pytest.mark.req("G2-21")
def test_a_hold_posted_in_part_releases_the_rest() -> None:
    a, w = agent_available("a1"), agent_withdrawing("a1")
    start = {a: Balance(a, Floor.MUST_NOT_GO_NEGATIVE, 0, 1000), w: empty(w)}
    h = hold("h", a, w, Fen(700), FeeType.WITHDRAWAL)
    held = plan(start, (h,), {})
    assert (held[a].posted, held[a].available, held[w].credits_pending) == (1000, 300, 700)
    with pytest.raises(InsufficientFunds):
        plan(held, (Transfer("t", a, w, Fen(301), FeeType.WITHDRAWAL),), {})
    posted = plan(held, (post(h, "p", Fen(400)),), {"h": (h, "pending")})
    assert (posted[a].posted, posted[a].available, posted[w].posted) == (600, 600, 400)
    assert posted[a].debits_pending == posted[w].credits_pending == 0
    voided = plan(held, (void(h, "v"),), {"h": (h, "pending")})
    assert voided == start
    with pytest.raises(Exception, match="already posted"):
        plan(posted, (void(h, "v"),), {"h": (h, "posted")})


def test_a_reversal_mirrors_posted_money_only() -> None:
    t = Transfer("t", PAYMENT_CHANNEL, order_escrow("o1"), Fen(9000), FeeType.RETAIL, "o1", "1")
    back = reversal(t, "t-r")
    assert (back.debit, back.credit, back.amount, back.reverses, back.order_line) == (
        order_escrow("o1"), PAYMENT_CHANNEL, 9000, "t", "1")
    with pytest.raises(InvalidTransfer):
        reversal(hold("h", PAYMENT_CHANNEL, REVENUE, Fen(1), FeeType.RETAIL), "h-r")


entries = st.lists(st.integers(-10**6, 10**6).filter(bool), max_size=30)


@pytest.mark.req("G2-25")
@FIXED
@given(st.integers(-10**6, 10**6), entries)
def test_a_statement_runs_from_opening_to_closing(opening: int, amounts: list[int]) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    lines = [Entry(i, at, f"t{i}", REVENUE, Fen(a), "retail", None, None)
             for i, a in enumerate(amounts)]
    made = build_statement("wallet:" + ICCID, Fen(opening), lines)
    assert made.closing == opening + sum(amounts)
    assert made.credits - made.debits == sum(amounts)
    running = opening
    for line in made.lines:
        running += line.entry.amount
        assert line.balance_after == running
