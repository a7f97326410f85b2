"""Service-flow templates (I-10 … I-23, SM-I-TEMPLATE): the pure rules.

`violations` is the publish check of I-22: it reads a template's node list as stored (the JSON
of `domain/delivery/nodes.py`, before any interpretation, so that a timeout with two decimals
is still seen as written) and returns *every* violation, each naming its node and field, in
the spec's words where the spec gives them. `with_keys` gives the nodes sent without a key one
(n1, n2, …); `with_start` puts the built-in assign-provider node first on create.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from domain.delivery.nodes import NODE_KINDS, TRIGGER_NAMES

START: Final[Mapping[str, Any]] = {"key": "assign_provider", "kind": "assign_provider",
                                   "name": "分配服务商"}
# I-23: the name suffix of public templates with an assign-order node.
AUTO_ASSIGN_SUFFIX: Final = "子账号自动分单"
MAX_TIMEOUT: Final = Decimal("365.0")
RECEIVERS: Final = ("customer", "operator", "provider_admin", "vendor_admin")
ROLE_KINDS: Final = frozenset({"claim", "assign", "confirm", "general"})
SIDE_KINDS: Final = frozenset({"confirm", "general"})
REJECTABLE_KINDS: Final = frozenset({"confirm", "complete"})
# AMB-35: a node right after one of these has no person to send a rejection back to.
NO_REJECT_AFTER: Final = frozenset({"assign_provider", "assign", "claim"})
EFFECTS: Final = ("ship_cards", "activate_cards")
# Labels a node of each kind needs (I-16 … I-18); absent = the default label, blank = missing.
LABELS: Final[Mapping[str, tuple[str, ...]]] = {
    "submit_requirement": ("submit_label", "view_label"),
    "confirm": ("confirm_label",),
    "general": ("view_label", "confirm_label")}


@dataclass(frozen=True)
class Violation:
    """One thing publishing refuses (I-22): where (node key, field) and why, in zh and en."""

    node_key: str | None
    field: str
    code: str
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class Catalogue:
    """What the platform maintains and templates refer to (I-08): preset roles, message
    templates by name → (node kind, receiver), requirement-form ids."""

    roles: frozenset[str]
    messages: Mapping[str, tuple[str, str]]
    forms: frozenset[str]


MESSAGES: Final[Mapping[str, tuple[str, str]]] = {
    "start": ("分配服务商节点为系统内置起始节点，不可删除",
              "The assign-provider node is the built-in start node and cannot be deleted"),
    "last": ("模板最后一个节点需为完成项目节点",
             "The last node of the template must be a complete-project node"),
    "kind": ("未知的节点类型", "Unknown node type"),
    "key": ("节点标识重复", "The node key is used twice"),
    "name": ("请填写节点名称", "The node needs a name"),
    "role": ("请选择角色", "Choose a role"),
    "role_unknown": ("请选择平台预置的角色", "Choose one of the platform's preset roles"),
    "side": ("请选择操作方", "Choose the acting side"),
    "timeout": ("超时时间取值范围为0.0-365.0", "A timeout ranges 0.0–365.0 days"),
    "timeout_decimals": ("超时时间最多保留1位小数", "A timeout keeps at most 1 decimal"),
    "label": ("请填写按钮名称", "The button needs a label"),
    "reject_label": ("请填写驳回按钮名称", "The reject button needs a label"),
    "not_rejectable": ("该类型节点不支持驳回", "This type of node cannot be rejectable"),
    "reject_after_system": (
        "上一步为分配服务商、分配订单或认领订单节点时，不可设置为可驳回",
        "A node right after an assign-provider, assign-order or claim-order node cannot be "
        "rejectable"),
    "empty_container": ("容器节点至少包含一个子节点", "A container holds at least one node"),
    "nested_container": ("容器节点不可嵌套", "Containers cannot be nested"),
    "misplaced": ("该节点只能作为模板的第一个或最后一个节点",
                  "This node can only be the first or the last node of the template"),
    "claims": ("模板最多只能配置一个认领订单节点", "A template has at most one claim-order node"),
    "rule": ("请选择分单规则", "Choose the assignment rule"),
    "department_first_requires_claim": ("部门优先需要先配置认领订单节点",
                                        "Department-first needs a claim-order node before it"),
    "form": ("请选择需求模板", "Choose a requirement form"),
    "form_unknown": ("需求模板不存在", "The requirement form does not exist"),
    "effect": ("该节点不支持此卡单动作", "This node cannot carry this card-order effect"),
    "receiver": ("请选择消息接收者", "Choose the message receiver"),
    "trigger": ("请选择触发条件", "Choose the trigger"),
    "message_unknown": ("消息模板不存在", "The message template does not exist"),
    "message_mismatch": ("消息模板与节点或接收者不匹配",
                         "The message template does not match the node and the receiver"),
    "suffix_required": (f"含分配订单节点的公共模板名称需以“{AUTO_ASSIGN_SUFFIX}”结尾",
                        "A public template with an assign-order node has a name ending in "
                        f"“{AUTO_ASSIGN_SUFFIX}”"),
    "suffix_forbidden": (f"不含分配订单节点的公共模板名称不能以“{AUTO_ASSIGN_SUFFIX}”结尾",
                         "A public template without an assign-order node has no name ending "
                         f"in “{AUTO_ASSIGN_SUFFIX}”"),
}


def _v(node: Mapping[str, Any] | None, field: str, what: str) -> Violation:
    zh, en = MESSAGES[what]
    key = None if node is None else (str(node["key"]) if node.get("key") else None)
    return Violation(key, field, what, zh, en)


def walk(nodes: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every node, containers before their children, in order."""
    for node in nodes:
        yield node
        yield from walk(node.get("children") or ())


def leaves(nodes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The steps a project walks (containers opened), as in `nodes.steps`."""
    return [n for n in walk(nodes) if n.get("kind") != "container"]


def has_assign(nodes: Sequence[Mapping[str, Any]]) -> bool:
    return any(n.get("kind") == "assign" for n in walk(nodes))


def timeout_problem(value: Any) -> str | None:
    """I-22: a timeout is a number of days 0.0–365.0 with at most one decimal (0 or empty =
    none, AMB-52); the name of the message when it is not."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "timeout"
    try:
        days = Decimal(str(value).strip())
    except InvalidOperation:
        return "timeout"
    if not days.is_finite() or days < 0 or days > MAX_TIMEOUT:
        return "timeout"
    exponent = days.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -1:
        return "timeout_decimals"
    return None


def _labels(node: Mapping[str, Any]) -> list[Violation]:
    labels = node.get("labels") or {}
    needed = list(LABELS.get(str(node.get("kind")), ()))
    if node.get("kind") == "general" and node.get("upload"):
        needed.append("upload_label")
    found = [_v(node, f"labels.{name}", "label") for name in needed
             if name in labels and not str(labels[name] or "").strip()]
    if node.get("rejectable") and "reject_label" in labels and not str(
            labels["reject_label"] or "").strip():
        found.append(_v(node, "labels.reject_label", "reject_label"))
    return found


def _reminders(node: Mapping[str, Any], catalogue: Catalogue) -> list[Violation]:
    found: list[Violation] = []
    for i, row in enumerate(node.get("reminders") or ()):
        where = f"reminders.{i}"
        if row.get("receiver") not in RECEIVERS:
            found.append(_v(node, f"{where}.receiver", "receiver"))
        if row.get("trigger") not in TRIGGER_NAMES:
            found.append(_v(node, f"{where}.trigger", "trigger"))
        preset = catalogue.messages.get(str(row.get("template") or ""))
        if preset is None:
            found.append(_v(node, f"{where}.template", "message_unknown"))
        elif preset != (node.get("kind"), row.get("receiver")):
            found.append(_v(node, f"{where}.template", "message_mismatch"))
    return found


def node_violations(node: Mapping[str, Any], catalogue: Catalogue, *,
                    nested: bool) -> list[Violation]:
    """What is wrong with one node by itself (I-13 … I-20)."""
    kind = node.get("kind")
    if kind not in NODE_KINDS:
        return [_v(node, "kind", "kind")]
    found: list[Violation] = []
    if not str(node.get("name") or "").strip():
        found.append(_v(node, "name", "name"))
    if kind == "container":
        if nested:
            found.append(_v(node, "kind", "nested_container"))
        if not node.get("children"):
            found.append(_v(node, "children", "empty_container"))
        return found
    if kind in ROLE_KINDS:
        role = str(node.get("role") or "").strip()
        if not role:
            found.append(_v(node, "role", "role"))
        elif role not in catalogue.roles:
            found.append(_v(node, "role", "role_unknown"))
    if kind in SIDE_KINDS and node.get("side") not in ("provider", "customer"):
        found.append(_v(node, "side", "side"))
    problem = timeout_problem(node.get("timeout_days"))
    if problem is not None:
        found.append(_v(node, "timeout_days", problem))
    if node.get("rejectable") and kind not in REJECTABLE_KINDS:
        found.append(_v(node, "rejectable", "not_rejectable"))
    if kind == "assign" and node.get("rule") not in ("provider_first", "department_first"):
        found.append(_v(node, "rule", "rule"))
    if kind == "submit_requirement":
        form = node.get("form_id")
        if not form:
            found.append(_v(node, "form_id", "form"))
        elif form not in catalogue.forms:
            found.append(_v(node, "form_id", "form_unknown"))
    effect = node.get("effect")
    if effect and (kind != "general" or effect not in EFFECTS):
        found.append(_v(node, "effect", "effect"))
    return found + _labels(node) + _reminders(node, catalogue)


def _shape(nodes: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """First and last node, keys, claim count and order, department-first, AMB-35."""
    found: list[Violation] = []
    first = nodes[0] if nodes else None
    if first is None or first.get("kind") != "assign_provider":
        found.append(_v(first, "kind", "start"))
    last = nodes[-1] if nodes else None
    if last is None or last.get("kind") != "complete":
        found.append(_v(last, "kind", "last"))
    for node in walk(nodes):
        misplaced = node is not first if node.get("kind") == "assign_provider" else (
            node.get("kind") == "complete" and node is not last)
        if misplaced:
            found.append(_v(node, "kind", "misplaced"))
    seen: set[str] = set()
    for node in walk(nodes):
        key = str(node.get("key") or "")
        if key in seen:
            found.append(_v(node, "key", "key"))
        seen.add(key)
    claimed = False
    previous: Mapping[str, Any] | None = None
    for node in leaves(nodes):
        kind = node.get("kind")
        if kind == "claim" and claimed:
            found.append(_v(node, "kind", "claims"))
        if kind == "assign" and node.get("rule") == "department_first" and not claimed:
            found.append(_v(node, "rule", "department_first_requires_claim"))
        if (node.get("rejectable") and previous is not None
                and previous.get("kind") in NO_REJECT_AFTER):
            found.append(_v(node, "rejectable", "reject_after_system"))
        claimed = claimed or kind == "claim"
        previous = node
    return found


def violations(nodes: Sequence[Mapping[str, Any]], catalogue: Catalogue, *, name: str,
               public: bool) -> list[Violation]:
    """Every reason the template may not be published (I-22, I-23); empty = publishable."""
    found = _shape(nodes)
    for node in nodes:
        found += node_violations(node, catalogue, nested=False)
        for child in node.get("children") or ():
            found += node_violations(child, catalogue, nested=True)
            for grandchild in walk(child.get("children") or ()):
                found += node_violations(grandchild, catalogue, nested=True)
    if public:
        suffixed = name.strip().endswith(AUTO_ASSIGN_SUFFIX)
        if has_assign(nodes) and not suffixed:
            found.append(_v(None, "name", "suffix_required"))
        elif suffixed and not has_assign(nodes):
            found.append(_v(None, "name", "suffix_forbidden"))
    return found


def with_keys(nodes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The nodes with a key on each: the ones sent without get n1, n2, … (keys not taken)."""
    taken = {str(n["key"]) for n in walk(nodes) if n.get("key")}
    counter = 0

    def fresh() -> str:
        nonlocal counter
        while True:
            counter += 1
            if f"n{counter}" not in taken:
                taken.add(f"n{counter}")
                return f"n{counter}"

    def keyed(node: Mapping[str, Any]) -> dict[str, Any]:
        made = dict(node)
        made["key"] = str(node.get("key") or fresh())
        if node.get("children"):
            made["children"] = [keyed(c) for c in node["children"]]
        return made

    return [keyed(n) for n in nodes]


def with_start(nodes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A new template's nodes: the built-in assign-provider node first (SM-I-TEMPLATE)."""
    rest = [dict(n) for n in nodes if n.get("kind") != "assign_provider"]
    return with_keys([dict(START), *rest])


def claim_scheme(nodes: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the template uses the department scheme (a claim node, I-09, I-32)."""
    return any(n.get("kind") == "claim" for n in walk(nodes))
