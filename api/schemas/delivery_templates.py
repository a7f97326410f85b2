"""Service-flow templates (§6 I-10 … I-23): the node list as the editor sends it, the template
as answered, the platform's presets, and the publish refusal's violations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Strict


class ReminderBody(Strict):
    """A reminder row (I-20): receiver, trigger, preset message template by name."""

    receiver: str = Field(max_length=32, examples=["customer"])
    trigger: str = Field(max_length=32, examples=["entered"])
    template: str = Field(max_length=100, examples=["项目完成节点-通知客户"])


class NodeBody(BaseModel):
    """A node (I-12 … I-20). Publishing judges the fields (I-22); saving a draft keeps what
    was sent, so a half-made template can be saved."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    kind: str = Field(max_length=32, examples=["confirm"])
    name: str = Field(default="", max_length=50)
    role: str | None = Field(default=None, max_length=50)
    side: str | None = Field(default=None, max_length=16)
    timeout_days: str | int | float | None = Field(
        default=None, description="working days, at most one decimal; 0 or empty: none")
    rejectable: bool = False
    auto_advance: bool = False
    upload: bool = False
    rule: str | None = Field(default=None, max_length=32)
    form_id: str | None = Field(default=None, max_length=64)
    labels: dict[str, str] = Field(default_factory=dict, max_length=10)
    effect: str | None = Field(default=None, max_length=32)
    reminders: list[ReminderBody] = Field(default_factory=list, max_length=20)
    children: list[NodeBody] = Field(default_factory=list, max_length=50)


def nodes_json(nodes: list[NodeBody]) -> list[dict[str, Any]]:
    """The nodes as `dl_templates.nodes` stores them."""
    return [n.model_dump(mode="json", exclude_none=True) for n in nodes]


class TemplateCreate(Strict):
    name: str = Field(default="", max_length=100, description="服务流程名称 (required)")
    description: str = Field(default="", max_length=500)
    nodes: list[NodeBody] = Field(default_factory=list, max_length=50)


class TemplateUpdate(TemplateCreate):
    pass


class TemplatePublic(BaseModel):
    template_id: str
    vendor_id: str | None = Field(description="null: a public template of the platform")
    public: bool
    name: str
    description: str
    status: str = Field(description="unpublished | published")
    nodes: list[dict[str, Any]]
    copied_from: str | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class ViolationPublic(BaseModel):
    node_key: str | None
    field: str
    code: str
    message_zh: str
    message_en: str


class RolePublic(BaseModel):
    name: str
    side: str
    description: str


class MessageTemplatePublic(BaseModel):
    name: str
    node_kind: str
    receiver: str
    body_zh: str
    body_en: str
    remark: str


class RequirementFormPublic(BaseModel):
    form_id: str
    name: str
    fields: list[dict[str, Any]]
