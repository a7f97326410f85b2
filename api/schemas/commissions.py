"""Commission records, their explanations and unfreeze approvals (spec §5.7: SM-H-COMM,
SM-H-APPROVAL, H-39, H-40, H-34, H-09). Amounts are integer fen (C-01), rates basis points."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Strict

State = Literal["awaiting_conditions", "frozen", "unfreezing", "available", "invalid",
                "rejected", "reversed"]
ApprovalState = Literal["pending", "approved", "rejected", "closed"]


class CommissionPublic(BaseModel):
    record_id: str
    part: str = Field(description="per_order, one_time, long_term or number_card")
    rule_kind: str
    rule_id: str
    rule_version: int
    agent_id: str
    iccid: str | None
    order_id: str | None
    unit: int | None
    batch_id: str | None
    line_no: int | None
    amount_fen: int
    state: State
    freeze_days: int
    requires_approval: bool
    source_account: str = Field(description="where the money comes from (ledger account)")
    produced_at: datetime
    frozen_at: datetime | None
    unfreeze_due_at: datetime | None = Field(description="H-13: frozen_at + freeze_days × 24 h")
    unfreezing_at: datetime | None = Field(description="stamped with the due instant (C-09)")
    available_at: datetime | None
    closed_at: datetime | None
    reason: str | None


class CommissionPage(BaseModel):
    items: list[CommissionPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: "
                                                "this was the last")


class BasePublic(BaseModel):
    source: str | None = Field(description="cost_price, recharge, settlement_line, …")
    amount_fen: int | None
    ref: str | None = Field(description="the order, recharge or settlement line it came from")


class AmountPublic(BaseModel):
    mode: Literal["fixed", "percent"]
    value: int = Field(description="fen (fixed) or basis points (percent)")


class TierPublic(BaseModel):
    metric: str | None
    metric_value: int | None
    threshold: int | None
    value: int | None


class ConditionPublic(BaseModel):
    name: str
    met_at: str | None
    event_id: str | None
    detail: str | None


class ExplanationPublic(BaseModel):
    """H-39: why this amount."""

    rule_id: str
    rule_version: int
    kind: str
    part: str
    amount_fen: int
    base: BasePublic | None
    amount: AmountPublic | None
    tier: TierPublic | None
    conditions: list[ConditionPublic]
    formula: str | None
    cap: int | None = Field(description="the traffic-card cap (the recharge, fen) if applied")
    rounding: str
    sentence_zh: str
    sentence_en: str


class HistoryPublic(BaseModel):
    """A state change of the record or of its approval (C-08)."""

    subject: Literal["commission", "commission_approval"]
    from_state: str | None
    to_state: str
    actor: str
    role: str
    at: datetime
    reason: str | None


class CommissionDetail(CommissionPublic):
    explanation: ExplanationPublic
    stored_explanation: dict[str, Any] = Field(description="as the evaluation stored it")
    history: list[HistoryPublic]


class StateTotal(BaseModel):
    state: State
    records: int
    amount_fen: int


class KindTotal(BaseModel):
    kind: str = Field(description="the record's part, or `price_difference` (H-09)")
    records: int
    amount_fen: int
    by_state: list[StateTotal]


class AgentTotal(BaseModel):
    agent_id: str
    records: int
    amount_fen: int
    by_state: list[StateTotal]


class BatchTotal(BaseModel):
    """H-34 per settlement batch: what its agents keep and what returned to the platform."""

    batch_id: str
    records: int
    agent_commission_fen: int = Field(description="awaiting, frozen, unfreezing, available")
    returned_fen: int = Field(description="invalid, rejected, reversed: back to the platform")
    by_state: list[StateTotal]


class CommissionSummary(BaseModel):
    month: str
    timezone: str
    agent_id: str | None
    by_state: list[StateTotal] = Field(description="every state, zeros included (H-40)")
    by_kind: list[KindTotal]
    by_agent: list[AgentTotal] = Field(description="platform view, no agent_id: per agent")
    by_batch: list[BatchTotal] = Field(description="platform view, no agent_id: per batch")


class PriceDifferencePublic(BaseModel):
    """A price difference the agent was paid (H-09): kind `price_difference`, never frozen."""

    kind: Literal["price_difference"] = "price_difference"
    transfer_id: str
    order_id: str | None
    amount_fen: int
    reversed_fen: int
    state: Literal["available", "reversed"]
    at: datetime


class ApprovalPublic(BaseModel):
    approval_id: str
    record_id: str
    state: ApprovalState
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None


class QueuedApprovalPublic(ApprovalPublic):
    agent_id: str
    amount_fen: int
    part: str
    rule_kind: str
    iccid: str | None
    order_id: str | None
    batch_id: str | None


Reason = Annotated[str | None, Field(max_length=200)]


class ApprovalRejection(Strict):
    reason: Reason = Field(default=None, description="required (422 `reason_required`)")


class ApprovalBatch(Strict):
    approval_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]],
                            Field(min_length=1, max_length=500)]
    decision: Literal["approve", "reject"]
    reason: Reason = Field(default=None, description="required to reject")
