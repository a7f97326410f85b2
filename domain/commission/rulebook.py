"""Rule lookup over rule versions held in memory (H-01, H-06, H-42): the version of the selling
agent's rule of a kind whose scope covers the package and whose period holds the instant."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from domain.commission.rules import Rule


class RuleBook:
    """Rule versions by (agent, kind); drafts never count, a retired version only for its
    period."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._by: dict[tuple[str, str], list[Rule]] = {}
        for rule in rules:
            if rule.status != "draft":  # a retired version still covers its period
                self._by.setdefault((rule.agent_id, rule.kind), []).append(rule)

    def find(self, agent_id: str, kind: str, package_id: str, business_line: str,
             at: datetime) -> Rule | None:
        for rule in self._by.get((agent_id, kind), ()):
            if rule.scope.covers(package_id, business_line) and rule.in_force(at):
                return rule
        return None

    def tier_metrics(self) -> set[tuple[str, str]]:
        """(agent, metric) of every tiered rule."""
        return {(rule.agent_id, rule.tiers.metric) for rules in self._by.values()
                for rule in rules if rule.tiers is not None}
