"""Delivery projects as people read them (I-38, I-39, I-46 … I-53): list rows with the current
node and the timeout mark, the detail with steps, operators, requirements and flow log, and a
project's files, messages and notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TimeoutPublic(_Read):
    side: str = Field(description="provider (服务端超时) or customer (客户端超时), I-39")
    label_zh: str
    node_name: str
    deadline_at: datetime | None
    timed_out_at: datetime


class ProjectListItem(_Read):
    project_id: str
    order_no: str
    business_no: str
    product_id: str
    product_no: str
    product_name: str
    version: str
    channel: str
    created_at: datetime
    customer_name: str
    vendor_id: str
    vendor_name: str
    provider_id: str | None
    provider_name: str | None
    status: str
    operator_user_id: str | None = Field(description="the current node's operator, if one")
    operator_name: str | None
    run_id: int | None = Field(description="the current node run (for its actions)")
    node_key: str | None = Field(description="the current node (project stage)")
    node_name: str | None
    node_role: str | None
    node_side: str | None
    node_state: str | None = Field(description="active, or queued (waiting in the queue)")
    waiting_zh: str | None = Field(default=None,
                                   description='I-46: "进入{节点} 等待{客户|服务商}处理"')
    timeout: TimeoutPublic | None = Field(default=None,
                                          description="I-39: the exclamation mark's details")


class ProjectPage(BaseModel):
    items: list[ProjectListItem]
    next_cursor: str | None


class StepPublic(_Read):
    number: int = Field(description="第n步")
    key: str
    name: str
    kind: str
    side: str
    role: str | None
    state: str = Field(description="not_started (未开始), current, queued, done, rejected")
    entered_at: datetime | None
    done_at: datetime | None


class OperatorPublic(_Read):
    user_id: str
    name: str
    business_roles: list[str]
    landline: str
    mobile: str


class RequirementPublic(_Read):
    node_key: str
    form_id: str
    form_name: str
    fields: list[dict[str, Any]] = Field(
        description="The form's fields (key, label_zh, label_en, type …) to label the answers")
    answers: dict[str, Any]
    submitted_at: datetime


class LogPublic(_Read):
    epoch: int
    node_key: str | None
    action: str
    actor_name: str
    actor_role: str
    remark: str
    at: datetime


class ProjectDetail(BaseModel):
    project: ProjectListItem
    pause_remark: str | None
    paused_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    epoch: int
    steps: list[StepPublic]
    operators: list[OperatorPublic]
    requirements: list[RequirementPublic]
    log: list[LogPublic] = Field(description="the flow log since the last change of provider")
    earlier_log: list[LogPublic] = Field(
        description="查看变更前操作记录: the flow log before changes of provider (I-44, I-50)")


class FilePublic(_Read):
    file_id: str
    node_key: str | None
    node_name: str
    name: str
    content_type: str
    size_bytes: int
    sha256: str
    uploader_name: str
    uploader_role: str
    uploaded_at: datetime


class TextCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(max_length=20_000, description="1–500 characters (I-48, I-49)")


class TextPublic(_Read):
    message_id: int
    kind: str
    author_name: str
    body: str
    at: datetime
