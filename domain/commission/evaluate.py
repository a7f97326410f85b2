"""What commission a card has earned, decided from its facts alone (H-08, H-10 … H-24, H-28,
H-37, H-38, H-42). `plan_card` compares what the facts and rules call for with the records the
card already has and answers what to produce, promote (`awaiting_conditions → frozen`) and
reverse. It is a function of state, not of events: evaluating a card again, after any event in
any order or twice, plans nothing new.

Rules are found by `RuleLookup(agent, kind, package, business line, at)`: the version active
at the order's completion (non-retroactive, H-06); only the selling agent's rules count
(H-42)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from domain.commission import amounts
from domain.commission.facts import CardFacts, PackageOrder, nth_package, recharge_condition_met
from domain.commission.rules import (
    Amount,
    CombinedRule,
    LongTermRule,
    OneTimeRule,
    RechargeCondition,
    Rule,
    Tiers,
    TimeGate,
)

RuleLookup = Callable[[str, str, str, str, datetime], Rule | None]
Metric = Callable[[str, str], int]  # (agent, tier metric) → the metric's value now
LONG_TERM_KINDS = ("long_term", "combined")
ONE_TIME_KINDS = ("one_time", "combined")


@dataclass(frozen=True)
class Existing:
    """A record the card already has, as the plan needs it."""

    record_id: str
    idem_key: str
    state: str
    order_id: str | None
    unit: int | None
    depends_on: tuple[str, ...] = ()  # the recharges a one-time commission qualified with


@dataclass(frozen=True)
class Produce:
    """A record to create (store/commissions.NewRecord without the store's types)."""

    idem_key: str
    part: Literal["per_order", "one_time", "long_term"]
    rule: Rule
    agent_id: str
    amount_fen: int
    state: Literal["available", "frozen", "awaiting_conditions"]
    timed: bool
    explanation: dict[str, Any]
    order_id: str | None = None
    unit: int | None = None


@dataclass
class Plan:
    produce: list[Produce] = field(default_factory=list)
    promote: list[str] = field(default_factory=list)
    reverse: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Ctx:
    facts: CardFacts
    rules: RuleLookup
    metric: Metric
    existing: Mapping[str, Existing]
    now: datetime


def plan_card(facts: CardFacts, rules: RuleLookup, metric: Metric,
              existing: Mapping[str, Existing], now: datetime) -> Plan:
    """The records `facts` call for that `existing` (by idempotency key) lacks, the waiting
    ones whose conditions now hold, and those whose source was refunded."""
    ctx = _Ctx(facts, rules, metric, existing, now)
    plan = Plan()
    for order in facts.package_orders:
        _per_order(ctx, order, plan)
        _long_term(ctx, order, plan)
    _one_time(ctx, plan)
    _reverse_refunded(ctx, plan)
    return plan


def facts_until(facts: CardFacts, end: datetime) -> CardFacts:
    """The card as it stood just before `end`: later recharges, packages and real-name gone
    (refunds are kept as they are now — the store keeps no refund instant per fact)."""
    named = facts.real_name_at is not None and facts.real_name_at < end
    return replace(facts, real_name_at=facts.real_name_at if named else None,
                   real_name_ref=facts.real_name_ref if named else None,
                   recharges=tuple(r for r in facts.recharges if r.at < end),
                   package_orders=tuple(o for o in facts.package_orders
                                        if o.completed_at < end))


def _rules(ctx: _Ctx, order: PackageOrder, kinds: tuple[str, ...]) -> list[Rule]:
    """The selling agent's rules of these kinds in force at the order's completion (at most
    one per kind, H-07)."""
    found = (ctx.rules(order.agent_id, kind, order.package_id, order.business_line,
                       order.completed_at) for kind in kinds)
    return [rule for rule in found if rule is not None]


def _live_units(order: PackageOrder) -> int:
    return 0 if order.state == "refunded" else order.quantity - order.units_refunded


def _value(ctx: _Ctx, rule: Rule, amount: Amount) -> tuple[Amount, dict[str, Any] | None]:
    """The amount after the tier overlay (H-28), and how the tier was chosen."""
    tiers: Tiers | None = rule.tiers
    if tiers is None:
        return amount, None
    measured = ctx.metric(rule.agent_id, tiers.metric)
    row = max((r for r in tiers.rows if r[0] <= measured), default=tiers.rows[0])
    return (Amount(amount.mode, row[1]),
            {"metric": tiers.metric, "metric_value": measured, "threshold": row[0],
             "value": row[1]})


def _explained(amount: Amount, base_fen: int, base: dict[str, Any], tier: dict[str, Any] | None,
               conditions: list[dict[str, Any]], cap: int | None = None,
               units: int = 1) -> tuple[int, dict[str, Any]]:
    each = amounts.amount_for(amount, base_fen)
    total = each * units
    formula = _formula(amount, base_fen, each)
    if units != 1:
        formula += f"; × {units} = {total}"
    capped = total if cap is None else min(total, cap)
    if cap is not None:
        formula += f"; min({total}, recharge {cap}) = {capped}"
    return capped, {"base": {**base, "amount_fen": base_fen},
                    "amount": {"mode": amount.mode, "value": amount.value}, "tier": tier,
                    "conditions": conditions, "formula": formula,
                    "cap": None if cap is None else {"recharge_fen": cap}}


def _formula(amount: Amount, base_fen: int, result: int) -> str:
    """How one unit's amount came about: `fixed 1000`, or `6000 × 500 bp = 300.0000 → 300
    (half-up)`."""
    if amount.mode == "fixed":
        return f"fixed {amount.value}"
    exact = base_fen * amount.value
    return (f"{base_fen} × {amount.value} bp = {exact // 10000}.{exact % 10000:04d} → "
            f"{result} (half-up)")


def _per_order(ctx: _Ctx, order: PackageOrder, plan: Plan) -> None:
    """H-08: one rebate per package unit of a completed order, on the agent's cost price."""
    for rule in _rules(ctx, order, ("per_order",)):
        _rebates(ctx, order, rule, plan)


def _rebates(ctx: _Ctx, order: PackageOrder, rule: Rule, plan: Plan) -> None:
    amount, tier = _value(ctx, rule, rule.amount)
    for unit in range(1, _live_units(order) + 1):
        key = f"per_order:{rule.rule_id}:{order.order_id}:{unit}"
        if key in ctx.existing:
            continue
        fen, why = _explained(amount, order.cost_fen, _order_base(order), tier,
                              [_completed(order)])
        state: Literal["available", "frozen"] = (
            "available" if rule.freeze_days == 0 else "frozen")
        plan.produce.append(Produce(key, "per_order", rule, rule.agent_id, fen, state, True,
                                    why, order.order_id, unit))


def _order_base(order: PackageOrder) -> dict[str, Any]:
    return {"source": "cost_price_snapshot", "ref": order.order_id,
            "package_id": order.package_id}


def _completed(order: PackageOrder) -> dict[str, Any]:
    return {"name": "package_completed", "met_at": _iso(order.completed_at),
            "event_id": f"{order.order_id}:completed", "detail": order.package_id}


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _conditions(ctx: _Ctx, recharge: RechargeCondition | None
                ) -> tuple[bool, list[dict[str, Any]], int, tuple[str, ...]]:
    """Real-name and the recharge condition (H-10, H-12, H-17): whether both hold, the
    evidence, the qualifying recharge and the recharges it depended on."""
    facts = ctx.facts
    evidence: list[dict[str, Any]] = []
    named = facts.real_name_at is not None
    if named:
        evidence.append({"name": "real_name", "met_at": _iso(facts.real_name_at),
                         "event_id": facts.real_name_ref, "detail": "verified"})
    if recharge is None:
        return named, evidence, 0, ()
    met = recharge_condition_met(facts, recharge.mode, recharge.threshold_fen)
    if met.met:
        evidence.append({"name": f"recharge_{recharge.mode}", "met_at": _iso(met.at),
                         "event_id": ",".join(met.refs),
                         "detail": f"{met.qualifying_fen} ≥ {recharge.threshold_fen}"})
    return named and met.met, evidence, met.qualifying_fen, tuple(met.refs)


def _gate_passed(ctx: _Ctx, rule: Rule, order: PackageOrder) -> tuple[bool, dict[str, Any]]:
    """H-22/H-23: a combined rule's long-term part from the (N+1)-th package of the card, or
    for packages completed at or after T."""
    if not isinstance(rule, CombinedRule):
        return True, {}
    gate = rule.gate
    if isinstance(gate, TimeGate):
        passed = order.completed_at >= gate.at
        return passed, {"name": "gate_time", "met_at": _iso(order.completed_at),
                        "event_id": f"{order.order_id}:completed",
                        "detail": f"completed {_iso(order.completed_at)} ≥ "
                                  f"{gate.at.isoformat()}"}
    position = nth_package(ctx.facts, order.order_id)
    n = gate.n
    passed = position is not None and position > n
    return passed, {"name": "gate_packages", "met_at": _iso(order.completed_at),
                    "event_id": f"{order.order_id}:completed",
                    "detail": f"package {position} of the card > {n}"}


def _long_term(ctx: _Ctx, order: PackageOrder, plan: Plan) -> None:
    """H-17, H-18, H-22 … H-24: one long-term record per completed package order and rule."""
    if _live_units(order) == 0:
        return
    for rule in _rules(ctx, order, LONG_TERM_KINDS):
        _long_term_of(ctx, order, rule, plan)


def _long_term_of(ctx: _Ctx, order: PackageOrder, rule: Rule, plan: Plan) -> None:
    key = f"long_term:{rule.rule_id}:{order.order_id}"
    met, evidence, _, _ = _conditions(ctx, _long_term_recharge(rule))
    found = ctx.existing.get(key)
    if found is not None:
        if found.state == "awaiting_conditions" and met:
            plan.promote.append(found.record_id)
        return
    passed, gate = _gate_passed(ctx, rule, order)
    if not passed:
        return
    amount, tier = _value(ctx, rule, rule.amount)
    fen, why = _explained(amount, order.cost_fen, _order_base(order), tier,
                          [_completed(order), *([gate] if gate else []), *evidence],
                          units=_live_units(order))
    plan.produce.append(Produce(key, "long_term", rule, rule.agent_id, fen,
                                "frozen" if met else "awaiting_conditions", False, why,
                                order.order_id))


def _long_term_recharge(rule: Rule) -> RechargeCondition | None:
    if isinstance(rule, LongTermRule | CombinedRule):
        return rule.recharge
    return None


def _one_time_terms(rule: Rule) -> tuple[Amount, RechargeCondition] | None:
    """The amount and recharge condition of a one-time rule or a combined rule's one-time
    part."""
    if isinstance(rule, OneTimeRule):
        return rule.amount, rule.recharge
    if isinstance(rule, CombinedRule):
        return rule.one_time.amount, rule.one_time.recharge
    return None


def _one_time(ctx: _Ctx, plan: Plan) -> None:
    """H-10 … H-16: once per (rule, card), when real-name and the recharge condition both hold
    after a completed order of the rule's package by its owner."""
    seen: set[str] = set()
    for order in ctx.facts.package_orders:
        if _live_units(order) == 0:
            continue
        for rule in _rules(ctx, order, ONE_TIME_KINDS):
            if rule.rule_id not in seen:
                seen.add(rule.rule_id)
                _one_time_of(ctx, order, rule, plan)


def _one_time_of(ctx: _Ctx, order: PackageOrder, rule: Rule, plan: Plan) -> None:
    key = f"one_time:{rule.rule_id}:{ctx.facts.iccid}"
    terms = _one_time_terms(rule)
    if key in ctx.existing or terms is None:
        return
    met, evidence, qualifying, refs = _conditions(ctx, terms[1])
    if not met:
        return
    amount, tier = _value(ctx, rule, terms[0])
    cap = qualifying if order.business_line == "traffic_card" else None
    fen, why = _explained(amount, qualifying, {"source": "recharge", "ref": ",".join(refs)},
                          tier, [_completed(order), *evidence], cap=cap)
    why["depends_on"] = {"order_id": order.order_id, "recharges": list(refs)}
    plan.produce.append(Produce(key, "one_time", rule, rule.agent_id, fen, "frozen", True, why,
                                order.order_id))


def _reverse_refunded(ctx: _Ctx, plan: Plan) -> None:
    """H-38: a record whose order (or refunded units) or qualifying recharge was refunded."""
    orders = {o.order_id: o for o in ctx.facts.package_orders}
    refunded = {r.ref for r in ctx.facts.recharges if r.refunded}
    for record in ctx.existing.values():
        if record.state in ("invalid", "rejected", "reversed"):
            continue
        order = orders.get(record.order_id or "")
        gone = order is not None and (
            _live_units(order) == 0
            or (record.unit is not None and record.unit > _live_units(order)))
        if record.idem_key.startswith("one_time:"):
            gone = gone or any(ref in refunded for ref in record.depends_on)
        if gone:
            plan.reverse.append(record.record_id)
