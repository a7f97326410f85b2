"""Statements (G2-25): an account's entries over a period with the balance after each, from the
balance before the period; the closing balance is the ledger balance at the end of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from core.money import Fen


@dataclass(frozen=True)
class Entry:
    """One leg of posted money on an account (amount > 0 credits it, < 0 debits it)."""

    entry_id: int
    at: datetime
    transfer_id: str
    counterparty: str
    amount: Fen
    fee_type: str
    order_id: str | None
    order_line: str | None


@dataclass(frozen=True)
class StatementLine:
    entry: Entry
    balance_after: Fen


@dataclass(frozen=True)
class Statement:
    """`account` from `opening` through `lines` to `closing`; debits and credits in total."""

    account: str
    opening: Fen
    lines: tuple[StatementLine, ...]
    closing: Fen
    debits: Fen
    credits: Fen


def build_statement(account: str, opening: Fen, entries: Iterable[Entry]) -> Statement:
    """The statement of `entries` (in the order they were applied) after `opening`."""
    lines: list[StatementLine] = []
    balance = opening
    debits = credits = 0
    for entry in entries:
        balance = Fen(balance + entry.amount)
        lines.append(StatementLine(entry, balance))
        debits += max(-entry.amount, 0)
        credits += max(entry.amount, 0)
    return Statement(account, opening, tuple(lines), balance, Fen(debits), Fen(credits))
