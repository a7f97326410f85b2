"""The agent tree's rules (G1-19…G1-21), pure: business lines within the parent's, acyclic
moves."""

from __future__ import annotations

from collections.abc import Sequence

from domain.pricing.errors import CyclicMove, LinesBeyondParent
from domain.pricing.visibility import relation

BUSINESS_LINES = ("traffic_card", "number_card")


def check_lines(lines: Sequence[str], parent_lines: Sequence[str] | None) -> None:
    """A downstream agent sells only lines its parent may sell."""
    if parent_lines is not None and not set(lines) <= set(parent_lines):
        raise LinesBeyondParent()


def check_move(agent_path: Sequence[str], new_parent_path: Sequence[str] | None) -> None:
    """A move keeps the tree acyclic: never below the agent itself or its downstream."""
    if new_parent_path is not None and relation(agent_path, new_parent_path) in (
            "self", "downstream"):
        raise CyclicMove()

