"""Commission rules (specs/business.md §5.1, H-01…H-08, H-14, H-16, H-22…H-28, H-32…H-35) as
typed, frozen models: a discriminated union on `kind`, each kind with its own terms.

Common to every kind (H-06): id, version, owner agent, scope (package ids or a business line),
amount (fixed fen or percent bp), `freeze_days`, `requires_approval`, optional tiers, the
period `[effective_from, effective_to)` and a status. Defaults follow the kind: a per-order
rebate is paid at once (H-08), one-time / long-term / combined commissions wait 7 days and an
approval (H-13). `validate` says what a configuration may not be; `to_row` / `from_row` map a
rule to its `commission_rules` row (columns + `terms` + `tiers` jsonb) in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from core.money import BP_PER_WHOLE
from domain.refusals import Refusal

Kind = Literal["per_order", "one_time", "long_term", "combined", "number_card_settlement"]
KINDS: tuple[Kind, ...] = ("per_order", "one_time", "long_term", "combined",
                           "number_card_settlement")
AmountMode = Literal["fixed", "percent"]
RechargeMode = Literal["first", "cumulative"]
TierMetric = Literal["pickup_volume", "activation_count", "deposit"]
Status = Literal["draft", "active", "retired"]
BusinessLine = Literal["traffic_card", "number_card"]
MAX_FREEZE_DAYS = 365


# --- refusals (C-06) ---------------------------------------------------------------------

class RuleOverlap(Refusal):
    """H-07: a second active rule of a kind for the same agent and package at some instant."""

    code = "rule_overlap"
    message_zh = "同一代理同一套餐已存在生效中的同类分佣规则"  # (proposed)
    message_en = "An active rule of this kind already exists for this agent and package"


class OneTimeExceedsRecharge(Refusal):
    """H-14: a traffic-card one-time commission larger than the recharge that earns it."""

    code = "one_time_exceeds_recharge"
    message_zh = "一次性佣金不能大于充值金额"  # (proposed)
    message_en = "A one-time commission must not exceed the recharge amount"
    field = "amount.value"


class InvalidTiers(Refusal):
    """H-28: tier thresholds start at 0 and strictly increase."""

    code = "invalid_tiers"
    message_zh = "阶梯门槛须从0开始并严格递增"  # (proposed)
    message_en = "Tier thresholds must start at 0 and strictly increase"
    field = "tiers.rows"


class InvalidTierValue(Refusal):
    """H-28: a tier value replaces the rule's amount, so a percentage stays within 0–10000."""

    code = "invalid_tiers"
    message_zh = "比例阶梯的数值须在0到10000基点之间"  # (proposed)
    message_en = "A percentage tier value must be between 0 and 10000 bp"
    field = "tiers.rows"


class TierMetricUnsupported(Refusal):
    """H-25: the deposit (保证金) metric is future work."""

    code = "tier_metric_unsupported"
    message_zh = "暂不支持该阶梯条件"  # (proposed)
    message_en = "This tier condition is not supported yet"
    field = "tiers.metric"


class PercentOutOfRange(Refusal):
    """C-02: a percentage is 0–10000 bp."""

    code = "percent_out_of_range"
    message_zh = "比例须在0到10000基点之间"  # (proposed)
    message_en = "A percentage must be between 0 and 10000 bp"
    field = "amount.value"


class RulePeriodEmpty(Refusal):
    """A rule's period ends after it begins."""

    code = "rule_period_empty"
    message_zh = "规则失效时间必须晚于生效时间"  # (proposed)
    message_en = "A rule must end after it takes effect"
    field = "effective_to"


# --- value objects -------------------------------------------------------------------------

@dataclass(frozen=True)
class Amount:
    """Fixed fen per unit (package, card, settlement line), or basis points of a base."""

    mode: AmountMode
    value: int


@dataclass(frozen=True)
class RechargeCondition:
    """The card's first recharge, or the sum of its credited recharges, reaches the threshold
    (≥, H-12)."""

    mode: RechargeMode
    threshold_fen: int


@dataclass(frozen=True)
class CountGate:
    """Combined rule: the card's package orders 1…n earn no long-term part; n+1 does (H-23)."""

    n: int
    gate: Literal["count"] = "count"


@dataclass(frozen=True)
class TimeGate:
    """Combined rule: package orders completed at or after `at` earn the long-term part."""

    at: datetime
    gate: Literal["time"] = "time"


Gate = CountGate | TimeGate


@dataclass(frozen=True)
class Tiers:
    """H-28: rows (threshold, value), thresholds from 0 strictly ascending; the value (in the
    rule's amount mode) replaces the rule's amount from its threshold on (inclusive)."""

    metric: TierMetric
    rows: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Scope:
    """Which packages a rule covers: named ones, or every package of a business line."""

    package_ids: tuple[str, ...] = ()
    business_line: str | None = None

    def covers(self, package_id: str, business_line: str | None) -> bool:
        if self.business_line is not None:
            return business_line == self.business_line
        return package_id in self.package_ids


@dataclass(frozen=True)
class OneTimePart:
    """The one-time part of a combined rule (H-22): its amount and recharge condition."""

    amount: Amount
    recharge: RechargeCondition


# --- rules --------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RuleBase:
    """Fields every kind has (H-06)."""

    rule_id: str
    version: int = 1
    agent_id: str
    scope: Scope
    amount: Amount
    freeze_days: int = 7
    requires_approval: bool = True
    tiers: Tiers | None = None
    effective_from: datetime
    effective_to: datetime | None = None
    status: Status = "active"
    retired_at: datetime | None = None

    @property
    def until(self) -> datetime | None:
        """Where its time in force ends: its `effective_to`, or earlier its retirement."""
        ends = [t for t in (self.effective_to, self.retired_at) if t is not None]
        return min(ends) if ends else None

    def in_force(self, at: datetime) -> bool:
        """In force at instant `at`: not a draft, in `[effective_from, until)` (half-open, so a
        version ending where another begins never overlaps it)."""
        return (self.status != "draft" and self.effective_from <= at
                and (self.until is None or at < self.until))


@dataclass(frozen=True, kw_only=True)
class PerOrderRule(RuleBase):
    """The base rebate (H-08): per package unit of a completed order; a percentage of the
    selling agent's cost price snapshot on the order; paid at once by default."""

    kind: Literal["per_order"] = "per_order"
    freeze_days: int = 0
    requires_approval: bool = False


@dataclass(frozen=True, kw_only=True)
class OneTimeRule(RuleBase):
    """Once per card (H-10…H-16): fixed, or a percentage of the qualifying recharge."""

    kind: Literal["one_time"] = "one_time"
    recharge: RechargeCondition


@dataclass(frozen=True, kw_only=True)
class LongTermRule(RuleBase):
    """Per completed package order of the card (H-17/H-18): fixed per package or a percentage
    of that order's cost price; an optional recharge condition."""

    kind: Literal["long_term"] = "long_term"
    recharge: RechargeCondition | None = None


@dataclass(frozen=True, kw_only=True)
class CombinedRule(RuleBase):
    """One-time + long-term with a start gate (H-22/H-23). The rule's `amount` (and tiers) are
    the long-term part's, `recharge` the long-term part's optional condition; `one_time`
    carries the one-time part."""

    kind: Literal["combined"] = "combined"
    one_time: OneTimePart
    gate: Gate
    recharge: RechargeCondition | None = None


@dataclass(frozen=True, kw_only=True)
class NumberCardRule(RuleBase):
    """Number-card settlement (H-32…H-35): fixed per card or a percentage of the settlement
    line; frozen until first recharge, tenure and not-三无 hold, invalid after the deadline."""

    kind: Literal["number_card_settlement"] = "number_card_settlement"
    freeze_days: int = 0
    first_recharge_fen: int = 0
    min_tenure_days: int = 0
    require_not_sanwu: bool = True
    conditions_deadline_days: int = 90


Rule = PerOrderRule | OneTimeRule | LongTermRule | CombinedRule | NumberCardRule


def periods_meet(a: RuleBase, b: RuleBase) -> bool:
    """Their times in force share an instant (half-open periods; an empty one meets none)."""
    a_end, b_end = a.until, b.until
    if (a_end is not None and a_end <= a.effective_from) or (
            b_end is not None and b_end <= b.effective_from):
        return False
    return ((b_end is None or a.effective_from < b_end)
            and (a_end is None or b.effective_from < a_end))


def scopes_meet(a: Scope, b: Scope, line_of: Mapping[str, str]) -> bool:
    """They cover a common package: a line covers every package of that line (`line_of` maps
    the named packages to their line)."""
    if a.business_line is not None and b.business_line is not None:
        return a.business_line == b.business_line
    if a.business_line is not None or b.business_line is not None:
        line = a.business_line or b.business_line
        named = b.package_ids if a.business_line is not None else a.package_ids
        return any(line_of.get(p) == line for p in named)
    return bool(set(a.package_ids) & set(b.package_ids))


def overlaps(a: Rule, b: Rule, line_of: Mapping[str, str]) -> bool:
    """H-07: two rules that would both be in force for one agent and package at an instant."""
    return (a.agent_id == b.agent_id and a.kind == b.kind
            and a.status != "draft" and b.status != "draft"
            and periods_meet(a, b) and scopes_meet(a.scope, b.scope, line_of))


# --- validation ---------------------------------------------------------------------------

def _check_amount(amount: Amount, field: str = "amount.value") -> None:
    if amount.mode == "percent" and not 0 <= amount.value <= BP_PER_WHOLE:
        raise PercentOutOfRange(field=field)


def check_tiers(tiers: Tiers, mode: AmountMode) -> None:
    """H-25/H-28: deposit is refused; thresholds from 0, strictly ascending; values in mode."""
    if tiers.metric == "deposit":
        raise TierMetricUnsupported()
    thresholds = [t for t, _ in tiers.rows]
    if (not thresholds or thresholds[0] != 0
            or any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False))):
        raise InvalidTiers()
    for i, (_, value) in enumerate(tiers.rows):
        if value < 0 or (mode == "percent" and value > BP_PER_WHOLE):
            raise InvalidTierValue(field=f"tiers.rows.{i}")


def _traffic_cap(amount: Amount, recharge: RechargeCondition, tiers: Tiers | None,
                 field: str) -> None:
    """H-14: a fixed traffic-card one-time amount (or tier value) above the threshold."""
    if amount.mode != "fixed":
        return  # a percentage of the recharge never exceeds it
    values = [amount.value, *(v for _, v in (tiers.rows if tiers else ()))]
    if any(v > recharge.threshold_fen for v in values):
        raise OneTimeExceedsRecharge(field=field)


def validate(rule: Rule, lines: frozenset[str]) -> None:
    """What no rule may be. `lines` are the business lines its scope reaches (the line, or
    those of its packages): a rule reaching traffic cards has the one-time cap (H-14)."""
    _check_amount(rule.amount)
    if rule.effective_to is not None and rule.effective_to <= rule.effective_from:
        raise RulePeriodEmpty()
    if rule.tiers is not None:
        check_tiers(rule.tiers, rule.amount.mode)
    traffic = "traffic_card" in lines
    if isinstance(rule, OneTimeRule) and traffic:
        _traffic_cap(rule.amount, rule.recharge, rule.tiers, "amount.value")
    if isinstance(rule, CombinedRule):
        _check_amount(rule.one_time.amount, "one_time.amount.value")
        if traffic:
            _traffic_cap(rule.one_time.amount, rule.one_time.recharge, None,
                         "one_time.amount.value")


# --- row mapping --------------------------------------------------------------------------

def _recharge_json(r: RechargeCondition | None) -> dict[str, Any] | None:
    return None if r is None else {"mode": r.mode, "threshold_fen": r.threshold_fen}


def _recharge(d: Mapping[str, Any] | None) -> RechargeCondition | None:
    return None if d is None else RechargeCondition(d["mode"], int(d["threshold_fen"]))


def terms_of(rule: Rule) -> dict[str, Any]:
    """The kind's own terms, as stored in the `terms` jsonb column."""
    if isinstance(rule, OneTimeRule | LongTermRule):
        return {"recharge": _recharge_json(rule.recharge)}
    if isinstance(rule, CombinedRule):
        gate: dict[str, Any] = ({"gate": "count", "n": rule.gate.n}
                                if isinstance(rule.gate, CountGate)
                                else {"gate": "time", "at": rule.gate.at.isoformat()})
        return {"recharge": _recharge_json(rule.recharge), "gate": gate,
                "one_time": {"amount": {"mode": rule.one_time.amount.mode,
                                        "value": rule.one_time.amount.value},
                             "recharge": _recharge_json(rule.one_time.recharge)}}
    if isinstance(rule, NumberCardRule):
        return {"first_recharge_fen": rule.first_recharge_fen,
                "min_tenure_days": rule.min_tenure_days,
                "require_not_sanwu": rule.require_not_sanwu,
                "conditions_deadline_days": rule.conditions_deadline_days}
    return {}


def to_row(rule: Rule) -> dict[str, Any]:
    """The `commission_rules` columns of a rule (jsonb columns as plain dicts)."""
    return {
        "rule_id": rule.rule_id, "version": rule.version, "agent_id": rule.agent_id,
        "kind": rule.kind, "package_ids": list(rule.scope.package_ids),
        "business_line": rule.scope.business_line, "amount_mode": rule.amount.mode,
        "amount_value": rule.amount.value, "freeze_days": rule.freeze_days,
        "requires_approval": rule.requires_approval, "terms": terms_of(rule),
        "tiers": None if rule.tiers is None else {
            "metric": rule.tiers.metric, "rows": [list(r) for r in rule.tiers.rows]},
        "effective_from": rule.effective_from, "effective_to": rule.effective_to,
        "status": rule.status, "retired_at": rule.retired_at,
    }


def _gate(d: Mapping[str, Any]) -> Gate:
    if d["gate"] == "count":
        return CountGate(int(d["n"]))
    return TimeGate(datetime.fromisoformat(d["at"]))


def from_row(row: Mapping[str, Any]) -> Rule:
    """The rule a `commission_rules` row holds."""
    t: Mapping[str, Any] = row.get("terms") or {}
    tiers = row.get("tiers")
    common: dict[str, Any] = {
        "rule_id": row["rule_id"], "version": row["version"], "agent_id": row["agent_id"],
        "scope": Scope(tuple(row.get("package_ids") or ()), row.get("business_line")),
        "amount": Amount(row["amount_mode"], int(row["amount_value"])),
        "freeze_days": row["freeze_days"], "requires_approval": row["requires_approval"],
        "tiers": None if tiers is None else Tiers(
            tiers["metric"], tuple((int(a), int(b)) for a, b in tiers["rows"])),
        "effective_from": row["effective_from"], "effective_to": row.get("effective_to"),
        "status": row["status"], "retired_at": row.get("retired_at"),
    }
    kind = row["kind"]
    if kind == "per_order":
        return PerOrderRule(**common)
    if kind == "one_time":
        recharge = _recharge(t["recharge"])
        assert recharge is not None  # noqa: S101 — a one-time rule always has one
        return OneTimeRule(**common, recharge=recharge)
    if kind == "long_term":
        return LongTermRule(**common, recharge=_recharge(t.get("recharge")))
    if kind == "combined":
        part = t["one_time"]
        one_recharge = _recharge(part["recharge"])
        assert one_recharge is not None  # noqa: S101
        return CombinedRule(**common, recharge=_recharge(t.get("recharge")),
                            gate=_gate(t["gate"]),
                            one_time=OneTimePart(Amount(part["amount"]["mode"],
                                                        int(part["amount"]["value"])),
                                                 one_recharge))
    return NumberCardRule(
        **common, first_recharge_fen=int(t.get("first_recharge_fen", 0)),
        min_tenure_days=int(t.get("min_tenure_days", 0)),
        require_not_sanwu=bool(t.get("require_not_sanwu", True)),
        conditions_deadline_days=int(t.get("conditions_deadline_days", 90)))
