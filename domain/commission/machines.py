"""SM-H-COMM and SM-H-APPROVAL (specs/business.md §5.7) as pure tables: state × event → next
state and who may cause it, and the ledger move each transition makes. The store applies a
step as one compare-and-set on the record's state with its transfers, audit row and event.

Actors: `system` (evaluation, timers, refunds), `operator` (a platform operator's import),
`finance` (platform finance deciding an approval)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from domain.refusals import Refusal

Actor = Literal["system", "operator", "finance"]
State = Literal["awaiting_conditions", "frozen", "unfreezing", "available", "invalid",
                "rejected", "reversed"]
Move = Literal["none", "freeze", "pay", "release", "return", "clawback"]
"""What a transition does with money: `freeze` source → agent's frozen commission; `pay` source
→ agent's available balance; `release` frozen → available; `return` frozen → platform revenue;
`clawback` available → platform revenue (may overdraw, G2-16)."""

STATES: tuple[State, ...] = ("awaiting_conditions", "frozen", "unfreezing", "available",
                             "invalid", "rejected", "reversed")
FINAL: frozenset[str] = frozenset({"invalid", "rejected", "reversed"})
NEW = "—"  # before the record exists


@dataclass(frozen=True)
class Step:
    to: State
    who: frozenset[Actor]
    move: Move


def _s(to: State, move: Move, *who: Actor) -> Step:
    return Step(to, frozenset(who), move)


RECORD: dict[tuple[str, str], Step] = {
    (NEW, "produce_available"): _s("available", "pay", "system"),
    (NEW, "produce_frozen"): _s("frozen", "freeze", "system", "operator"),
    (NEW, "produce_awaiting_conditions"): _s("awaiting_conditions", "none", "system"),
    ("awaiting_conditions", "conditions_met"): _s("frozen", "freeze", "system"),
    ("frozen", "unfreeze"): _s("unfreezing", "none", "system", "operator"),
    ("frozen", "unfreeze_unapproved"): _s("available", "release", "system", "operator"),
    ("frozen", "invalidate"): _s("invalid", "return", "system", "operator"),
    ("unfreezing", "approve"): _s("available", "release", "finance"),
    ("unfreezing", "reject"): _s("rejected", "return", "finance"),
    ("awaiting_conditions", "reverse"): _s("reversed", "none", "system"),
    ("frozen", "reverse"): _s("reversed", "return", "system"),
    ("unfreezing", "reverse"): _s("reversed", "return", "system"),
    ("available", "reverse"): _s("reversed", "clawback", "system"),
}

ApprovalState = Literal["pending", "approved", "rejected", "closed"]

APPROVAL: dict[tuple[str, str], ApprovalState] = {
    (NEW, "open"): "pending",
    ("pending", "approve"): "approved",
    ("pending", "reject"): "rejected",
    ("pending", "close"): "closed",
}


class CommissionTransitionRefused(Refusal):
    code = "invalid_transition"
    message_zh = "当前状态不允许该操作"
    message_en = "This action is not allowed in the current state"

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"a commission in state {state} cannot take {event}")
        self.state = state
        self.event = event


class ApprovalClosed(Refusal):
    """SM-H-APPROVAL: a decided or closed approval cannot be decided again."""

    code = "approval_closed"
    message_zh = "审批已关闭"
    message_en = "The approval is already closed"


class RejectionReasonRequired(Refusal):
    code = "reason_required"
    message_zh = "请填写驳回原因"
    message_en = "Please give the reason for the rejection"
    field = "reason"


def step(state: str, event: str, actor: Actor) -> Step:
    """The transition of a record in `state` on `event` by `actor`; refused when the table has
    no such row or names another actor."""
    found = RECORD.get((state, event))
    if found is None or actor not in found.who:
        raise CommissionTransitionRefused(state, event)
    return found


def approval_step(state: str, event: str) -> ApprovalState:
    """The approval's next state; a decided or closed approval refuses (409 approval_closed)."""
    found = APPROVAL.get((state, event))
    if found is None:
        raise ApprovalClosed()
    return found


def rejection_reason(reason: str | None) -> str:
    """The trimmed reason of a rejection; none (or blanks) refused with the spec's message."""
    text = (reason or "").strip()
    if not text:
        raise RejectionReasonRequired()
    return text
