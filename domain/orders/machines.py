"""The G2 state machines as pure tables (specs/business.md §2.5): state × event → next state,
and who may cause it. `step` decides; the store applies it as a compare-and-set on the state.

Actors are kinds, not roles: `buyer` (the end user or agent who created the order), `agent`
(an agent's admin on its own wallet), `channel` (a verified payment-channel notification or a
wallet debit), `system` (timers, fulfilment), `operator` (platform operator), `finance`
(platform finance)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from domain.orders.errors import TransitionRefused

Actor = Literal["buyer", "agent", "channel", "system", "operator", "finance"]
Kind = Literal["package", "recharge", "withdrawal", "number_card_event", "card_purchase"]


@dataclass(frozen=True)
class Step:
    to: str
    who: frozenset[Actor]


def _s(to: str, *who: Actor) -> Step:
    return Step(to, frozenset(who))


NEW = "—"  # the state before creation

ORDER: dict[tuple[str, str], Step] = {
    (NEW, "create_pay_later"): _s("pending_payment", "buyer"),
    (NEW, "create_agent_wallet"): _s("paid", "agent"),
    ("pending_payment", "payment_confirmed"): _s("paid", "channel"),
    ("pending_payment", "cancel"): _s("cancelled", "buyer", "system"),
    ("paid", "fulfilment_started"): _s("fulfilling", "system"),
    ("fulfilling", "fulfilled"): _s("completed", "system", "operator"),
    ("fulfilling", "activation_failed"): _s("failed", "system"),
    ("failed", "refund_paid"): _s("refunded", "system"),
    ("paid", "refund_approved"): _s("refunding", "operator"),
    ("fulfilling", "refund_approved"): _s("refunding", "operator"),
    ("completed", "refund_approved"): _s("refunding", "operator"),
    # a partial refund leaves the rest refundable: further refunds up to the total (the last
    # one ends in `refunded`)
    ("partially_refunded", "refund_approved"): _s("refunding", "operator"),
    ("refunding", "refund_paid"): _s("refunded", "system"),
    ("refunding", "partial_refund_paid"): _s("partially_refunded", "system"),
}

RECHARGE: dict[tuple[str, str], Step] = {
    (NEW, "create"): _s("pending_payment", "buyer", "agent"),
    ("pending_payment", "payment_confirmed"): _s("credited", "channel"),
    ("pending_payment", "cancel"): _s("cancelled", "buyer", "system"),
    ("credited", "refund_approved"): _s("refunded", "operator"),
}

WITHDRAWAL: dict[tuple[str, str], Step] = {
    (NEW, "request"): _s("requested", "agent"),
    ("requested", "approve"): _s("approved", "finance"),
    ("requested", "reject"): _s("rejected", "finance"),
    ("approved", "payout_paid"): _s("paid", "channel"),
    ("approved", "payout_failed"): _s("failed", "channel"),
}

# G2-09: an operator's notification about a number card (real name, activation, recharge);
# the user paid the operator or factory, so no money moves here and the order is final at once.
NUMBER_CARD_EVENT: dict[tuple[str, str], Step] = {
    (NEW, "notified"): _s("recorded", "system"),
}

# G2-01, G1-17: physical cards bought by an end user (one) or an enterprise (bulk), paid
# online or from the enterprise's wallet; completed when the platform allocates the cards
# (they are then registered under the buyer's enterprise); a paid order not yet delivered can
# be refunded by the platform (at once from a wallet, on the channel's notification online).
CARD_PURCHASE: dict[tuple[str, str], Step] = {
    (NEW, "create_pay_later"): _s("pending_payment", "buyer"),
    (NEW, "create_wallet"): _s("paid", "buyer"),
    ("pending_payment", "payment_confirmed"): _s("paid", "channel"),
    ("pending_payment", "cancel"): _s("cancelled", "buyer", "system"),
    ("paid", "cards_allocated"): _s("completed", "operator"),
    ("paid", "refund_approved"): _s("refunding", "operator"),
    ("refunding", "refund_paid"): _s("refunded", "system"),
}

MACHINES: dict[Kind, dict[tuple[str, str], Step]] = {
    "package": ORDER, "recharge": RECHARGE, "withdrawal": WITHDRAWAL,
    "number_card_event": NUMBER_CARD_EVENT, "card_purchase": CARD_PURCHASE}

FINISHED: dict[Kind, frozenset[str]] = {
    "package": frozenset({"cancelled", "completed", "refunded", "partially_refunded"}),
    "recharge": frozenset({"cancelled", "credited", "refunded"}),
    "withdrawal": frozenset({"rejected", "paid", "failed"}),
    "number_card_event": frozenset({"recorded"}),
    "card_purchase": frozenset({"cancelled", "completed", "refunded"}),
}


def states(kind: Kind) -> frozenset[str]:
    table = MACHINES[kind]
    return frozenset({s for s, _ in table} | {step.to for step in table.values()}) - {NEW}


def events(kind: Kind) -> frozenset[str]:
    return frozenset(e for _, e in MACHINES[kind])


def step(kind: Kind, state: str, event: str, actor: Actor) -> str:
    """The next state of a `kind` order in `state` on `event` caused by `actor`; refused
    (TransitionRefused, 409 `invalid_transition`) when the table has no such row or names
    another actor."""
    found = MACHINES[kind].get((state, event))
    if found is None or actor not in found.who:
        raise TransitionRefused(kind, state, event)
    return found.to
