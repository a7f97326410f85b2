"""How an operator answered a change of a card's status, and what that means for retries.

The result type carries the retry policy: `done` says which answers end a transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Result(StrEnum):
    """How an operator answered one card's status change."""

    CHANGED = "accepted"  # the operator changed the card's status
    ALREADY = "repeat"  # it was already in that state: success
    COOLDOWN = "cooldown"  # changed too recently: retry after the cooldown
    RATE_LIMITED = "rate_limited"  # slow down and retry
    TRANSIENT = "error"  # temporary failure: retry with backoff
    REJECTED = "rejected"  # the operator refuses for good (bad card, bad request)

    @property
    def done(self) -> bool:
        return self in (Result.CHANGED, Result.ALREADY)


@dataclass(frozen=True)
class CommandResult:
    """One card's answer to a status change."""

    iccid: str
    result: Result
    detail: str = ""
