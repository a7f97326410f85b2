"""What a person may read of delivery projects, and how a project's state reads (I-38, I-39,
I-46 … I-53, §7.2 "I delivery", X-03): pure decisions the store's queries and the console use.

- `scope_of`: whose projects a role sees — the platform all, a vendor its products' projects
  (its admin also those it provides, I-02), a provider admin the projects assigned to its
  tenant, staff the projects they hold, held, acted on or that wait for them, a customer the
  projects bought.
- `step_states`: the steps "第1步 … 第n步" of a project with each one's state and times.
- the refusals of messages, notes and closed projects, with the spec's words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from domain.delivery.nodes import Node, steps
from domain.refusals import Refusal

Tab = Literal["in_progress", "completed", "paused", "cancelled"]
TABS: Final[tuple[Tab, ...]] = ("in_progress", "completed", "paused", "cancelled")
MineTab = Literal["pending", "done"]
ScopeKind = Literal["all", "vendor", "vendor_provider", "provider", "staff", "customer"]
PLATFORM: Final = ("admin", "platform_ops", "platform_operator", "platform_finance")
MAX_TEXT: Final = 500  # I-48, I-49
CLOSED: Final = ("completed", "cancelled")


@dataclass(frozen=True)
class Scope:
    """The projects one person may read: `kind` with the tenant or user it is relative to."""

    kind: ScopeKind
    tenant_id: str | None = None
    user_id: str | None = None


def scope_of(role: str, tenant_id: str | None, user_id: str | None) -> Scope | None:
    """Whose projects `role` reads (None: no delivery project at all → 403)."""
    if role in PLATFORM:
        return Scope("all")
    if role == "vendor_admin" and tenant_id:
        return Scope("vendor_provider", tenant_id, user_id)
    if role == "vendor_pm" and tenant_id:
        return Scope("vendor", tenant_id, user_id)
    if role == "provider_admin" and tenant_id:
        return Scope("provider", tenant_id, user_id)
    if role == "provider_staff" and tenant_id and user_id:
        return Scope("staff", tenant_id, user_id)
    if role == "customer" and user_id:
        return Scope("customer", None, user_id)
    return None


def is_provider_admin(role: str, tenant_id: str | None, provider_id: str | None) -> bool:
    """The project's provider admin: its provider's admin, or that tenant's main account
    (a vendor admin is its own tenant's provider admin, I-02)."""
    return (role in ("provider_admin", "vendor_admin") and tenant_id is not None
            and tenant_id == provider_id)


def on_provider_side(role: str, tenant_id: str | None, provider_id: str | None) -> bool:
    """A person of the project's provider (admin or staff): writes notes and messages."""
    return (role in ("provider_admin", "provider_staff", "vendor_admin")
            and tenant_id is not None and tenant_id == provider_id)


class ProjectClosed(Refusal):
    code = "project_closed"
    message_zh = "项目已完结"
    message_en = "The project is closed"


class MessageTooLong(Refusal):
    code = "message_too_long"
    message_zh = "留言内容不超过500字"
    message_en = "A message must not exceed 500 characters"
    field = "body"


class NoteTooLong(Refusal):
    code = "note_too_long"
    message_zh = "备注内容不超过500字"
    message_en = "A note must not exceed 500 characters"
    field = "body"


class EmptyText(Refusal):
    code = "text_required"
    message_zh = "请填写内容"
    message_en = "Write something first"
    field = "body"


def check_text(kind: Literal["message", "note"], body: str, status: str) -> str:
    """The text of a message or note as stored, or the refusal (I-48, I-49, SM-I-PROJECT)."""
    if status in CLOSED:
        raise ProjectClosed()
    text = body.strip()
    if not text:
        raise EmptyText()
    if len(text) > MAX_TEXT:
        raise MessageTooLong() if kind == "message" else NoteTooLong()
    return text


StepState = Literal["not_started", "current", "queued", "done", "rejected"]


RUN_STEP: Final[dict[str, StepState]] = {"active": "current", "queued": "queued",
                                          "done": "done", "rejected": "rejected"}


@dataclass(frozen=True)
class RunFact:
    """What a step list needs of one node run."""

    node_key: str
    state: str  # active | queued | done | rejected | abandoned
    side: str
    entered_at: datetime
    done_at: datetime | None


@dataclass(frozen=True)
class Step:
    number: int  # 第n步
    key: str
    name: str
    kind: str
    side: str
    role: str | None
    state: StepState
    entered_at: datetime | None
    done_at: datetime | None


def step_states(nodes: Sequence[Node], runs: Sequence[RunFact]) -> list[Step]:
    """Each step with the state of its latest run in the current epoch (runs oldest first):
    never entered → 未开始; the current run → waiting (or queued); else done or rejected."""
    latest = {run.node_key: run for run in runs}
    out = []
    for number, node in enumerate(steps(nodes), start=1):
        run = latest.get(node.key)
        state = RUN_STEP.get(run.state, "not_started") if run is not None else "not_started"
        out.append(Step(number, node.key, node.name, node.kind, node.side, node.role, state,
                        run.entered_at if run else None,
                        run.done_at if run and state in ("done", "rejected") else None))
    return out


def waiting_for(side: str) -> Literal["customer", "provider", "system"]:
    """Who the current node waits for (I-46 "等待客户处理" / "等待服务商处理")."""
    if side == "customer":
        return "customer"
    return "provider" if side == "provider" else "system"


def waiting_text_zh(node_name: str, side: str) -> str:
    """I-46's words for the current node: "进入{节点} 等待{客户|服务商}处理"."""
    who = {"customer": "客户", "provider": "服务商", "system": "系统"}[waiting_for(side)]
    return f"进入{node_name} 等待{who}处理"


TIMEOUT_NAMES: Final = {"provider": "服务端超时", "customer": "客户端超时"}  # I-39


QueueKind = Literal["provider", "staff"]


def queue_scope(role: str, tenant_id: str | None, kind: QueueKind) -> Scope | None:
    """Whose queue entries `role` reads (§7.2: the provider queue for the vendor's admin and
    project manager, the staff queue for the provider's admin; the platform both)."""
    if role in PLATFORM:
        return Scope("all")
    if kind == "provider" and role in ("vendor_admin", "vendor_pm") and tenant_id:
        return Scope("vendor", tenant_id)
    if kind == "staff" and role in ("provider_admin", "vendor_admin") and tenant_id:
        return Scope("provider", tenant_id)
    return None


def answer_rows(fields: Sequence[Mapping[str, Any]], answers: Mapping[str, Any],
                lang: str) -> list[tuple[str, str]]:
    """A submitted requirement form read back (I-16, I-46): each answer under its field's
    label in the viewer's language, in the form's order; answers to fields the form no longer
    has keep their key as the label, after the others. Lists read "、"-joined."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for f in fields:
        key = str(f.get("key") or f.get("name") or "")
        if not key or key not in answers:
            continue
        label = f.get("label_en" if lang == "en" else "label_zh") or f.get("name") or key
        rows.append((str(label), _answer_text(answers[key])))
        seen.add(key)
    rows += [(k, _answer_text(v)) for k, v in answers.items() if k not in seen]
    return rows


def _answer_text(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)
