"""What the ledger refuses, as exceptions carrying the 409 code and messages the API will send
(C-06): the code is stable, the Chinese and English texts are what a person reads."""

from __future__ import annotations

from core.money import Fen, yuan
from domain.refusals import Refusal


class LedgerError(Refusal):
    """A refusal of the ledger; `code`, `message_zh` and `message_en` go into a 409 answer."""

    code = "ledger_refused"
    message_zh = "账务操作被拒绝"
    message_en = "The ledger refused the operation"


class InvalidAccount(LedgerError, ValueError):
    """An account key that follows none of the G2-22 patterns (a programming error: 500)."""

    code = "invalid_account"

    def __init__(self, key: str) -> None:
        super().__init__(f"{key!r} is not a ledger account key")
        self.key = key


class InvalidTransfer(LedgerError, ValueError):
    """A transfer that can never be applied, whatever the balances (a programming error)."""

    code = "invalid_transfer"

    def __init__(self, transfer_id: str, problem: str) -> None:
        super().__init__(f"transfer {transfer_id!r}: {problem}")
        self.transfer_id = transfer_id
        self.problem = problem


class InsufficientFunds(LedgerError):
    """The debit would take a floored account below 0 (G2-04, G2-15, G2-16)."""

    code = "insufficient_balance"
    message_zh = "余额不足"
    message_en = "Insufficient balance"

    def __init__(self, account: str, available: Fen, needed: Fen) -> None:
        super().__init__(f"{account}: available {yuan(available)} yuan, needed {yuan(needed)}")
        self.account = account
        self.available = available
        self.needed = needed


class IdempotencyConflict(LedgerError):
    """The transfer id was used before for a different content (C-05)."""

    code = "idempotency_conflict"
    message_zh = "幂等键已用于不同的请求"
    message_en = "The idempotency key was already used for a different request"

    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"transfer {transfer_id!r} exists with a different content")
        self.transfer_id = transfer_id


class HoldNotPending(LedgerError):
    """A post or void of a hold that is already posted or voided, or that it does not fit."""

    code = "hold_not_pending"
    message_zh = "冻结款项已处理"
    message_en = "The hold is no longer pending"

    def __init__(self, pending_id: str, problem: str) -> None:
        super().__init__(f"hold {pending_id!r}: {problem}")
        self.pending_id = pending_id
        self.problem = problem


class AlreadyReversed(LedgerError):
    """The transfer was already reversed by another transfer."""

    code = "already_reversed"
    message_zh = "该款项已冲正"
    message_en = "The transfer was already reversed"

    def __init__(self, transfer_id: str, by: str) -> None:
        super().__init__(f"transfer {transfer_id!r} was already reversed by {by!r}")
        self.transfer_id = transfer_id
        self.by = by
