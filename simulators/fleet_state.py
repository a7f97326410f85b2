"""The simulated operator's card states: pure, clock-injected, shared by every dialect."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["active", "stopped"]
Outcome = Literal["accepted", "repeat", "cooldown"]


@dataclass
class SimCard:
    status: Status = "active"
    status_changes: int = 0
    last_change: float | None = None


@dataclass
class SimNetwork:
    """Every card the operator knows; an unseen valid ICCID is an active card."""

    cooldown_s: float
    cards: dict[str, SimCard] = field(default_factory=dict)
    stats: Counter[tuple[str, str]] = field(default_factory=Counter)

    def card(self, iccid: str) -> SimCard:
        return self.cards.setdefault(iccid, SimCard())

    def change(self, iccid: str, target: Status, now: float) -> Outcome:
        """Apply a status change like OneLink does: a repeat is success, too soon is refused."""
        card = self.card(iccid)
        if card.status == target:
            return "repeat"
        if card.last_change is not None and now - card.last_change < self.cooldown_s:
            return "cooldown"
        card.status = target
        card.status_changes += 1
        card.last_change = now
        return "accepted"

    def count(self, dialect: str, outcome: str) -> None:
        self.stats[(dialect, outcome)] += 1

    def stats_view(self) -> dict[str, dict[str, int]]:
        view: dict[str, dict[str, int]] = {}
        for (dialect, outcome), n in sorted(self.stats.items()):
            view.setdefault(dialect, {})[outcome] = n
        return view
