"""The money of G2 orders, pure: which ledger transfers each step makes (G2-05, G2-13, G2-15,
G2-24). Transfer ids derive from the order id and the step, so a retried step is the same
transfer (the ledger applies it at most once).

Settlement at completion (G2-24, G2-05): the price chain lists the costs C1 (the platform's
price to the top-level agent) … Cn (the seller's cost) and the seller's retail R. The escrow
holds what was paid: R in Flow 1 (`online`, `wallet`), Cn in Flow 2 (`agent_wallet`). It pays
the platform C1, each upstream agent i the difference C(i+1) − Ci and, in Flow 1, the seller
R − Cn; the legs sum to what the escrow holds, which ends at 0."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.money import BasisPoints, Fen, share
from domain.ledger import (
    PAYMENT_CHANNEL,
    REVENUE,
    FeeType,
    Transfer,
    agent_available,
    agent_withdrawing,
    card_wallet,
    order_escrow,
    reversal,
)

FLOW_2 = "agent_wallet"


@dataclass(frozen=True)
class Leg:
    """One part of a settlement: who gets how much, as what."""

    account: str
    amount: Fen
    fee_type: FeeType


def paid_amount(method: str, retail: Fen, seller_cost: Fen) -> Fen:
    """What the order's buyer pays the platform: the seller's cost in Flow 2, else retail."""
    return seller_cost if method == FLOW_2 else retail


def settlement_legs(method: str, costs: Sequence[tuple[str, Fen]], retail: Fen) -> list[Leg]:
    """The legs out of the escrow at completion, in chain order, zero legs left out.

    `costs`: (agent_id, cost) from the top-level agent down to the seller."""
    if not costs:
        raise ValueError("a settled order has at least one level")
    legs = [Leg(REVENUE, costs[0][1], FeeType.COST)]
    for (upper, cost), (_, below) in zip(costs, costs[1:], strict=False):
        legs.append(Leg(agent_available(upper), Fen(below - cost), FeeType.PRICE_DIFFERENCE))
    if method != FLOW_2:
        seller, cost = costs[-1]
        legs.append(Leg(agent_available(seller), Fen(retail - cost), FeeType.PRICE_DIFFERENCE))
    if any(leg.amount < 0 for leg in legs):
        raise ValueError("a price chain with a falling cost cannot be settled")
    return [leg for leg in legs if leg.amount > 0]


def settlement_transfers(order_id: str, method: str, costs: Sequence[tuple[str, Fen]],
                         retail: Fen) -> list[Transfer]:
    escrow = order_escrow(order_id)
    return [Transfer(f"{order_id}:settle:{i}", escrow, leg.account, leg.amount, leg.fee_type,
                     order_id=order_id, order_line="1")
            for i, leg in enumerate(settlement_legs(method, costs, retail))]


def payment_transfer(order_id: str, source: str, amount: Fen, method: str) -> Transfer:
    """Into the order's escrow: from the channel (online), the card wallet (wallet) or the
    agent's available balance (Flow 2)."""
    fee = FeeType.COST if method == FLOW_2 else FeeType.RETAIL
    return Transfer(f"{order_id}:pay", source, order_escrow(order_id), amount, fee,
                    order_id=order_id, order_line="1")


def settlement_reversals(order_id: str, method: str, costs: Sequence[tuple[str, Fen]],
                         retail: Fen) -> list[Transfer]:
    """Refunding a completed order: every settlement leg back into the escrow; an agent's
    balance may go below 0 by it (G2-16: a refund reversal, later credits pay it back)."""
    return [reversal(t, f"{t.transfer_id}:back", fee_type=FeeType.REFUND, allow_negative=True)
            for t in settlement_transfers(order_id, method, costs, retail)]


def split(amount: Fen, weights: Sequence[int]) -> list[Fen]:
    """`amount` shared out in proportion to `weights`: each running total of the parts is the
    running total of the weights times amount / total, rounded half-up to the fen (C-03), so
    the parts sum exactly to `amount`, none is negative and none exceeds its weight (for
    0 ≤ amount ≤ sum(weights))."""
    total = sum(weights)
    if any(w < 0 for w in weights) or not 0 <= amount <= total:
        raise ValueError(f"cannot share {amount} fen over {list(weights)}")
    parts: list[Fen] = []
    before = running = 0
    for weight in weights:
        running += weight
        upto = (2 * amount * running + total) // (2 * total) if total else 0
        parts.append(Fen(upto - before))
        before = upto
    return parts


def refund_shares(legs: Sequence[Leg], earlier: Sequence[Fen], amount: Fen) -> list[Fen]:
    """What each settlement leg gives back for a refund of `amount`, after the `earlier`
    refunds (in order) took their shares: in proportion to what each account still holds of
    the order, so a later refund never takes from an account more than it received."""
    left = [int(leg.amount) for leg in legs]
    for each in earlier:
        left = [held - part for held, part in zip(left, split(each, left), strict=True)]
    return split(amount, left)


def partial_refund_transfers(order_id: str, seq: int, method: str,
                             costs: Sequence[tuple[str, Fen]], retail: Fen,
                             earlier: Sequence[Fen], amount: Fen) -> list[Transfer]:
    """Refund number `seq` of a completed order for `amount`: each settlement leg's share
    back into the escrow (platform revenue and the agents' price differences, in proportion;
    an agent may go below 0, G2-16). The escrow then pays the payer (`refund_out`)."""
    legs = settlement_legs(method, costs, retail)
    escrow = order_escrow(order_id)
    return [Transfer(f"{order_id}:refund{seq}:back:{i}", leg.account, escrow, part,
                     FeeType.REFUND, order_id=order_id, order_line="1", allow_negative=True,
                     metadata={"part_of": f"{order_id}:settle:{i}"})
            for i, (leg, part) in enumerate(zip(legs, refund_shares(legs, earlier, amount),
                                                strict=True)) if part > 0]


def refund_out(order_id: str, seq: int, payer: str, amount: Fen) -> Transfer:
    """Refund number `seq` (after a first partial one): the escrow pays the payer."""
    return Transfer(f"{order_id}:refund:{seq}", order_escrow(order_id), payer, amount,
                    FeeType.REFUND, order_id=order_id, order_line="1")


def recharge_refund(order_id: str, wallet: str, amount: Fen) -> Transfer:
    """SM-G2-RECHARGE: unspent money of a credited recharge back out of the wallet."""
    return Transfer(f"{order_id}:refund", wallet, PAYMENT_CHANNEL, amount, FeeType.REFUND,
                    order_id=order_id)


def payer_account(method: str, agent_id: str, iccid: str) -> str:
    """Where a refund goes: the channel (online), the card's wallet, the agent's wallet."""
    if method == FLOW_2:
        return agent_available(agent_id)
    return card_wallet(iccid) if method == "wallet" else PAYMENT_CHANNEL


def refund_transfer(order_id: str, payer: str, amount: Fen) -> Transfer:
    """The escrow pays the payer back (after the settlement, if any, was reversed)."""
    return Transfer(f"{order_id}:refund", order_escrow(order_id), payer, amount,
                    FeeType.REFUND, order_id=order_id, order_line="1")


def recharge_transfer(order_id: str, wallet: str, amount: Fen) -> Transfer:
    """G2-13: the channel's money into the wallet, in one transfer."""
    return Transfer(f"{order_id}:credit", PAYMENT_CHANNEL, wallet, amount, FeeType.RECHARGE,
                    order_id=order_id)


def withdrawal_fee(amount: Fen, fee_bp: BasisPoints) -> Fen:
    """G2-15: `withdrawal_fee_bp` of the amount, half-up to the fen (C-03)."""
    return share(amount, fee_bp)


def withdrawal_hold(order_id: str, agent_id: str, amount: Fen) -> Transfer:
    """Request: the amount leaves `available` for `withdrawing`."""
    return Transfer(f"{order_id}:request", agent_available(agent_id), agent_withdrawing(agent_id),
                    amount, FeeType.WITHDRAWAL, order_id=order_id)


def withdrawal_return(order_id: str, agent_id: str, amount: Fen) -> Transfer:
    """Rejected or failed: the amount goes back to `available` (a reversal of the request)."""
    return reversal(withdrawal_hold(order_id, agent_id, amount), f"{order_id}:return")


def withdrawal_payout(order_id: str, agent_id: str, amount: Fen, fee: Fen) -> list[Transfer]:
    """Paid: amount − fee to the outside world, the fee to the platform's revenue."""
    out = agent_withdrawing(agent_id)
    moves = [Transfer(f"{order_id}:payout", out, PAYMENT_CHANNEL, Fen(amount - fee),
                      FeeType.PAYOUT, order_id=order_id)] if amount > fee else []
    if fee > 0:
        moves.append(Transfer(f"{order_id}:fee", out, REVENUE, fee, FeeType.WITHDRAWAL_FEE,
                              order_id=order_id))
    return moves
