"""How an operator answered a change of a card's status, and what that means for retries.

The result type carries the retry policy: `done` says which answers end a transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.operators import NetworkStatus


class Result(StrEnum):
    """How an operator answered one card's status change (values are metric labels)."""

    CHANGED = "accepted"  # the card is in the target state: confirmed
    SUBMITTED = "submitted"  # accepted as an order or job that completes later: confirm it
    ALREADY = "repeat"  # it was already in that state: success
    COOLDOWN = "cooldown"  # changed too recently: retry after the cooldown
    RATE_LIMITED = "rate_limited"  # slow down and retry
    TRANSIENT = "error"  # temporary failure: retry with backoff
    HELD = "operator_held"  # the operator stopped or froze the card itself: do not fight it
    REJECTED = "rejected"  # the operator refuses for good (bad card, bad request)

    @property
    def done(self) -> bool:
        return self in (Result.CHANGED, Result.ALREADY)

    @property
    def final(self) -> bool:
        """A refusal that no retry will change."""
        return self in (Result.HELD, Result.REJECTED)


@dataclass(frozen=True)
class CardRef:
    """A card as an operator knows it: the ICCID and, where registered, its number (the
    MSISDN, or China Telecom's access number)."""

    iccid: str
    msisdn: str | None = None


@dataclass(frozen=True)
class CommandResult:
    """One card's answer to a status change.

    `ticket` names what to track a submitted change by (a OneLink order number);
    `whole_batch` says a batch was refused as a whole for one card's sake (OneLink's
    cooldown), so the cards should be sent again one by one.
    """

    iccid: str
    result: Result
    detail: str = ""
    ticket: str | None = None
    whole_batch: bool = False


@dataclass(frozen=True)
class Reading:
    """A card's status as the operator reports it: the operator's own code and name, what it
    means to CardPulse, and whether the operator holds the card (a stop or freeze of its own
    that a resume of ours may not undo)."""

    network: NetworkStatus
    code: str
    name: str
    held: bool = False
