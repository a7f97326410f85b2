"""Who sees which agents and prices (G1-14, X-03), pure.

An agent's people see their agent and its downstream subtree; another branch does not exist for
them (404). Of the yin-yang menu an agent sees its own cost price, its own retail prices and the
cost prices it set for its direct downstream agents — never the purchase price, its upstream's
cost or a sibling's prices. An end user sees only the active retail prices of the agent it buys
through. Platform roles see everything. `PriceScope` is what the store turns into SQL, so rows
are filtered in the database; `sees_price` is the same rule for one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from domain.pricing.rules import PriceKind

Relation = Literal["self", "downstream", "upstream", "unrelated"]
Audience = Literal["platform", "agent", "end_user", "none"]
AGENT_PEOPLE = ("agent_admin", "agent_viewer")
PLATFORM_PEOPLE = ("admin", "platform_ops", "platform_operator", "platform_finance")


def audience(role: str) -> Audience:
    """Which side of the menu a role reads."""
    if role in PLATFORM_PEOPLE:
        return "platform"
    if role in AGENT_PEOPLE:
        return "agent"
    return "end_user" if role == "end_user" else "none"


def relation(viewer_path: Sequence[str], target_path: Sequence[str]) -> Relation:
    """How the agent at `target_path` stands to the viewer's agent at `viewer_path`."""
    if tuple(viewer_path) == tuple(target_path):
        return "self"
    if tuple(target_path[:len(viewer_path)]) == tuple(viewer_path):
        return "downstream"
    if tuple(viewer_path[:len(target_path)]) == tuple(target_path):
        return "upstream"
    return "unrelated"


def sees_agent(viewer_path: Sequence[str], target_path: Sequence[str]) -> bool:
    """An agent's people see their agent and its downstream, nothing upstream or beside."""
    return relation(viewer_path, target_path) in ("self", "downstream")


@dataclass(frozen=True)
class PriceScope:
    """The prices a viewer may list: all, or those of `agent_id` (retail only for end users,
    and then active only), plus the costs it set for its direct downstream."""

    everything: bool = False
    agent_id: str | None = None
    retail_only: bool = False
    active_only: bool = False
    downstream_costs: bool = False


def price_scope(role: str, agent_id: str | None) -> PriceScope:
    """The scope of a role (of the agent `agent_id` for agent people and end users)."""
    seen = audience(role)
    if seen == "platform":
        return PriceScope(everything=True)
    if seen == "agent" and agent_id is not None:
        return PriceScope(agent_id=agent_id, downstream_costs=True)
    if seen == "end_user" and agent_id is not None:
        return PriceScope(agent_id=agent_id, retail_only=True, active_only=True)
    return PriceScope(agent_id=None)


def sees_price(scope: PriceScope, kind: PriceKind, agent_id: str, parent_id: str | None,
               status: str) -> bool:
    """Whether a price (of `agent_id`, whose parent is `parent_id`) is in `scope`."""
    if scope.everything:
        return True
    if scope.agent_id is None or (scope.active_only and status != "active"):
        return False
    if agent_id == scope.agent_id:
        return kind == "retail" or not scope.retail_only
    return scope.downstream_costs and kind == "cost" and parent_id == scope.agent_id
