"""The facts of one card that the commission engine decides on (shared/specs/business.md §5:
H-10, H-12, H-17, H-22/H-23, H-26), and the pure questions asked of them.

`store.commission_facts.card_facts` reads them from the orders, refunds, card events,
real-name and attribution tables; nothing here reads anything. Amounts are integer fen (C-01).

* A recharge is a credited recharge order of the card's wallet (`source` `order`) or an
  operator's recharge notification (`source` `operator`, G2-09); `refunded` recharges stay in
  the list (the first recharge is the first ever credited, H-12) but never count.
* A package order is one the card completed (G2-19): `completed_at` is its completion instant
  (a refund later does not move it); `units_refunded` of its `quantity` units were paid back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

RechargeMode = Literal["first", "cumulative"]
RechargeSource = Literal["order", "operator"]


@dataclass(frozen=True)
class Recharge:
    """A credited recharge of the card: its `ref` (the recharge order's id, or
    `{operator}:{event_id}` for an operator notification), amount, credit instant."""

    ref: str
    amount_fen: int
    at: datetime
    refunded: bool
    source: RechargeSource


@dataclass(frozen=True)
class PackageOrder:
    """A package order of the card that completed, sold by `agent_id`; `cost_fen` is the
    selling agent's cost price per unit in the order's price-chain snapshot (G1-13),
    `retail_fen` the retail price per unit."""

    order_id: str
    agent_id: str
    package_id: str
    business_line: str
    quantity: int
    units_refunded: int
    state: str
    completed_at: datetime
    cost_fen: int
    retail_fen: int

    @property
    def fully_refunded(self) -> bool:
        return self.state == "refunded" or self.units_refunded >= self.quantity


@dataclass(frozen=True)
class CardFacts:
    """Everything H decides a card on, read at one instant. `recharges` are sorted by (at,
    ref), `package_orders` by completion (then order id)."""

    iccid: str
    real_name_at: datetime | None
    real_name_ref: str | None
    recharges: tuple[Recharge, ...]
    package_orders: tuple[PackageOrder, ...]
    network_status: str
    network_status_at: datetime | None
    opened: bool
    attributed_agent: str | None


class RechargeCondition(Protocol):
    """What a rule's recharge condition says (the rules module's model satisfies it)."""

    @property
    def mode(self) -> RechargeMode: ...

    @property
    def threshold_fen(self) -> int: ...


class RechargeVerdict(NamedTuple):
    """Whether a recharge condition holds, the amount that qualified (first recharge, or the
    cumulative sum at qualification; what was reached so far when unmet), the recharges it
    depended on, and the instant it became true (None while unmet)."""

    met: bool
    qualifying_fen: int
    refs: tuple[str, ...]
    at: datetime | None


def sort_recharges(recharges: Sequence[Recharge]) -> tuple[Recharge, ...]:
    return tuple(sorted(recharges, key=lambda r: (r.at, r.ref)))


def sort_package_orders(orders: Sequence[PackageOrder]) -> tuple[PackageOrder, ...]:
    return tuple(sorted(orders, key=lambda o: (o.completed_at, o.order_id)))


def first_recharge(facts: CardFacts) -> Recharge | None:
    """The card's first credited recharge, refunded since or not (None: none yet)."""
    return facts.recharges[0] if facts.recharges else None


def cumulative_recharge(facts: CardFacts, until: datetime | None = None) -> int:
    """The sum of the card's credited, non-refunded recharges (credited at or before
    `until`, if given)."""
    return sum(r.amount_fen for r in facts.recharges
               if not r.refunded and (until is None or r.at <= until))


def recharge_condition_met(facts: CardFacts, mode: RechargeMode, threshold_fen: int
                           ) -> RechargeVerdict:
    """H-12. Mode `first`: only the first credited recharge is compared (≥, equal qualifies);
    lower — or refunded — it never qualifies. Mode `cumulative`: the running sum of the
    credited, non-refunded recharges in order; it qualifies with the recharge that brings it
    to the threshold (the recharges summed so far are the ones it depended on)."""
    if mode == "first":
        first = first_recharge(facts)
        if first is None:
            return RechargeVerdict(False, 0, (), None)
        met = not first.refunded and first.amount_fen >= threshold_fen
        return RechargeVerdict(met, 0 if first.refunded else first.amount_fen, (first.ref,),
                               first.at if met else None)
    total, refs = 0, []
    if threshold_fen <= 0:
        return RechargeVerdict(True, 0, (), None)
    for recharge in facts.recharges:
        if recharge.refunded:
            continue
        total += recharge.amount_fen
        refs.append(recharge.ref)
        if total >= threshold_fen:
            return RechargeVerdict(True, total, tuple(refs), recharge.at)
    return RechargeVerdict(False, total, tuple(refs), None)


def counted_orders(facts: CardFacts) -> tuple[PackageOrder, ...]:
    """G2-19: the card's completed, non-fully-refunded package orders, in completion order."""
    return tuple(o for o in facts.package_orders if not o.fully_refunded)


def package_count(facts: CardFacts) -> int:
    """G2-19: how many packages the card has used (completed, not fully refunded)."""
    return len(counted_orders(facts))


def nth_package(facts: CardFacts, order_id: str) -> int | None:
    """The 1-based place of `order_id` among the card's counted package orders (H-23, H-24:
    a refunded earlier order gives its place to the later ones); None if it does not count."""
    for n, found in enumerate(counted_orders(facts), start=1):
        if found.order_id == order_id:
            return n
    return None


def is_activation(facts: CardFacts, recharge: RechargeCondition | None = None) -> bool:
    """H-26 (AMB-11): real-name ∧ ≥ 1 counted package ∧ the recharge condition (if any) ∧
    the card's network status is `active` now (H-27: current state)."""
    return (facts.real_name_at is not None
            and package_count(facts) >= 1
            and (recharge is None
                 or recharge_condition_met(facts, recharge.mode, recharge.threshold_fen).met)
            and facts.network_status == "active")
