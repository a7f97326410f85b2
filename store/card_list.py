"""An enterprise's cards as the console lists them: filtered, in ICCID order, a page at a time
with a keyset cursor (`after`: the last ICCID of the page before), and exported in batches.

A card's desired status and its `pool_exhausted` reason come from its pool's row, so the list
first reads the enterprise's used-up pools (a handful) and then filters on the card's own
columns only: "stopped" is "has a reason of its own, or is in one of those pools". Every
filter then has an index that gives ICCID order (migration 0015), and a page reads about as
many rows as it shows. The number of matching cards is counted only up to `COUNT_CAP`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, get_args

from psycopg import sql
from psycopg.rows import class_row

from core.operators import OPERATORS
from domain.quota.rules import POOL_EXHAUSTED, REASON_ORDER
from store.db import Conn

Status = Literal["active", "stopped"]
STATUSES: tuple[Status, ...] = get_args(Status)
PAGE_SIZE = 50
COUNT_CAP = 1000
EXPORT_BATCH = 5000


@dataclass(frozen=True)
class CardFilter:
    """What the list is narrowed to; None means any. Values are checked by `checked()`."""

    iccid_prefix: str | None = None
    msisdn: str | None = None
    status: Status | None = None
    reason: str | None = None
    operator: str | None = None
    pool_id: str | None = None

    def checked(self) -> CardFilter:
        """Refuse codes the list does not know (the page offers only known ones)."""
        if self.iccid_prefix is not None and not self.iccid_prefix.isdigit():
            raise ValueError("an ICCID prefix is digits")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.reason is not None and self.reason not in REASON_ORDER:
            raise ValueError(f"unknown reason {self.reason!r}")
        if self.operator is not None and self.operator not in OPERATORS:
            raise ValueError(f"unknown operator {self.operator!r}")
        return self


@dataclass(frozen=True)
class CardRow:
    """A line of the list."""

    iccid: str
    msisdn: str | None
    operator: str
    pool_id: str | None
    package_bytes: int | None
    cycle_usage_bytes: int
    desired_status: str
    stop_reasons: list[str]
    network_status: str
    control_state: str | None
    pending_confirmation: bool


@dataclass(frozen=True)
class CardPage:
    """One page and the cursors of its neighbours: `next` is the `after` of the next page,
    `previous` the `after` of the previous one ("" for the first page), None when there is
    none."""

    rows: list[CardRow]
    next: str | None
    previous: str | None
    matching: int  # counted up to COUNT_CAP + 1

    @property
    def shown(self) -> int:
        return len(self.rows)


_EXHAUSTED = ("SELECT pool_id FROM pools WHERE enterprise_id = %s AND exhausted"
              " ORDER BY pool_id")
_POOL_IDS = "SELECT pool_id FROM pools WHERE enterprise_id = %s ORDER BY pool_id"
_NUMBER_EXISTS = ("SELECT EXISTS (SELECT 1 FROM cards WHERE msisdn = %s"
                  " AND enterprise_id = %s)")
# The limit applies to cards alone (every filter is on the card's columns); the joins then
# read only the rows shown.
_PAGE = """
SELECT c.iccid, c.msisdn, c.operator, c.pool_id, c.package_bytes,
       coalesce(u.bytes, 0) AS cycle_usage_bytes,
       cp_desired_status(c.stop_reasons, p.exhausted) AS desired_status,
       cp_effective_reasons(c.stop_reasons, p.exhausted) AS stop_reasons,
       c.network_status, k.state AS control_state,
       k.in_flight IS NOT NULL AS pending_confirmation
FROM (SELECT * FROM cards c WHERE {where} ORDER BY c.iccid {order} LIMIT {limit}) c
LEFT JOIN pools p ON p.pool_id = c.pool_id
LEFT JOIN card_control k ON k.iccid = c.iccid
LEFT JOIN card_cycle_usage u ON u.iccid = c.iccid AND u.cycle = cp_cycle(cp_now(), {tz})
ORDER BY c.iccid {order}
"""
_COUNT = "SELECT count(*) FROM (SELECT 1 FROM cards c WHERE {where} LIMIT {limit}) c"


def _prefix_end(prefix: str) -> str:
    """The first string after every string starting with `prefix` (digits)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _own_reason(reason: str) -> sql.Composable:
    # The reason as a literal, so that the planner matches the reason's partial index
    # (cards_reason_<reason>, migration 0015), which holds only the cards with that reason.
    return sql.SQL("{} = ANY(c.stop_reasons)").format(sql.Literal(reason))


def _conditions(enterprise_id: str, f: CardFilter, exhausted: list[str]) -> list[sql.Composable]:
    used_up = sql.Literal(exhausted)
    out: list[sql.Composable] = [sql.SQL("c.enterprise_id = {}").format(
        sql.Literal(enterprise_id))]
    if f.iccid_prefix:
        out.append(sql.SQL("c.iccid >= {lo} AND c.iccid < {hi} AND c.iccid LIKE {like}").format(
            lo=sql.Literal(f.iccid_prefix), hi=sql.Literal(_prefix_end(f.iccid_prefix)),
            like=sql.Literal(f.iccid_prefix + "%")))
    if f.msisdn:
        out.append(sql.SQL("c.msisdn = {}").format(sql.Literal(f.msisdn)))
    if f.operator:
        out.append(sql.SQL("c.operator = {}").format(sql.Literal(f.operator)))
    if f.pool_id:
        out.append(sql.SQL("c.pool_id = {}").format(sql.Literal(f.pool_id)))
    if f.status == "stopped":
        out.append(sql.SQL("(c.stop_reasons <> '{{}}' OR c.pool_id = ANY({}::text[]))").format(
            used_up))
    elif f.status == "active":
        out.append(sql.SQL("c.stop_reasons = '{{}}' AND (c.pool_id IS NULL OR"
                           " NOT c.pool_id = ANY({}::text[]))").format(used_up))
    if f.reason == POOL_EXHAUSTED:
        out.append(sql.SQL("c.pool_id = ANY({}::text[])").format(used_up))
    elif f.reason:
        out.append(_own_reason(f.reason))
    return out


async def exhausted_pools(conn: Conn, enterprise_id: str) -> list[str]:
    cur = await conn.execute(_EXHAUSTED, (enterprise_id,))
    return [str(row[0]) for row in await cur.fetchall()]


async def pool_ids(conn: Conn, enterprise_id: str) -> list[str]:
    """The enterprise's pools, for the list's pool filter."""
    cur = await conn.execute(_POOL_IDS, (enterprise_id,))
    return [str(row[0]) for row in await cur.fetchall()]


async def is_number(conn: Conn, enterprise_id: str, msisdn: str) -> bool:
    """Whether one of the enterprise's cards has this MSISDN (the search box takes either)."""
    cur = await conn.execute(_NUMBER_EXISTS, (msisdn, enterprise_id))
    row = await cur.fetchone()
    return bool(row and row[0])


async def _rows(conn: Conn, where: list[sql.Composable], timezone: str, limit: int,
                backward: bool = False) -> list[CardRow]:
    query = sql.SQL(_PAGE).format(  # noqa: S608 - composed from literals and fixed SQL
        where=sql.SQL(" AND ").join(where), order=sql.SQL("DESC" if backward else "ASC"),
        limit=sql.Literal(limit), tz=sql.Literal(timezone))
    async with conn.cursor(row_factory=class_row(CardRow)) as cur:
        await cur.execute(query)
        return await cur.fetchall()


def _after(where: list[sql.Composable], iccid: str, backward: bool = False
           ) -> list[sql.Composable]:
    op = "<" if backward else ">"
    return [*where, sql.SQL("c.iccid " + op + " {}").format(sql.Literal(iccid))]


async def list_page(conn: Conn, enterprise_id: str, timezone: str, f: CardFilter,
                    after: str | None = None, size: int = PAGE_SIZE) -> CardPage:
    """The page of cards after the ICCID `after` (the first page without it)."""
    where = _conditions(enterprise_id, f.checked(), await exhausted_pools(conn, enterprise_id))
    rows = await _rows(conn, _after(where, after) if after else where, timezone, size + 1)
    following = rows[size - 1].iccid if len(rows) > size else None
    previous = None
    if after:
        before = await _rows(conn, _after(where, rows[0].iccid if rows else after + "~",
                                          backward=True), timezone, size + 1, backward=True)
        previous = before[size].iccid if len(before) > size else ""
    return CardPage(rows[:size], following, previous, await _count(conn, where))


async def _count(conn: Conn, where: list[sql.Composable], cap: int = COUNT_CAP) -> int:
    """How many cards match, counted up to `cap` + 1 (the page says "more than" beyond)."""
    query = sql.SQL(_COUNT).format(  # noqa: S608 - composed from literals and fixed SQL
        where=sql.SQL(" AND ").join(where), limit=sql.Literal(cap + 1))
    row = await (await conn.execute(query)).fetchone()
    return int(row[0]) if row else 0


async def export_batches(conn: Conn, enterprise_id: str, timezone: str, f: CardFilter,
                         limit: int | None = None, batch: int = EXPORT_BATCH
                         ) -> AsyncIterator[list[CardRow]]:
    """Every matching card (up to `limit`), in ICCID order, `batch` at a time: each batch is
    one keyset query, so an export of a million cards holds one batch in memory."""
    where = _conditions(enterprise_id, f.checked(), await exhausted_pools(conn, enterprise_id))
    after, sent = None, 0
    while limit is None or sent < limit:
        size = batch if limit is None else min(batch, limit - sent)
        rows = await _rows(conn, _after(where, after) if after else where, timezone, size)
        if not rows:
            return
        yield rows
        sent, after = sent + len(rows), rows[-1].iccid
        if len(rows) < size:
            return
