"""Queries for cards: registration, configuration changes, manual stop/resume, the card view.

Every change runs in one transaction that locks the card and re-runs the quota rules
(`store.quota.evaluate`), so a new package or pool takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from store.controls import rearm_failed
from store.db import Conn
from store.quota import DesiredChange, Outcome, evaluate
from store.tenants import AlreadyExists, NotFound
from store.usage import MEMBERSHIP_LOCK
from streams.quota_rules import MANUAL, desired_status, effective_reasons


class Invalid(Exception):
    """The change breaks a rule for `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CardView:
    """A card as the API shows it: configuration, current cycle and state."""

    iccid: str
    enterprise_id: str
    operator: str
    pool_id: str | None
    package_bytes: int | None
    cycle: str
    cycle_usage_bytes: int
    desired_status: str
    stop_reasons: list[str]
    network_status: str
    warn_percents: list[int]
    control: dict[str, object] | None = None


_VIEW = """
SELECT c.iccid, c.enterprise_id, c.operator, c.pool_id, c.package_bytes,
       to_char(cp_now() AT TIME ZONE e.timezone, 'YYYY-MM'), coalesce(u.bytes, 0),
       c.stop_reasons, coalesce(p.exhausted, false), c.network_status, c.warn_percents,
       k.target, k.state, k.attempts, k.last_command, k.last_outcome, k.last_error,
       k.last_command_at
FROM cards c
JOIN enterprises e ON e.enterprise_id = c.enterprise_id
LEFT JOIN pools p ON p.pool_id = c.pool_id
LEFT JOIN card_control k ON k.iccid = c.iccid
LEFT JOIN card_cycle_usage u
       ON u.iccid = c.iccid AND u.cycle = cp_cycle(cp_now(), e.timezone)
WHERE c.iccid = %s
"""

_MOVE_USAGE = """
INSERT INTO pool_cycle_usage AS t (pool_id, cycle, bytes)
SELECT %(pool)s, cp_cycle(cp_now(), e.timezone), %(sign)s * coalesce(u.bytes, 0)
FROM cards c JOIN enterprises e ON e.enterprise_id = c.enterprise_id
LEFT JOIN card_cycle_usage u ON u.iccid = c.iccid AND u.cycle = cp_cycle(cp_now(), e.timezone)
WHERE c.iccid = %(iccid)s
ON CONFLICT (pool_id, cycle) DO UPDATE SET bytes = t.bytes + excluded.bytes, updated_at = now()
"""


async def get_card(conn: Conn, iccid: str) -> CardView:
    cur = await conn.execute(_VIEW, (iccid,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(iccid)
    (iccid, ent, operator, pool_id, package, cycle, used, own, exhausted, network,
     warn, *control) = row
    reasons = effective_reasons(own, exhausted)
    return CardView(iccid, ent, operator, pool_id, package, cycle, used,
                    desired_status(reasons), reasons, network, warn, _control(control))


_CONTROL_FIELDS = ("target", "state", "attempts", "last_command", "last_outcome", "last_error",
                   "last_command_at")


def _control(values: list[object]) -> dict[str, object] | None:
    """The reconciler's view of the card: what it drives toward and the last command."""
    if values[0] is None:
        return None
    return dict(zip(_CONTROL_FIELDS, values, strict=True))


async def _check_pool(conn: Conn, pool_id: str, enterprise_id: str) -> None:
    cur = await conn.execute("SELECT enterprise_id FROM pools WHERE pool_id = %s FOR SHARE",
                             (pool_id,))
    row = await cur.fetchone()
    if row is None or row[0] != enterprise_id:
        raise Invalid("pool_id", f"unknown pool {pool_id!r} for enterprise {enterprise_id!r}")


async def create_card(
    conn: Conn, iccid: str, enterprise_id: str, operator: str, package_bytes: int | None,
    pool_id: str | None, warn_percents: list[int], partition: int,
) -> tuple[CardView, Outcome]:
    async with conn.transaction():
        if pool_id is not None:
            await _check_pool(conn, pool_id, enterprise_id)
        try:
            await conn.execute(
                "INSERT INTO cards (iccid, enterprise_id, operator, package_bytes, pool_id,"
                " warn_percents, kafka_partition) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (iccid, enterprise_id, operator, package_bytes, pool_id, warn_percents,
                 partition),
            )
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(iccid) from None
        except psycopg.errors.ForeignKeyViolation:
            raise NotFound(enterprise_id) from None
        outcome = await evaluate(conn, iccids=[iccid], cause="card_created")
    return await get_card(conn, iccid), outcome


UNSET = object()


async def update_card(
    conn: Conn, iccid: str, *, package_bytes: object = UNSET, pool_id: object = UNSET,
    warn_percents: object = UNSET,
) -> tuple[CardView, Outcome]:
    """Change a card's package, pool or warning thresholds; the rules re-run at once."""
    async with conn.transaction():
        if pool_id is not UNSET:
            # Wait for usage batches in flight, so none adds this card's usage to a pool after
            # its usage has moved; taken before any row lock, like the batches do.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MEMBERSHIP_LOCK,))
        cur = await conn.execute(
            "SELECT enterprise_id, pool_id FROM cards WHERE iccid = %s FOR UPDATE", (iccid,))
        row = await cur.fetchone()
        if row is None:
            raise NotFound(iccid)
        enterprise_id, old_pool = row
        pools = {old_pool} if old_pool else set()
        if pool_id is not UNSET and pool_id != old_pool:
            if pool_id is not None:
                await _check_pool(conn, str(pool_id), enterprise_id)
                pools.add(str(pool_id))
                await conn.execute(_MOVE_USAGE, {"pool": pool_id, "sign": 1, "iccid": iccid})
            if old_pool is not None:
                await conn.execute(_MOVE_USAGE, {"pool": old_pool, "sign": -1, "iccid": iccid})
            await conn.execute("UPDATE cards SET pool_id = %s WHERE iccid = %s",
                               (pool_id, iccid))
        if package_bytes is not UNSET:
            await conn.execute("UPDATE cards SET package_bytes = %s WHERE iccid = %s",
                               (package_bytes, iccid))
        if warn_percents is not UNSET:
            await conn.execute("UPDATE cards SET warn_percents = %s WHERE iccid = %s",
                               (warn_percents, iccid))
        outcome = await evaluate(conn, iccids=[iccid], pool_ids=sorted(pools),
                                 cause="card_updated")
        view = await get_card(conn, iccid)
    return view, _with_card(outcome, view, "card_updated")


def _with_card(outcome: Outcome, view: CardView, cause: str) -> Outcome:
    """Make sure the card itself is in the changes (moving pools can flip pool_exhausted)."""
    if any(c.iccid == view.iccid for c in outcome.changes):
        return outcome
    change = DesiredChange(view.iccid, view.desired_status, view.stop_reasons, cause)
    return Outcome([*outcome.changes, change], outcome.alerts)


async def set_manual(conn: Conn, iccid: str, stopped: bool) -> tuple[CardView, Outcome]:
    """Add or remove only the `manual` reason."""
    async with conn.transaction():
        before = await get_card(conn, iccid)
        op = "array_append(stop_reasons, %s)" if stopped else "array_remove(stop_reasons, %s)"
        guard = "NOT (%s = ANY(stop_reasons))" if stopped else "%s = ANY(stop_reasons)"
        await conn.execute(
            f"UPDATE cards SET stop_reasons = {op}, desired_version = desired_version + 1,"  # noqa: S608
            " desired_at = now()"
            f" WHERE iccid = %s AND {guard}",
            (MANUAL, iccid, MANUAL),
        )
        await rearm_failed(conn, [iccid])
        view = await get_card(conn, iccid)
    cause = "manual_stop" if stopped else "manual_resume"
    if view.stop_reasons == before.stop_reasons:
        return view, Outcome([], [])
    return view, Outcome([DesiredChange(iccid, view.desired_status, view.stop_reasons, cause)],
                         [])


@dataclass(frozen=True)
class NewCard:
    """One card of a bulk import, already validated by the caller."""

    iccid: str
    operator: str
    package_bytes: int | None
    pool_id: str | None
    warn_percents: list[int]
    partition: int


@dataclass(frozen=True)
class ImportResult:
    created: list[str]
    existing: list[str]
    outcome: Outcome


_IMPORT_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS card_import (
    iccid text, operator text, package_bytes bigint, pool_id text, warn_percents int[],
    kafka_partition int
) ON COMMIT DELETE ROWS
"""

_IMPORT = """
INSERT INTO cards (iccid, enterprise_id, operator, package_bytes, pool_id, warn_percents,
                   kafka_partition)
SELECT iccid, %s, operator, package_bytes, pool_id, warn_percents, kafka_partition
FROM card_import ORDER BY iccid
ON CONFLICT (iccid) DO NOTHING
RETURNING iccid
"""


async def import_cards(conn: Conn, enterprise_id: str, new: list[NewCard]) -> ImportResult:
    """Register many cards of one enterprise in one transaction (binary COPY, one insert).

    Cards already registered are left exactly as they are and reported as `existing`; every
    pool named must belong to the enterprise, or nothing is imported."""
    async with conn.transaction():
        found = await (await conn.execute(
            "SELECT 1 FROM enterprises WHERE enterprise_id = %s", (enterprise_id,))).fetchone()
        if found is None:
            raise NotFound(enterprise_id)
        await _check_pools(conn, {c.pool_id for c in new if c.pool_id}, enterprise_id)
        cur = conn.cursor()
        await cur.execute(_IMPORT_STAGE)
        async with cur.copy("COPY card_import FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "text", "int8", "text", "int4[]", "int4"])
            for c in new:
                await copy.write_row((c.iccid, c.operator, c.package_bytes, c.pool_id,
                                      c.warn_percents, c.partition))
        await cur.execute(_IMPORT, (enterprise_id,))
        created = sorted(str(row[0]) for row in await cur.fetchall())
        outcome = await evaluate(conn, iccids=created, cause="card_created")
    taken = set(created)
    return ImportResult(created, sorted(c.iccid for c in new if c.iccid not in taken), outcome)


async def _check_pools(conn: Conn, pool_ids: set[str], enterprise_id: str) -> None:
    if not pool_ids:
        return
    cur = await conn.execute(
        "SELECT pool_id FROM pools WHERE pool_id = ANY(%s) AND enterprise_id = %s FOR SHARE",
        (sorted(pool_ids), enterprise_id))
    unknown = pool_ids - {str(row[0]) for row in await cur.fetchall()}
    if unknown:
        raise Invalid("pool_id", f"unknown pool(s) {sorted(unknown)!r} for enterprise "
                                 f"{enterprise_id!r}")
