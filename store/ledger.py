"""The double-entry ledger in integer fen (G2-21…G2-25): every fen CardPulse moves goes through
`transfer`, in the same PostgreSQL transaction as the business change that causes it.

The model (TigerBeetle's, in PostgreSQL; schema in migrations/0020_ledger.sql):
  * An **account** (`ledger_accounts`) is named by a G2-22 key (`agent:a1:available`, built by
    `domain.ledger.accounts`) and keeps four totals: debits and credits, posted and pending.
    balance = credits − debits; available = balance − pending debits. Its floor
    (`must_not_go_negative` for money held for someone, `none` for the outside world and
    revenue) comes from its kind. Accounts are **created on first use** with that floor: there
    is nothing to configure per account, and a debit from a new floored account is simply
    refused for lack of funds.
  * A **transfer** (`ledger_transfers`) debits one account and credits another by the same
    amount > 0; it is immutable. Its id, chosen by the caller, is the idempotency key: the same
    id with the same content (`content_hash`) returns the original and changes nothing; the
    same id with another content raises IdempotencyConflict (409 `idempotency_conflict`).
  * **Holds**: a `pending` transfer reserves its amount against the debit account's floor; a
    `post_pending` transfer posts it (all, or part: the rest is released), a `void_pending`
    releases it. Mistakes are corrected by a **reversal**, a new transfer that references the
    original (at most one per transfer).
  * Posted money also writes one **entry** per leg (`ledger_entries`) with a floored account's
    balance after it (NULL for an account with no floor): statements are one ordered read.

Concurrency: `transfer` locks every floored account of a batch in sorted key order
(pgledger), so concurrent batches queue instead of deadlocking and each decides on current
balances; the floor decision is `domain.ledger.plan`, made once per batch under those locks.
An account with no floor (`Floor.NONE`: revenue, the payment channel, outside money) is never
locked nor updated: nothing can refuse its movements, so its legs are appended
(`ledger_account_moves`, migration 0090) and its totals summed when read (`ledger_balances`);
the revenue and payment-channel rows no longer serialise every order. A transfer is two
round trips (pipeline mode): the reads under the locks, then the writes and the read-back.
Call it at READ COMMITTED (the default), on its own or inside the caller's transaction (it
then holds the locks until that transaction ends; the zero-sum check runs at its COMMIT), as
late in that transaction as it can come.

Time: transfers are stamped `cp_now()`, entries `ledger_now()` (the platform clock when the
row is written, under the account lock), so an account's entries are in time order as in id
order and a statement's period [start, end) cuts its chain of balances cleanly.

The database guards the same invariants against any code path (triggers): legs sum to 0 at
COMMIT, floors hold unless a transfer allows a G2-16 clawback, totals move only through
entries and holds, nothing is updated or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.money import Fen
from domain.ledger import transfers as tr
from domain.ledger.accounts import Floor, account_kind
from domain.ledger.balances import Balance, empty, plan
from domain.ledger.errors import AlreadyReversed, IdempotencyConflict
from domain.ledger.statements import Entry, Statement, build_statement
from domain.ledger.transfers import FeeType, Phase, Transfer, content_hash
from store.db import Conn
from store.errors import NotFound


@dataclass(frozen=True)
class StoredTransfer:
    """A transfer as recorded, with its state (a hold: pending, then posted or voided)."""

    transfer_id: str
    debit_account: str
    credit_account: str
    amount: int
    phase: str
    state: str
    pending_id: str | None
    fee_type: str
    order_id: str | None
    order_line: str | None
    reverses: str | None
    allow_negative: bool
    content_hash: str
    metadata: dict[str, Any]
    created_at: datetime

    def as_transfer(self) -> Transfer:
        """The transfer as the domain knows it (what was asked for)."""
        return Transfer(self.transfer_id, self.debit_account, self.credit_account,
                        Fen(self.amount), FeeType(self.fee_type), self.order_id,
                        self.order_line, Phase(self.phase), self.pending_id, self.reverses,
                        self.allow_negative, self.metadata)


@dataclass(frozen=True)
class TrialBalance:
    """The whole ledger at once: posted balances sum to 0, pending debits equal pending credits."""

    accounts: int
    posted_sum: Fen
    pending_debits: Fen
    pending_credits: Fen

    @property
    def balanced(self) -> bool:
        return self.posted_sum == 0 and self.pending_debits == self.pending_credits


# Only the accounts not there yet: an INSERT … ON CONFLICT on an existing row would wait for
# any transaction that has it locked.
_OPEN = """
INSERT INTO ledger_accounts (account, kind, floor)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) AS wanted (account, kind, floor)
WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.account = wanted.account)
ON CONFLICT (account) DO NOTHING
"""
# One lock order for everyone: the key's bytes (COLLATE "C", as Python's sorted()). Only
# floored accounts are locked: one with no floor is only appended to (migration 0090).
_LOCK = """
SELECT account, floor, debits_posted, credits_posted, debits_pending, credits_pending
FROM ledger_accounts WHERE account = ANY(%s) ORDER BY account COLLATE "C" FOR UPDATE
"""
_BALANCE = """
SELECT account, floor, debits_posted, credits_posted, debits_pending, credits_pending
FROM ledger_balances WHERE account = %s
"""
_TRANSFERS = "SELECT * FROM ledger_transfers WHERE transfer_id = ANY(%s)"
_HOLDS = _TRANSFERS + " AND phase = 'pending' FOR UPDATE"
_REVERSED = """
SELECT reverses, transfer_id FROM ledger_transfers WHERE reverses = ANY(%s) ORDER BY reverses
"""
_INSERT = """
INSERT INTO ledger_transfers (transfer_id, debit_account, credit_account, amount, phase, state,
    pending_id, fee_type, order_id, order_line, reverses, allow_negative, content_hash, metadata)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
# balance_after is stamped by the ledger_apply_entry trigger.
_ENTRIES = """
INSERT INTO ledger_entries (transfer_id, account, amount, balance_after)
VALUES (%s, %s, %s, 0), (%s, %s, %s, 0)
"""
_OPENING = """
SELECT balance_after FROM ledger_entries WHERE account = %s AND created_at < %s
ORDER BY entry_id DESC LIMIT 1
"""
# An account with no floor has no running balance stamped (0090): the sum before the period.
_OPENING_SUM = """
SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE account = %s AND created_at < %s
"""
_LINES = """
SELECT e.entry_id, e.created_at AS at, e.transfer_id,
       CASE WHEN e.amount < 0 THEN t.credit_account ELSE t.debit_account END AS counterparty,
       e.amount, t.fee_type, t.order_id, t.order_line
FROM ledger_entries e JOIN ledger_transfers t USING (transfer_id)
WHERE e.account = %s AND e.created_at >= coalesce(%s, '-infinity'::timestamptz)
  AND e.created_at < coalesce(%s, 'infinity'::timestamptz)
ORDER BY e.entry_id
"""
_OF_ORDER = """
SELECT * FROM ledger_transfers WHERE order_id = %s ORDER BY created_at, order_line, transfer_id
"""
_TRIAL = """
SELECT count(*), coalesce(sum(credits_posted - debits_posted), 0),
       coalesce(sum(debits_pending), 0), coalesce(sum(credits_pending), 0)
FROM ledger_balances
"""
_STATES = {Phase.SINGLE: "posted", Phase.PENDING: "pending", Phase.POST_PENDING: "posted",
           Phase.VOID_PENDING: "voided"}


async def transfer(conn: Conn, *transfers: Transfer) -> list[StoredTransfer]:
    """Apply a batch of transfers atomically, in order; return them as stored.

    Transfers already recorded with the same content are returned unchanged. Raises
    IdempotencyConflict, InsufficientFunds, HoldNotPending or AlreadyReversed (and then
    applies nothing)."""
    batch = tr.dedupe_batch(transfers)
    ids = [t.transfer_id for t in batch]
    accounts = sorted({key for t in batch for key in (t.debit, t.credit)})
    floored = [key for key in accounts if account_kind(key).floor is not Floor.NONE]
    pending_ids = [t.pending_id for t in batch if t.pending_id is not None]
    originals = [t.reverses for t in batch if t.reverses is not None]
    try:
        # Two round trips: the reads (accounts opened, floored ones locked, the batch's ids,
        # holds and reversals), then the writes and the read-back.
        async with conn.pipeline(), conn.transaction():
            await _open(conn, accounts)
            locked = await conn.execute(_LOCK, (floored,))
            known = await _query(conn, _TRANSFERS, ids)
            holds = (await _query(conn, _HOLDS, pending_ids)) if pending_ids else None
            reversed_ = (await conn.execute(_REVERSED, (originals,))) if originals else None
            balances = {key: empty(key) for key in accounts}
            balances.update({row[0]: _balance(row) for row in await locked.fetchall()})
            stored = await _rows(known)
            fresh = _fresh(batch, stored)
            if not fresh:
                return [stored[i] for i in ids]
            held = {} if holds is None else await _rows(holds)
            again = {t.reverses for t in fresh if t.reverses is not None}
            if reversed_ is not None and again:
                for original, by in await reversed_.fetchall():
                    if original in again:
                        raise AlreadyReversed(original, by)
            plan(balances, fresh, {key: (row.as_transfer(), row.state)
                                   for key, row in held.items()})
            await _insert(conn, fresh)
            stored = await _rows(await _query(conn, _TRANSFERS, ids))
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name == "ledger_transfers_pkey":  # a racing, different transfer
            raise IdempotencyConflict(_duplicate_id(exc, batch)) from None
        raise
    return [stored[i] for i in ids]


async def append_last(conn: Conn, *transfers: Transfer) -> None:
    """Queue single posted transfers as the last statements of the caller's transaction, in
    pipeline mode, to be sent with its COMMIT: no account is locked before their entries are
    written, so a floored account's row is held only while the server writes them and
    commits — never across a round trip to the client.

    The database decides (the `ledger_apply_entry` trigger: the floor; the primary key: the
    id) and nothing is read back: a refusal surfaces at the commit as a psycopg error
    (CheckViolation `ledger_floor`, UniqueViolation) with the whole transaction rolled back.
    The caller then does it again with `transfer`, which says why (InsufficientFunds,
    IdempotencyConflict) or finds the transfers already made. Each transfer's legs are written
    in the accounts' sorted order, the order `transfer` locks them in."""
    if any(t.phase is not Phase.SINGLE or t.reverses is not None for t in transfers):
        raise ValueError("only single transfers that reverse nothing are appended last")
    await _open(conn, sorted({key for t in transfers for key in (t.debit, t.credit)}))
    await conn.execute(_INSERT_MANY, (
        [t.transfer_id for t in transfers], [t.debit for t in transfers],
        [t.credit for t in transfers], [t.amount for t in transfers],
        [str(t.phase) for t in transfers], [_STATES[t.phase] for t in transfers],
        [str(t.fee_type) for t in transfers], [t.order_id for t in transfers],
        [t.order_line for t in transfers], [None for _ in transfers],
        [t.allow_negative for t in transfers], [content_hash(t) for t in transfers],
        [Jsonb(dict(t.metadata)) for t in transfers]))
    legs = [(t.transfer_id, account, amount) for t in transfers
            for account, amount in sorted(tr.legs(t))]
    await conn.execute(_ENTRIES_MANY, ([leg[0] for leg in legs], [leg[1] for leg in legs],
                                       [leg[2] for leg in legs]))


async def lock(conn: Conn, account: str) -> Balance:
    """Open `account` if new and lock its row to the end of the caller's transaction: the
    balance a batch of debits from it decides on (`transfer` then finds the lock held)."""
    async with conn.pipeline():
        await _open(conn, [account])
        row = await (await conn.execute(_LOCK, ([account],))).fetchone()
    return empty(account) if row is None else _balance(row)


async def hold(conn: Conn, transfer_id: str, debit: str, credit: str, amount: Fen,
               fee_type: FeeType, **tags: Any) -> StoredTransfer:
    """Reserve `amount` on `debit` (a pending transfer) until posted or voided."""
    return (await transfer(conn, tr.hold(transfer_id, debit, credit, amount, fee_type,
                                         **tags)))[0]


async def post_pending(conn: Conn, pending_id: str, transfer_id: str,
                       amount: Fen | None = None,
                       metadata: Mapping[str, Any] | None = None) -> StoredTransfer:
    """Post the hold `pending_id` for `amount` (default: all of it); the rest is released."""
    pending = (await get_transfer(conn, pending_id)).as_transfer()
    return (await transfer(conn, tr.post(pending, transfer_id, amount, metadata)))[0]


async def void_pending(conn: Conn, pending_id: str, transfer_id: str,
                       metadata: Mapping[str, Any] | None = None) -> StoredTransfer:
    """Release the hold `pending_id`."""
    pending = (await get_transfer(conn, pending_id)).as_transfer()
    return (await transfer(conn, tr.void(pending, transfer_id, metadata)))[0]


async def reverse(conn: Conn, transfer_id: str, new_id: str, *, fee_type: FeeType | None = None,
                  allow_negative: bool = False,
                  metadata: Mapping[str, Any] | None = None) -> StoredTransfer:
    """Correct posted transfer `transfer_id` with transfer `new_id` moving the money back.

    `allow_negative` lets it overdraw the account it debits (a G2-16 refund reversal)."""
    original = (await get_transfer(conn, transfer_id)).as_transfer()
    back = tr.reversal(original, new_id, fee_type=fee_type, allow_negative=allow_negative,
                       metadata=metadata)
    return (await transfer(conn, back))[0]


async def get_transfer(conn: Conn, transfer_id: str) -> StoredTransfer:
    found = await _stored(conn, [transfer_id])
    if transfer_id not in found:
        raise NotFound(f"transfer {transfer_id!r}")
    return found[transfer_id]


async def balance(conn: Conn, account: str) -> Balance:
    """The account's totals (all 0 for an account never used)."""
    account_kind(account)
    row = await (await conn.execute(_BALANCE, (account,))).fetchone()
    return empty(account) if row is None else _balance(row)


async def statement(conn: Conn, account: str, start: datetime | None = None,
                    end: datetime | None = None) -> Statement:
    """The account's entries with `start` ≤ time < `end` (open ends: all), the balance before
    them and after each; with no `end`, the closing balance is the account's balance."""
    account_kind(account)
    opening = 0
    if start is not None:
        query = _OPENING_SUM if account_kind(account).floor is Floor.NONE else _OPENING
        row = await (await conn.execute(query, (account, start))).fetchone()
        opening = 0 if row is None or row[0] is None else int(row[0])
    async with conn.cursor(row_factory=class_row(Entry)) as cur:
        await cur.execute(_LINES, (account, start, end))
        entries = await cur.fetchall()
    return build_statement(account, Fen(opening), entries)


async def order_transfers(conn: Conn, order_id: str) -> list[StoredTransfer]:
    """Every transfer tagged with the order, for reconciliation per line and fee type (G2-23)."""
    async with conn.cursor(row_factory=class_row(StoredTransfer)) as cur:
        await cur.execute(_OF_ORDER, (order_id,))
        return await cur.fetchall()


async def trial_balance(conn: Conn) -> TrialBalance:
    """Every account's balance summed (0 in a sound ledger) and the pending totals."""
    row = await (await conn.execute(_TRIAL)).fetchone() or (0, 0, 0, 0)  # always one row
    return TrialBalance(int(row[0]), Fen(int(row[1])), Fen(int(row[2])), Fen(int(row[3])))


async def _open(conn: Conn, accounts: list[str]) -> None:
    kinds = [account_kind(key) for key in accounts]
    await conn.execute(_OPEN, (accounts, [k.name for k in kinds], [str(k.floor) for k in kinds]))


def _balance(row: Sequence[Any]) -> Balance:
    return Balance(row[0], Floor(row[1]), *(int(v) for v in row[2:6]))


async def _stored(conn: Conn, ids: list[str], query: str = _TRANSFERS,
                  ) -> dict[str, StoredTransfer]:
    async with conn.cursor(row_factory=class_row(StoredTransfer)) as cur:
        await cur.execute(query, (ids,))
        return {row.transfer_id: row for row in await cur.fetchall()}


def _fresh(batch: tuple[Transfer, ...], stored: Mapping[str, StoredTransfer],
           ) -> tuple[Transfer, ...]:
    """The transfers not recorded yet; IdempotencyConflict for an id recorded differently."""
    for t in batch:
        if t.transfer_id in stored and stored[t.transfer_id].content_hash != content_hash(t):
            raise IdempotencyConflict(t.transfer_id)
    return tuple(t for t in batch if t.transfer_id not in stored)


async def _query(conn: Conn, query: str, ids: list[str]) -> psycopg.AsyncCursor[StoredTransfer]:
    """Send `query` of transfers by id (in pipeline mode: queued, read later by `_rows`)."""
    cur = conn.cursor(row_factory=class_row(StoredTransfer))
    await cur.execute(query, (ids,))
    return cur


async def _rows(cur: psycopg.AsyncCursor[StoredTransfer]) -> dict[str, StoredTransfer]:
    return {row.transfer_id: row for row in await cur.fetchall()}


_INSERT_MANY = """
INSERT INTO ledger_transfers (transfer_id, debit_account, credit_account, amount, phase, state,
    fee_type, order_id, order_line, reverses, allow_negative, content_hash, metadata)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[],
                     %s::text[], %s::text[], %s::text[], %s::text[], %s::boolean[], %s::text[],
                     %s::jsonb[])
"""
_ENTRIES_MANY = """
INSERT INTO ledger_entries (transfer_id, account, amount, balance_after)
SELECT t, a, x, 0 FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS legs (t, a, x)
"""
_MANY = 8  # from this many posted single transfers on, two multi-row statements


async def _insert(conn: Conn, fresh: tuple[Transfer, ...]) -> None:
    """Queue the transfers and their entries, in order, in the pipeline. Many single
    transfers (a batch of orders' payments or settlements) go in two multi-row statements,
    all the transfers and then their legs in the same order: for single transfers nothing
    but the legs moves a total, so the database checks the same sequence of balances."""
    if len(fresh) >= _MANY and all(t.phase is Phase.SINGLE for t in fresh):
        await conn.execute(_INSERT_MANY, (
            [t.transfer_id for t in fresh], [t.debit for t in fresh], [t.credit for t in fresh],
            [t.amount for t in fresh], [str(t.phase) for t in fresh],
            [_STATES[t.phase] for t in fresh], [str(t.fee_type) for t in fresh],
            [t.order_id for t in fresh], [t.order_line for t in fresh],
            [t.reverses for t in fresh], [t.allow_negative for t in fresh],
            [content_hash(t) for t in fresh], [Jsonb(dict(t.metadata)) for t in fresh]))
        legs = [(t.transfer_id, account, amount) for t in fresh for account, amount in tr.legs(t)]
        await conn.execute(_ENTRIES_MANY, ([leg[0] for leg in legs], [leg[1] for leg in legs],
                                           [leg[2] for leg in legs]))
        return
    for t in fresh:
        await conn.execute(_INSERT, (
            t.transfer_id, t.debit, t.credit, t.amount, str(t.phase),
            _STATES[t.phase], t.pending_id, str(t.fee_type), t.order_id, t.order_line,
            t.reverses, t.allow_negative, content_hash(t), Jsonb(dict(t.metadata))))
        if t.posts_money:
            (debit, out), (credit, into) = tr.legs(t)
            await conn.execute(_ENTRIES, (t.transfer_id, debit, out, t.transfer_id, credit, into))


def _duplicate_id(exc: psycopg.errors.UniqueViolation, batch: tuple[Transfer, ...]) -> str:
    """The id the database names in `Key (transfer_id)=(…) already exists`."""
    for t in batch:
        if f"=({t.transfer_id})" in (exc.diag.message_detail or ""):
            return t.transfer_id
    return batch[0].transfer_id
