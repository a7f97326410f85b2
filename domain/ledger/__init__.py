"""The double-entry ledger, pure: account keys and their floors (`accounts`), transfers and
their idempotency hash (`transfers`), balances and the floor decision (`balances`), statements
(`statements`) and what the ledger refuses (`errors`). `store.ledger` does the I/O."""

from domain.ledger.accounts import (
    KINDS,
    PAYMENT_CHANNEL,
    REVENUE,
    AccountKind,
    Floor,
    account_kind,
    agent_available,
    agent_commission_frozen,
    agent_withdrawing,
    card_wallet,
    enterprise_alipay,
    enterprise_wallet,
    factory_settlement,
    is_account,
    order_escrow,
    supplier_fund,
)
from domain.ledger.balances import Balance, apply, check, empty, plan, resolution_problem
from domain.ledger.errors import (
    AlreadyReversed,
    HoldNotPending,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAccount,
    InvalidTransfer,
    LedgerError,
)
from domain.ledger.statements import Entry, Statement, StatementLine, build_statement
from domain.ledger.transfers import (
    MAY_OVERDRAW,
    FeeType,
    Phase,
    Transfer,
    content_hash,
    dedupe_batch,
    hold,
    legs,
    post,
    reversal,
    transfer_problem,
    void,
)

__all__ = [
    "KINDS", "MAY_OVERDRAW", "PAYMENT_CHANNEL", "REVENUE", "AccountKind", "AlreadyReversed",
    "Balance", "Entry", "FeeType", "Floor", "HoldNotPending", "IdempotencyConflict",
    "InsufficientFunds", "InvalidAccount", "InvalidTransfer", "LedgerError", "Phase",
    "Statement", "StatementLine", "Transfer", "account_kind", "agent_available",
    "agent_commission_frozen", "agent_withdrawing", "apply", "build_statement", "card_wallet",
    "check", "content_hash", "dedupe_batch", "empty", "enterprise_alipay", "enterprise_wallet",
    "factory_settlement", "hold", "is_account", "legs", "order_escrow", "plan", "post",
    "resolution_problem", "reversal", "supplier_fund", "transfer_problem", "void",
]
