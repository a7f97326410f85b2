"""What the platform's money pages read that the API does not: every order filtered by kind,
state, method, agent and creation date, and the ledger's transfers per order line and fee type
for finance's reconciliation (G2-23)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from store.db import Conn
from store.orders import Order


@dataclass(frozen=True)
class OrderFilter:
    """Every field optional; dates bound `created_at` as [start, end)."""

    kind: str | None = None
    state: str | None = None
    method: str | None = None
    agent_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class LedgerLine:
    """A transfer as finance reconciles it: the order, its line, the fee type."""

    order_id: str | None
    order_line: str | None
    fee_type: str
    transfer_id: str
    debit_account: str
    credit_account: str
    amount: int
    state: str
    reverses: str | None
    created_at: datetime


_ORDERS = """
SELECT * FROM orders
WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)
  AND (%(state)s::text IS NULL OR state = %(state)s)
  AND (%(method)s::text IS NULL OR method = %(method)s)
  AND (%(agent)s::text IS NULL OR agent_id = %(agent)s)
  AND (%(start)s::timestamptz IS NULL OR created_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR created_at < %(end)s)
ORDER BY created_at DESC, order_id DESC LIMIT %(limit)s
"""
_LEDGER = """
SELECT order_id, order_line, fee_type, transfer_id, debit_account, credit_account, amount,
       state, reverses, created_at
FROM ledger_transfers
WHERE order_id IS NOT NULL
  AND (%(start)s::timestamptz IS NULL OR created_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR created_at < %(end)s)
  AND (%(order)s::text IS NULL OR order_id = %(order)s)
ORDER BY order_id, order_line NULLS FIRST, fee_type, created_at, transfer_id
LIMIT %(limit)s
"""


async def balances(conn: Conn, accounts: list[str]) -> dict[str, int]:
    """The posted balances of `accounts` at once (an account never used is absent: 0)."""
    rows = await (await conn.execute(
        "SELECT account, credits_posted - debits_posted FROM ledger_balances "
        "WHERE account = ANY(%s)", (accounts,))).fetchall()
    return {str(row[0]): int(row[1]) for row in rows}


async def search_orders(conn: Conn, found: OrderFilter, limit: int = 500) -> list[Order]:
    """The newest orders matching `found`, at most `limit`."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(_ORDERS, {"kind": found.kind, "state": found.state,
                                    "method": found.method, "agent": found.agent_id,
                                    "start": found.start, "end": found.end, "limit": limit})
        return await cur.fetchall()


async def ledger_lines(conn: Conn, start: datetime | None = None, end: datetime | None = None,
                       order_id: str | None = None, limit: int = 100_000) -> list[LedgerLine]:
    """The orders' transfers made in [start, end), by order, line and fee type."""
    async with conn.cursor(row_factory=class_row(LedgerLine)) as cur:
        await cur.execute(_LEDGER, {"start": start, "end": end, "order": order_id,
                                    "limit": limit})
        return await cur.fetchall()
