"""Number-card commission (shared/specs/business.md §5.6, H-32 … H-36, AMB-46): the agent's
commission on one settlement line, and whether the rebate conditions hold — pure.

* Amount (H-32, AMB-46): a fixed sum per card, or a percentage (basis points) of the line's
  amount rounded half-up to the fen; it may exceed the line (negative platform margin, flagged).
* Conditions (H-33, H-35), from the rule's `terms` (NumberCardRule): `first_recharge_fen`
  (0: none) — the card's first credited recharge is at least that much (and not refunded);
  `min_tenure_days` (0: none) — whole days since activation, the card's network status active
  now; `require_not_sanwu` — the card is not 三无 in the billing cycle of the settlement period
  (H-21's verdict).
  `conditions_deadline_days` (default 90): still unmet that long after the import → invalid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from domain.commission.facts import CardFacts, first_recharge

DEFAULT_DEADLINE_DAYS = 90
UNMET_REASON = "返佣条件未满足"
DAY = timedelta(days=1)
AmountMode = Literal["fixed", "percent"]


@dataclass(frozen=True)
class Terms:
    """The conditions of a `number_card_settlement` rule (its `terms`)."""

    first_recharge_fen: int | None = None
    min_tenure_days: int | None = None
    require_not_sanwu: bool = False
    conditions_deadline_days: int = DEFAULT_DEADLINE_DAYS

    @classmethod
    def of(cls, terms: Mapping[str, Any]) -> Terms:
        """From a rule's `terms` jsonb, with `domain.commission.rules.from_row`'s defaults
        (threshold 0, tenure 0, not-三无 required, deadline 90 days); a threshold or a tenure
        of 0 asks for nothing."""
        recharge = int(terms.get("first_recharge_fen", 0) or 0)
        tenure = int(terms.get("min_tenure_days", 0) or 0)
        deadline = terms.get("conditions_deadline_days")
        return cls(recharge or None, tenure or None,
                   bool(terms.get("require_not_sanwu", True)),
                   DEFAULT_DEADLINE_DAYS if deadline is None else int(deadline))


def line_commission(mode: AmountMode, value: int, line_fen: int) -> int:
    """H-32: fixed `value` fen per card, or `value` basis points of the line, half-up."""
    if mode == "fixed":
        return value
    return (line_fen * value + 5000) // 10000


def formula(mode: AmountMode, value: int, line_fen: int) -> str:
    if mode == "fixed":
        return f"fixed {value} fen per card"
    return f"{line_fen} × {value} bp / 10000, half-up"


@dataclass(frozen=True)
class Activation:
    """When the card was activated (None: not yet) and whether it is active on the network
    now."""

    at: datetime | None
    active_now: bool


@dataclass(frozen=True)
class Verdict:
    """Whether all conditions hold at instant `at`; each condition's outcome for the
    explanation."""

    met: bool
    at: datetime
    conditions: dict[str, Any]


def tenure_days(activation: Activation, at: datetime) -> int:
    """Whole days from activation to `at` (0 when not activated, or not active now)."""
    if activation.at is None or not activation.active_now or at < activation.at:
        return 0
    return (at - activation.at) // DAY


def deadline(imported_at: datetime, terms: Terms) -> datetime:
    return imported_at + timedelta(days=terms.conditions_deadline_days)


def conditions(terms: Terms, facts: CardFacts, activation: Activation, sanwu: bool | None,
               at: datetime) -> Verdict:
    """H-35 at instant `at`: recharges credited by then, tenure up to then, the period's 三无
    verdict (None: the card has no verdict — counts as 三无, nothing shows it in use)."""
    outcome: dict[str, Any] = {}
    met = True
    if terms.first_recharge_fen is not None:
        first = first_recharge(facts)
        ok = (first is not None and not first.refunded and first.at <= at
              and first.amount_fen >= terms.first_recharge_fen)
        outcome["first_recharge"] = {
            "threshold_fen": terms.first_recharge_fen, "met": ok,
            "amount_fen": first.amount_fen if first else None,
            "ref": first.ref if first else None,
            "at": first.at.isoformat() if first else None}
        met = met and ok
    if terms.min_tenure_days is not None:
        days = tenure_days(activation, at)
        ok = days >= terms.min_tenure_days
        outcome["tenure"] = {"min_days": terms.min_tenure_days, "days": days, "met": ok,
                             "activated_at": activation.at.isoformat() if activation.at
                             else None, "active_now": activation.active_now}
        met = met and ok
    if terms.require_not_sanwu:
        ok = sanwu is False
        outcome["not_sanwu"] = {"met": ok, "sanwu": sanwu}
        met = met and ok
    return Verdict(met, at, outcome)


Decision = Literal["unfreeze", "invalidate", "wait"]


def decide(terms: Terms, facts: CardFacts, activation: Activation, sanwu: bool | None,
           imported_at: datetime, now: datetime) -> tuple[Decision, Verdict]:
    """H-35: the conditions are judged at `min(now, deadline)`: met → unfreeze (stamped then);
    unmet with the deadline reached → invalidate (stamped at the deadline); else wait."""
    due = deadline(imported_at, terms)
    verdict = conditions(terms, facts, activation, sanwu, min(now, due))
    if verdict.met:
        return "unfreeze", verdict
    if now >= due:
        return "invalidate", verdict
    return "wait", verdict
