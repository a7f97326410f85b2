"""Delivery projects as the engine's API shows them (§6.4 … §6.6): start, node actions,
administrators' changes, claims and the queue. d-console's rich reads live elsewhere."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Strict

Remark = Annotated[str, Field(max_length=500)]


class PurchaseCreate(Strict):
    product_id: str = Field(min_length=1, max_length=64)
    business_no: str = Field(default="", max_length=64)


class ProjectCreate(Strict):
    order_no: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    customer_name: str = Field(min_length=1, max_length=100)
    customer_user_id: str | None = Field(default=None, max_length=64)
    channel: str = Field(default="", max_length=50)
    business_no: str = Field(default="", max_length=64)
    order_id: str | None = Field(default=None, max_length=64)


class RunPublic(BaseModel):
    run_id: int
    epoch: int
    node_key: str
    kind: str
    name: str
    side: str
    role: str | None
    state: str
    operator_user_id: str | None
    entered_at: datetime
    done_at: datetime | None
    done_by: str | None
    deadline_at: datetime | None = Field(description="I-41: null without a timeout")
    deadline_unknown: bool = Field(description="the calendar does not reach the deadline yet")
    timed_out_at: datetime | None = Field(description="I-42: the due instant once reached")
    timeout_side: str | None = Field(description="provider (服务端超时) or customer (客户端超时)")


class LogPublic(BaseModel):
    epoch: int
    node_key: str | None
    action: str
    actor_name: str
    actor_role: str
    remark: str
    at: datetime


class ProjectPublic(BaseModel):
    project_id: str
    order_no: str
    business_no: str
    product_id: str
    template_id: str
    vendor_id: str
    provider_id: str | None
    customer_user_id: str | None
    customer_name: str
    status: Literal["in_progress", "paused", "completed", "cancelled"]
    epoch: int
    claimed_by: str | None
    pause_remark: str | None
    evaluation: dict[str, Any] | None
    created_at: datetime
    current: RunPublic | None
    runs: list[RunPublic]
    log: list[LogPublic]


class ConfirmBody(Strict):
    remark: Remark = ""
    detail: dict[str, Any] | None = Field(
        default=None, description="a card-order node's effect (I-63): ship_cards "
        '`{"iccids": [...], "logistics_no": "..."}`, activate_cards `{"failures": '
        '[{"iccid", "reason"}]}`')


class RejectBody(Strict):
    reason: Remark


class RequirementBody(Strict):
    answers: dict[str, Any] = Field(description="the requirement form's answers (I-16)")


class PauseBody(Strict):
    remark: Remark = ""


class CancelBody(Strict):
    remark: Remark = ""


class ProviderChange(Strict):
    provider_id: str = Field(min_length=1, max_length=64)
    remark: Remark = ""


class OperatorChange(Strict):
    user_id: str = Field(min_length=1, max_length=64)
    remark: Remark = ""


class ClaimBody(Strict):
    order_no: str = Field(min_length=1, max_length=64, description="the MSP order number")


class Claimed(BaseModel):
    project_id: str


class EvaluationBody(Strict):
    stars: int = Field(ge=1, le=5)
    text: Remark = ""


class QueueEntryPublic(BaseModel):
    project_id: str
    order_no: str
    product_id: str
    kind: str
    node_key: str
    provider_id: str | None
    reason: str = Field(description="I-35/I-36 queue reason")
    queued_at: datetime
    last_attempt_at: datetime = Field(description="the last assignment attempt (I-37)")


class AssignBody(Strict):
    kind: Literal["provider", "staff"]
    product_id: str | None = Field(default=None, max_length=64)


class Assigned(BaseModel):
    assigned: int = Field(description="how many queued projects were assigned")
