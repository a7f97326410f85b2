"""Commission rules (specs/business.md §5.1): the body of a rule or a new version — a
discriminated union on `kind` — and a version as answered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from api.schemas.common import Ident, Strict

Fen = Annotated[int, Field(ge=0, le=10**12, description="integer fen (C-01)")]
Line = Literal["traffic_card", "number_card"]


class AmountIn(Strict):
    mode: Literal["fixed", "percent"]
    value: Annotated[int, Field(ge=0, le=10**12, description="fen when fixed, basis points "
                                                             "(0–10000) when percent (C-02)")]


class RechargeIn(Strict):
    """The card's first recharge (`first`) or the sum of its recharges (`cumulative`) reaches
    `threshold_fen` (≥)."""

    mode: Literal["first", "cumulative"]
    threshold_fen: Annotated[int, Field(gt=0, le=10**12)]


class TierRow(Strict):
    threshold: Annotated[int, Field(ge=0, le=10**12)]
    value: Annotated[int, Field(ge=0, le=10**12)]


class TiersIn(Strict):
    """H-28: thresholds from 0, strictly ascending; the value replaces the rule's amount (same
    mode) once the metric reaches the threshold (inclusive). `deposit` is not supported yet."""

    metric: Literal["pickup_volume", "activation_count", "deposit"]
    rows: Annotated[list[TierRow], Field(max_length=100)]


class CountGateIn(Strict):
    gate: Literal["count"]
    n: Annotated[int, Field(ge=1, le=10_000)]


class TimeGateIn(Strict):
    gate: Literal["time"]
    at: AwareDatetime


class OneTimePartIn(Strict):
    amount: AmountIn
    recharge: RechargeIn


class _RuleBody(Strict):
    """What every kind has (H-06). Scope: `package_ids` or `business_line`, exactly one."""

    rule_id: Ident | None = Field(default=None, description="chosen by the caller; required "
                                  "to create (its natural key, C-05), optional for a version")
    agent_id: Ident
    package_ids: Annotated[list[Ident], Field(max_length=200)] = Field(default_factory=list)
    business_line: Line | None = None
    amount: AmountIn
    freeze_days: Annotated[int, Field(ge=0, le=365)] | None = Field(
        default=None, description="default: 0 per_order / number card, else 7")
    requires_approval: bool | None = Field(
        default=None, description="default: false per_order, else true")
    tiers: TiersIn | None = None
    effective_from: AwareDatetime | None = Field(
        default=None, description="platform clock; default now")
    effective_to: AwareDatetime | None = None
    status: Literal["active", "draft"] = "active"

    @model_validator(mode="after")
    def _one_scope(self) -> _RuleBody:
        if bool(self.package_ids) == (self.business_line is not None):
            raise ValueError("give exactly one scope: package_ids or business_line")
        return self


class PerOrderBody(_RuleBody):
    kind: Literal["per_order"]


class OneTimeBody(_RuleBody):
    kind: Literal["one_time"]
    recharge: RechargeIn


class LongTermBody(_RuleBody):
    kind: Literal["long_term"]
    recharge: RechargeIn | None = None


class CombinedBody(_RuleBody):
    kind: Literal["combined"]
    one_time: OneTimePartIn
    gate: Annotated[CountGateIn | TimeGateIn, Field(discriminator="gate")]
    recharge: RechargeIn | None = Field(default=None,
                                        description="the long-term part's condition")


class NumberCardBody(_RuleBody):
    kind: Literal["number_card_settlement"]
    first_recharge_fen: Annotated[int, Field(ge=0, le=10**12)] = 0
    min_tenure_days: Annotated[int, Field(ge=0, le=3650)] = 0
    require_not_sanwu: bool = True
    conditions_deadline_days: Annotated[int, Field(ge=1, le=3650)] = 90


RuleBody = Annotated[PerOrderBody | OneTimeBody | LongTermBody | CombinedBody | NumberCardBody,
                     Field(discriminator="kind")]


class RulePublic(BaseModel):
    """One version of a rule; `terms` holds the kind's own fields."""

    rule_id: str
    version: int
    agent_id: str
    kind: str
    package_ids: list[str]
    business_line: str | None
    amount: dict[str, Any]
    freeze_days: int
    requires_approval: bool
    tiers: dict[str, Any] | None
    terms: dict[str, Any]
    effective_from: datetime
    effective_to: datetime | None
    retired_at: datetime | None
    status: Literal["draft", "active", "retired"]
