"""A service-flow template's nodes (I-12 … I-20) as typed values, and the walk a project takes
through them.

A template is a list of nodes; a container (I-13) holds children and does nothing itself. A
project runs the template's *steps*: its leaf nodes in depth-first order, starting with the
built-in assign-provider node and ending with the complete-project node (I-12). Each node has a
stable `key` unique within its template.

`nodes_from_json` reads what `dl_templates.nodes` stores without judging it: publish validation
(I-22, `domain/delivery/templates.py`) says what is wrong with a draft.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

NodeKind = Literal["assign_provider", "container", "submit_requirement", "confirm", "claim",
                   "assign", "general", "complete"]
NODE_KINDS: Final[tuple[NodeKind, ...]] = get_args(NodeKind)
Side = Literal["system", "provider", "customer"]
Trigger = Literal["entered", "rejected", "passed", "timed_out"]
# I-20's triggers as the console names them.
TRIGGER_NAMES: Final[Mapping[Trigger, str]] = {
    "entered": "进入当前流程", "rejected": "当前流程驳回", "passed": "当前流程流转",
    "timed_out": "当前流程超时"}
AssignRule = Literal["provider_first", "department_first"]
# I-63: what a general node does to a card order besides being confirmed.
Effect = Literal["ship_cards", "activate_cards"]
# Nodes run by the system, never by a person: they cannot be rejected back into (AMB-35).
SYSTEM_KINDS: Final[frozenset[NodeKind]] = frozenset({"assign_provider", "assign"})
# Default labels (I-16, I-17, I-18).
DEFAULT_LABELS: Final[Mapping[str, str]] = {
    "submit_label": "提交需求", "view_label": "查看需求", "confirm_label": "确认",
    "reject_label": "驳回", "upload_label": "上传"}


@dataclass(frozen=True)
class Reminder:
    """A message reminder row of a node (I-20): who receives which template on what."""

    receiver: str  # customer | operator | provider_admin | vendor_admin
    trigger: Trigger
    template: str  # a dl_message_templates name, "发送节点-发送对象"


@dataclass(frozen=True)
class Node:
    key: str
    kind: NodeKind
    name: str
    role: str | None = None
    side: Side = "provider"
    timeout_tenths: int = 0  # I-41: T days in steps of 0.1 → tenths; 0 = no timeout
    rejectable: bool = False
    auto_advance: bool = False  # confirm / complete: confirmed by 系统 at the deadline
    upload: bool = False  # general: the operator uploads files
    rule: AssignRule = "provider_first"  # assign
    form_id: str | None = None  # submit_requirement
    labels: Mapping[str, str] = field(default_factory=dict)
    effect: Effect | None = None  # general nodes of card orders (I-63)
    reminders: tuple[Reminder, ...] = ()
    children: tuple[Node, ...] = ()

    def label(self, name: str) -> str:
        return self.labels.get(name) or DEFAULT_LABELS.get(name, name)


def node_side(kind: NodeKind, side: str | None) -> Side:
    """Who acts on a node: the system for assignments, the customer for the last node, the
    template's choice (provider by default) otherwise."""
    if kind in SYSTEM_KINDS:
        return "system"
    if kind == "complete":
        return "customer"
    if kind == "submit_requirement":
        return "customer"
    return "customer" if side == "customer" else "provider"


def tenths(value: Any) -> int:
    """A timeout in days (number or decimal string, ≤ 1 decimal) as tenths of a day. Values
    with more decimals are refused by publish validation; here they are rounded down."""
    if value in (None, ""):
        return 0
    text = str(value).strip()
    whole, _, frac = text.partition(".")
    return int(whole or "0") * 10 + int((frac + "0")[:1])


def node_from_json(raw: Mapping[str, Any]) -> Node:
    kind: NodeKind = raw["kind"]
    return Node(
        key=str(raw["key"]), kind=kind, name=str(raw.get("name") or ""),
        role=raw.get("role") or None, side=node_side(kind, raw.get("side")),
        timeout_tenths=tenths(raw.get("timeout_days")),
        rejectable=bool(raw.get("rejectable", False)),
        auto_advance=bool(raw.get("auto_advance", False)), upload=bool(raw.get("upload", False)),
        rule=raw.get("rule") or "provider_first", form_id=raw.get("form_id") or None,
        labels={k: str(v) for k, v in (raw.get("labels") or {}).items()},
        effect=raw.get("effect") or None,
        reminders=tuple(Reminder(r["receiver"], r["trigger"], r["template"])
                        for r in raw.get("reminders") or ()),
        children=tuple(node_from_json(c) for c in raw.get("children") or ()))


def nodes_from_json(raw: Sequence[Mapping[str, Any]]) -> list[Node]:
    return [node_from_json(n) for n in raw]


def steps(nodes: Sequence[Node]) -> list[Node]:
    """The nodes a project walks through, in order: every leaf, containers opened."""
    out: list[Node] = []
    for node in nodes:
        if node.kind == "container":
            out.extend(steps(node.children))
        else:
            out.append(node)
    return out


def step_index(nodes: Sequence[Node], key: str) -> int:
    for i, node in enumerate(steps(nodes)):
        if node.key == key:
            return i
    raise KeyError(f"no step {key!r} in the template")


def next_step(nodes: Sequence[Node], key: str) -> Node | None:
    """The step after `key`, or None after the last."""
    walk = steps(nodes)
    i = step_index(nodes, key)
    return walk[i + 1] if i + 1 < len(walk) else None


def reject_target(nodes: Sequence[Node], key: str) -> Node | None:
    """Where rejecting `key` sends the flow (I-17, I-19, AMB-35): the nearest previous step a
    person operates — inside a container, its previous child, or the last child of the
    container before it, since steps are the leaves in order. None when every previous step
    is a system node (publish validation forbids such a rejectable node)."""
    walk = steps(nodes)
    for node in reversed(walk[:step_index(nodes, key)]):
        if node.kind not in SYSTEM_KINDS and node.kind != "claim":
            return node
    return None


def container_of(nodes: Sequence[Node], key: str) -> Node | None:
    """The container holding step `key`, if any (for the console's step list)."""
    for node in nodes:
        if node.kind == "container":
            if any(c.key == key for c in steps(node.children)):
                return node
    return None
