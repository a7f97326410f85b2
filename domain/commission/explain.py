"""Why a commission line has its amount (H-39), pure: the explanation the evaluation stored on
the record (jsonb, keys `base`, `amount`, `tier`, `conditions`, `formula`, `cap`) read
defensively — a missing or malformed key is simply absent — plus one sentence in Chinese and
one in English a person reads. The record's history (who moved it, when) is added by the API
from the audit trail (C-08).

Stored shape (written by the evaluation):
`base` {source, amount_fen, ref}; `amount` {mode fixed|percent, value}; `tier` {metric,
metric_value, threshold, value} | null; `conditions` [{name, met_at, event_id, detail}];
`formula` "6000 × 500 bp = 300.00 → 300 (half-up)"; `cap` {recharge_fen} | null."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ROUNDING = "half-up to the fen (C-03)"
KIND_ZH = {"per_order": "按单返佣", "one_time": "一次性佣金", "long_term": "长期分佣",
           "combined": "组合佣金", "number_card_settlement": "号卡佣金",
           "number_card": "号卡佣金", "price_difference": "差价"}
SOURCE_ZH = {"cost_price": "成本价快照", "recharge": "充值", "settlement_line": "结算明细",
             "package_price": "套餐价"}
METRIC_ZH = {"pickup_volume": "提货量", "activation_count": "激活数", "deposit": "充值额"}


@dataclass(frozen=True)
class Base:
    source: str | None
    amount_fen: int | None
    ref: str | None


@dataclass(frozen=True)
class AmountRule:
    mode: str
    value: int


@dataclass(frozen=True)
class Tier:
    metric: str | None
    metric_value: int | None
    threshold: int | None
    value: int | None


@dataclass(frozen=True)
class Condition:
    name: str
    met_at: str | None
    event_id: str | None
    detail: str | None


@dataclass(frozen=True)
class Explanation:
    """A record's explanation, normalised; `sentence_zh`/`sentence_en`: why this amount."""

    rule_id: str
    rule_version: int
    kind: str
    part: str
    amount_fen: int
    base: Base | None
    amount: AmountRule | None
    tier: Tier | None
    conditions: list[Condition] = field(default_factory=list)
    formula: str | None = None
    cap: int | None = None
    rounding: str = ROUNDING
    sentence_zh: str = ""
    sentence_en: str = ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _map(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def percent_formula(base_fen: int, bp: int, result_fen: int) -> str:
    """`6000 × 500 bp = 300.00 → 300 (half-up)`: the exact product in fen and its rounding."""
    whole, rest = divmod(base_fen * bp, 10_000)
    decimals = f"{rest:04d}".rstrip("0").ljust(2, "0")
    return f"{base_fen} × {bp} bp = {whole}.{decimals} → {result_fen} (half-up)"


def _base(raw: Mapping[str, Any]) -> Base | None:
    found = _map(raw.get("base"))
    if found is None:
        return None
    return Base(_str(found.get("source")), _int(found.get("amount_fen")), _str(found.get("ref")))


def _amount(raw: Mapping[str, Any]) -> AmountRule | None:
    found = _map(raw.get("amount"))
    if found is None or found.get("mode") not in ("fixed", "percent"):
        return None
    value = _int(found.get("value"))
    return None if value is None else AmountRule(str(found["mode"]), value)


def _tier(raw: Mapping[str, Any]) -> Tier | None:
    found = _map(raw.get("tier"))
    if found is None:
        return None
    return Tier(_str(found.get("metric")), _int(found.get("metric_value")),
                _int(found.get("threshold")), _int(found.get("value")))


def _conditions(raw: Mapping[str, Any]) -> list[Condition]:
    items = raw.get("conditions")
    if not isinstance(items, list):
        return []
    return [Condition(str(c.get("name", "?")), _str(c.get("met_at")), _str(c.get("event_id")),
                      _str(c.get("detail"))) for c in items if isinstance(c, Mapping)]


def _formula(raw: Mapping[str, Any], base: Base | None, amount: AmountRule | None,
             amount_fen: int) -> str | None:
    if isinstance(raw.get("formula"), str):
        return str(raw["formula"])
    if amount is None:
        return None
    if amount.mode == "fixed":
        return f"fixed {amount.value} fen"
    if base is not None and base.amount_fen is not None:
        return percent_formula(base.amount_fen, amount.value, amount_fen)
    return None


def explain(rule_id: str, rule_version: int, kind: str, part: str, amount_fen: int,
            stored: Mapping[str, Any] | None) -> Explanation:
    """The record's explanation from what the evaluation stored (robust to missing keys)."""
    raw: Mapping[str, Any] = stored if isinstance(stored, Mapping) else {}
    base, amount, tier = _base(raw), _amount(raw), _tier(raw)
    cap_map = _map(raw.get("cap"))
    cap = None if cap_map is None else _int(cap_map.get("recharge_fen"))
    made = Explanation(rule_id, rule_version, kind, part, amount_fen, base, amount, tier,
                       _conditions(raw), _formula(raw, base, amount, amount_fen), cap)
    return Explanation(**{**made.__dict__, "sentence_zh": sentence_zh(made),
                          "sentence_en": sentence_en(made)})


def _pct(bp: int) -> str:
    whole, rest = divmod(bp, 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


def sentence_en(x: Explanation) -> str:
    """Why this amount, in English."""
    parts = [f"Rule {x.rule_id} v{x.rule_version} ({x.kind}, part {x.part})"]
    if x.amount is not None and x.amount.mode == "percent":
        of = (f" of {x.base.amount_fen} fen ({x.base.source or 'base'})"
              if x.base is not None and x.base.amount_fen is not None else "")
        parts.append(f"pays {_pct(x.amount.value)}{of}")
    elif x.amount is not None:
        parts.append(f"pays a fixed {x.amount.value} fen")
    if x.tier is not None:
        parts.append(f"tier ≥ {x.tier.threshold} reached with {x.tier.metric} = "
                     f"{x.tier.metric_value} (value {x.tier.value})")
    parts += [f"condition {c.name} met at {c.met_at or '?'} by event {c.event_id or '?'}"
              for c in x.conditions]
    if x.cap is not None:
        parts.append(f"capped at the recharge of {x.cap} fen")
    if x.formula:
        parts.append(x.formula)
    return "; ".join(parts) + f": {x.amount_fen} fen, rounded {x.rounding}."


def sentence_zh(x: Explanation) -> str:
    """Why this amount, in Chinese."""
    parts = [f"规则 {x.rule_id} 第 {x.rule_version} 版（{KIND_ZH.get(x.kind, x.kind)}）"]
    if x.amount is not None and x.amount.mode == "percent":
        of = (f"按{SOURCE_ZH.get(x.base.source or '', x.base.source or '基数')} "
              f"{x.base.amount_fen} 分的 " if x.base is not None
              and x.base.amount_fen is not None else "按 ")
        parts.append(f"{of}{_pct(x.amount.value)} 计算")
    elif x.amount is not None:
        parts.append(f"固定 {x.amount.value} 分")
    if x.tier is not None:
        metric = METRIC_ZH.get(x.tier.metric or "", x.tier.metric or "")
        parts.append(f"{metric} {x.tier.metric_value} 达到阶梯 {x.tier.threshold}"
                     f"（取值 {x.tier.value}）")
    parts += [f"条件「{c.name}」于 {c.met_at or '?'} 由事件 {c.event_id or '?'} 满足"
              for c in x.conditions]
    if x.cap is not None:
        parts.append(f"不超过充值金额 {x.cap} 分")
    if x.formula:
        parts.append(x.formula)
    return "；".join(parts) + f"：佣金 {x.amount_fen} 分（四舍五入到分）。"
