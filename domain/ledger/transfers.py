"""Transfers (G2-21, G2-23): what moves, the phase it moves in, and its idempotency hash.

A transfer debits one account and credits another by the same positive amount of fen. Its
phase says how (TigerBeetle's two-phase transfers):
  * `single`: posted at once;
  * `pending`: a hold, reserving the amount against the debit account's floor;
  * `post_pending`: posts a hold, for its whole amount or less (the rest is released);
  * `void_pending`: releases a hold.
The caller chooses `transfer_id` (the idempotency key) and keeps it for retries. The
`content_hash` (Formance's idempotency hash) is a SHA-256 of the canonical content, so that a
retry is told apart from a different transfer that reuses an id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from core.money import Fen
from domain.ledger.accounts import account_kind
from domain.ledger.errors import IdempotencyConflict, InvalidTransfer

MAX_ID_LEN = 128


class FeeType(StrEnum):
    """What a movement is, for reconciliation per order line and export to finance (G2-23)."""

    RETAIL = "retail"
    COST = "cost"
    PRICE_DIFFERENCE = "price_difference"
    COMMISSION = "commission"
    REFUND = "refund"
    WITHDRAWAL = "withdrawal"
    WITHDRAWAL_FEE = "withdrawal_fee"
    DEDUCTION = "deduction"
    PAYOUT = "payout"
    FACTORY_COMMISSION = "factory_commission"
    RECHARGE = "recharge"


# G2-16: only a refund or a commission clawback (or a reversal) may overdraw a floored account.
MAY_OVERDRAW = frozenset({FeeType.REFUND, FeeType.COMMISSION})


class Phase(StrEnum):
    SINGLE = "single"
    PENDING = "pending"
    POST_PENDING = "post_pending"
    VOID_PENDING = "void_pending"


POSTS_MONEY = frozenset({Phase.SINGLE, Phase.POST_PENDING})


@dataclass(frozen=True)
class Transfer:
    """One movement of `amount` fen from `debit` to `credit`; validated when made."""

    transfer_id: str
    debit: str
    credit: str
    amount: Fen
    fee_type: FeeType
    order_id: str | None = None
    order_line: str | None = None
    phase: Phase = Phase.SINGLE
    pending_id: str | None = None
    reverses: str | None = None
    allow_negative: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = transfer_problem(self)
        if problem is not None:
            raise InvalidTransfer(self.transfer_id, problem)

    @property
    def posts_money(self) -> bool:
        """Whether it moves posted balances (and so writes two entries)."""
        return self.phase in POSTS_MONEY


def transfer_problem(t: Transfer) -> str | None:
    """Why `t` can never be applied, or None."""
    if not 1 <= len(t.transfer_id) <= MAX_ID_LEN:
        return f"the id must have 1 to {MAX_ID_LEN} characters"
    if isinstance(t.amount, bool) or not isinstance(t.amount, int) or t.amount <= 0:
        return "the amount must be a positive integer of fen"
    if t.debit == t.credit:
        return "debit and credit must be two accounts"
    for key in (t.debit, t.credit):
        account_kind(key)
    if (t.pending_id is not None) != (t.phase in (Phase.POST_PENDING, Phase.VOID_PENDING)):
        return "a post or void names its hold (pending_id), nothing else does"
    if t.reverses is not None and t.phase is not Phase.SINGLE:
        return "a reversal is posted at once"
    if t.allow_negative and not (t.phase is Phase.SINGLE
                                 and (t.fee_type in MAY_OVERDRAW or t.reverses is not None)):
        return "only a refund, a commission clawback or a reversal may overdraw (G2-16)"
    return None


def content_hash(t: Transfer) -> str:
    """SHA-256 (hex) of the transfer's canonical content: everything but its id."""
    content = {
        "debit": t.debit, "credit": t.credit, "amount": int(t.amount),
        "fee_type": str(t.fee_type), "order_id": t.order_id, "order_line": t.order_line,
        "phase": str(t.phase), "pending_id": t.pending_id, "reverses": t.reverses,
        "allow_negative": t.allow_negative, "metadata": dict(t.metadata),
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def hold(transfer_id: str, debit: str, credit: str, amount: Fen, fee_type: FeeType,
         **tags: Any) -> Transfer:
    """A pending transfer: reserves `amount` on `debit` until posted or voided."""
    return Transfer(transfer_id, debit, credit, amount, fee_type, phase=Phase.PENDING, **tags)


def post(pending: Transfer, transfer_id: str, amount: Fen | None = None,
         metadata: Mapping[str, Any] | None = None) -> Transfer:
    """Posting `pending` for `amount` (default: all of it); the rest of the hold is released."""
    return replace(pending, transfer_id=transfer_id, phase=Phase.POST_PENDING,
                   pending_id=pending.transfer_id,
                   amount=pending.amount if amount is None else amount,
                   metadata=pending.metadata if metadata is None else metadata)


def void(pending: Transfer, transfer_id: str,
         metadata: Mapping[str, Any] | None = None) -> Transfer:
    """Releasing the whole of `pending`."""
    return replace(pending, transfer_id=transfer_id, phase=Phase.VOID_PENDING,
                   pending_id=pending.transfer_id,
                   metadata=pending.metadata if metadata is None else metadata)


def reversal(original: Transfer, transfer_id: str, *, fee_type: FeeType | None = None,
             allow_negative: bool = False,
             metadata: Mapping[str, Any] | None = None) -> Transfer:
    """The correcting transfer of posted money: same amount, accounts swapped, same tags."""
    if not original.posts_money:
        raise InvalidTransfer(original.transfer_id, "only posted money is reversed; void a hold")
    return Transfer(transfer_id, original.credit, original.debit, original.amount,
                    fee_type or original.fee_type, original.order_id, original.order_line,
                    reverses=original.transfer_id, allow_negative=allow_negative,
                    metadata=metadata or {})


def dedupe_batch(transfers: tuple[Transfer, ...]) -> tuple[Transfer, ...]:
    """The batch with exact repeats of an id dropped; IdempotencyConflict if an id is reused for
    a different content inside the batch; InvalidTransfer if the batch is empty."""
    if not transfers:
        raise InvalidTransfer("", "a batch holds at least one transfer")
    seen: dict[str, Transfer] = {}
    for t in transfers:
        first = seen.setdefault(t.transfer_id, t)
        if content_hash(first) != content_hash(t):
            raise IdempotencyConflict(t.transfer_id)
    return tuple(seen.values())


def legs(t: Transfer) -> tuple[tuple[str, Fen], tuple[str, Fen]]:
    """The two signed legs of posted money: the debit (−amount) and the credit (+amount)."""
    return (t.debit, Fen(-t.amount)), (t.credit, t.amount)
