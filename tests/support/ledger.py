"""Helpers for ledger tests: a connection per test, short transfer builders, and the balances
a test expects, read back in one call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from core.money import Fen
from domain.ledger import FeeType, Transfer
from store import ledger
from store.db import Conn


@asynccontextmanager
async def connect(db_url: str) -> AsyncIterator[Conn]:
    """An autocommit connection (each `ledger.transfer` is then its own transaction)."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        yield conn


def move(transfer_id: str, debit: str, credit: str, amount: int,
         fee_type: FeeType = FeeType.RETAIL, **tags: Any) -> Transfer:
    """A single-phase transfer with the amount given as a plain int of fen."""
    return Transfer(transfer_id, debit, credit, Fen(amount), fee_type, **tags)


async def balances(conn: Conn, *accounts: str) -> dict[str, int]:
    """The posted balance of each account."""
    return {key: (await ledger.balance(conn, key)).posted for key in accounts}
