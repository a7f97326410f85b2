"""SM-I-PROJECT, SM-I-NODE and SM-I-QUEUE (specs/business.md §6.4 … §6.6) as pure tables: state ×
event → next state and who may cause it; the flow-log texts (I-50), the queue reasons (I-35,
I-36) and the refusals of the delivery engine, with the spec's messages byte for byte.

The store applies a step as one compare-and-set on the row's state under the project's lock
(`store/delivery/projects.py`). Who acts: `system` (the engine, timers), `customer`, the node's
`operator`, and the platform / tenant roles of `domain.people.rules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from domain.refusals import Refusal

ProjectState = Literal["in_progress", "paused", "completed", "cancelled"]
RunState = Literal["active", "queued", "done", "rejected", "abandoned"]
QueueKind = Literal["provider", "staff"]
NEW: Final = "—"  # before the row exists
GONE: Final = "removed"  # the queue entry is deleted
LIVE: Final[tuple[ProjectState, ...]] = ("in_progress", "paused")
CLOSED: Final[frozenset[str]] = frozenset({"completed", "cancelled"})


@dataclass(frozen=True)
class Actor:
    """Who acts, as the flow log shows it (I-50)."""

    user_id: str | None  # None = 系统
    name: str  # display name, '系统' for the system, '小二' for platform staff
    role: str = ""  # the business role shown in the flow log


SYSTEM: Final = Actor(None, "系统")
PLATFORM_NAME: Final = "小二"


@dataclass(frozen=True)
class Step:
    to: str
    who: frozenset[str]


def _s(to: str, *who: str) -> Step:
    return Step(to, frozenset(who))


_ADMINS = ("admin", "platform_operator")
PROJECT: Final[Mapping[tuple[str, str], Step]] = {
    (NEW, "start"): _s("in_progress", "system", *_ADMINS, "vendor_admin"),
    ("in_progress", "pause"): _s("paused", "provider_admin", "vendor_admin", "admin"),
    ("paused", "resume"): _s("in_progress", "provider_admin", "vendor_admin", "admin"),
    ("in_progress", "complete"): _s("completed", "customer", "system"),
    ("in_progress", "change_provider"): _s("in_progress", "vendor_admin", *_ADMINS),
    ("paused", "change_provider"): _s("in_progress", "vendor_admin", *_ADMINS),
    ("in_progress", "change_operator"): _s("in_progress", "provider_admin", "vendor_admin",
                                           "admin"),
    ("paused", "change_operator"): _s("paused", "provider_admin", "vendor_admin", "admin"),
    ("in_progress", "cancel"): _s("cancelled", "system", "vendor_admin", *_ADMINS),
    ("paused", "cancel"): _s("cancelled", "system", "vendor_admin", *_ADMINS),
}

NODE: Final[Mapping[tuple[str, str], Step]] = {
    (NEW, "enter"): _s("active", "system"),
    ("active", "no_candidate"): _s("queued", "system"),
    ("queued", "assigned"): _s("done", "system", "vendor_admin", "provider_admin"),
    ("active", "assigned"): _s("done", "system"),
    ("active", "confirm"): _s("done", "operator", "customer", "system"),
    ("active", "reject"): _s("rejected", "operator", "customer"),
    ("active", "timed_out"): _s("active", "system"),
    ("active", "change_operator"): _s("active", "provider_admin", "vendor_admin", "admin"),
    ("active", "abandon"): _s("abandoned", "system"),
    ("queued", "abandon"): _s("abandoned", "system"),
}

QUEUE: Final[Mapping[tuple[str, str], Step]] = {
    (NEW, "no_candidate"): _s("queued", "system"),
    ("queued", "assigned"): _s(GONE, "system", "vendor_admin", "provider_admin",
                               "platform_operator", "admin"),
    ("queued", "none_found"): _s("queued", "system"),
    ("queued", "cancelled"): _s(GONE, "system"),
}

# Who may trigger a manual 分单 of each queue (SM-I-QUEUE).
QUEUE_ASSIGNERS: Final[Mapping[QueueKind, frozenset[str]]] = {
    "provider": frozenset({"vendor_admin", "platform_operator", "admin"}),
    "staff": frozenset({"provider_admin", "vendor_admin", "admin"}),
}


def project_step(state: str, event: str) -> Step:
    """The project's next state for `event`, or the refusal the spec gives."""
    step = PROJECT.get((state, event))
    if step is None:
        if state in CLOSED:
            raise ProjectClosed
        if event == "resume":
            raise NotPaused
        raise ProjectPaused if state == "paused" else WrongState(
            f"{event} is not possible in state {state}")
    return step


# Flow-log texts (I-50), byte for byte.
PROJECT_STARTED: Final = "项目开始"
CHANGE_OPERATOR: Final = "更换操作人"
# The log lines of the actions the seed names only by their button (I-43, I-54, I-51).
PAUSED: Final = "暂停项目"
RESUMED: Final = "启动项目"
CANCELLED: Final = "取消项目"
EVALUATED: Final = "提交评价"


def entered(node: str) -> str:
    return f"进入{node}"


def completed(node: str) -> str:
    return f"{node}已完成"


def rejected(node: str) -> str:
    return f"{node} 未通过"


def provider_changed(old: str, new: str) -> str:
    return f"服务商由{old}更换为{new}"


# Queue reasons (I-35, I-36, AMB-36), byte for byte.
PROVIDERS_FULL: Final = "所有服务商员工持单量已满"
NO_PROVIDER: Final = "产品未配置服务商"
NO_STAFF: Final = "没有找到可接单的服务商员工"


class ProjectClosed(Refusal):
    code = "project_closed"
    message_zh = "项目已完结"
    message_en = "The project is closed"


class ProjectPaused(Refusal):
    code = "project_paused"
    message_zh = "项目已暂停"
    message_en = "The project is paused"


class NotPaused(Refusal):
    code = "project_not_paused"
    message_zh = "项目未暂停"
    message_en = "The project is not paused"


class WrongState(Refusal):
    code = "wrong_state"
    message_zh = "当前状态不允许该操作"
    message_en = "The action is not possible in the current state"


class NotCurrent(Refusal):
    code = "node_not_current"
    message_zh = "该节点不是项目的当前节点"
    message_en = "The node is not the project's current node"


class NoProviderOperator(Refusal):
    code = "no_provider_operator"
    message_zh = "当前节点不由服务商员工操作"
    message_en = "The current node is not operated by provider staff"


class NotConfirmable(Refusal):
    code = "node_not_confirmable"
    message_zh = "该节点不能由人工确认"
    message_en = "The node cannot be confirmed by a person"


class NotRejectable(Refusal):
    code = "node_not_rejectable"
    message_zh = "该节点不可驳回"
    message_en = "The node cannot be rejected"


class ReasonRequired(Refusal):
    code = "reason_required"
    message_zh = "请填写驳回原因"
    message_en = "Give a reason for the rejection"
    field = "reason"


class RemarkRequired(Refusal):
    code = "remark_required"
    message_zh = "请填写备注"
    message_en = "A remark is required"
    field = "remark"


class RequirementFormMissing(Refusal):
    code = "requirement_form_missing"
    message_zh = "请先填写需求表单"
    message_en = "Fill in the requirement form first"


class RoleMismatch(Refusal):
    code = "role_mismatch"
    message_zh = "只能在同一角色下更换操作人"
    message_en = "The operator can only be changed within the same role"
    field = "user_id"


class OperatorLoadFull(Refusal):
    code = "operator_load_full"
    message_zh = "所选员工持单量已满"
    message_en = "The selected staff member's load is full"


class ProviderLoadFull(Refusal):
    code = "provider_load_full"
    message_zh = "所选服务商持单量已满"
    message_en = "The selected provider's load is full"


class ProviderNotConfigured(Refusal):
    code = "provider_not_configured"
    message_zh = "所选服务商不是该产品的服务商"
    message_en = "The selected provider is not configured for the product"
    field = "provider_id"


class SameProvider(Refusal):
    code = "same_provider"
    message_zh = "请选择其他服务商"
    message_en = "Choose another provider"
    field = "provider_id"


class NotClaimable(Refusal):
    code = "order_not_claimable"
    message_zh = "订单不存在或不在待认领状态"
    message_en = "The order does not exist or is not awaiting claim"


class ClaimRoleMismatch(Refusal):
    code = "claim_role_mismatch"
    message_zh = "您的角色不能认领该订单"
    message_en = "Your role cannot claim this order"


class NotOperator(Refusal):
    """I-51: only the node's operator (or the customer on customer nodes) acts — 403."""

    code = "not_operator"
    message_zh = "您不是该节点的操作人"
    message_en = "You are not the operator of this node"


class NoTemplate(Refusal):
    code = "product_without_template"
    message_zh = "产品未绑定已发布的服务流程模板"
    message_en = "The product has no published service-flow template"


class NotForSale(Refusal):
    code = "product_not_for_sale"
    message_zh = "卡订单商品请通过购卡下单"
    message_en = "A card-order product is bought through a card purchase"


class UnknownCustomer(Refusal):
    code = "unknown_customer"
    message_zh = "客户账号不存在"
    message_en = "The customer account does not exist"
    field = "customer_user_id"


class AlreadyEvaluated(Refusal):
    code = "already_evaluated"
    message_zh = "项目已评价"
    message_en = "The project has already been evaluated"


class NotCompleted(Refusal):
    code = "project_not_completed"
    message_zh = "项目完成后才能评价"
    message_en = "A project can be evaluated once it is completed"
