"""Applying the commission imports' valid rows (shared/specs/business.md H-19, H-20, H-21,
H-41): the long-term verification file moves frozen long-term commissions, the real-name file
records real-name results and re-evaluates the cards. Each apply is set-based over its rows
and runs in its caller's transaction (the import task's chunk); a row it cannot apply comes
back as a failure with its 失败原因.

* Long-term verification (H-19, H-20): the card's `long_term` records in `frozen` produced at
  or before the import instant: `正常` + `否` → `unfreezing` with an approval (`available` when
  the rule needs none); `非正常` → `invalid` "在网状态非正常" (first, when also `是`); `是` →
  `invalid` "三无卡". A card with none fails "该卡无冻结中的长期佣金" — so the same file imported
  again changes nothing and reports that on every row.
* Real name (H-41): `是` records the card verified at 实名时间 (the earliest verified instant is
  kept), `否` is kept only while the card was never verified; then the touched cards'
  commissions are evaluated (`store.commission_eval.evaluate_cards`).
* The verification template (H-21): the cards with frozen long-term commissions, pre-filled
  with the advisory verdicts of a billing cycle.
* `install(topic)` registers the three applies with the import task list (store/imports.py);
  a settlement is applied as ONE chunk (the API's upload runs it so), one transaction.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import xlsxwriter

from core.money import Fen
from domain.imports.kinds import COLUMNS, RealNameRow, SettlementHeader, VerificationRow
from store import commission_eval, commission_facts, commissions, imports, settlements
from store.agents import Actor
from store.db import Conn
from store.errors import NotFound
from store.imports import Applied, Apply, ImportTask, RowFailure

NO_FROZEN = ("该卡无冻结中的长期佣金", "This card has no frozen long-term commission")
UNKNOWN_CARD = ("ICCID不存在", "ICCID does not exist")
NOT_IN_NETWORK = "在网状态非正常"
SANWU = "三无卡"
Event = Literal["unfreeze", "unfreeze_unapproved", "invalidate"]

_FROZEN_LONG_TERM = """
SELECT record_id, iccid, requires_approval FROM commission_records
WHERE part = 'long_term' AND state = 'frozen' AND iccid = ANY(%s) AND produced_at <= %s
ORDER BY iccid, record_id
"""
_FROZEN_CARDS = """
SELECT DISTINCT iccid FROM commission_records
WHERE part = 'long_term' AND state = 'frozen' AND iccid IS NOT NULL ORDER BY iccid
"""


@dataclass(frozen=True)
class RowFailed:
    """A valid row the apply step could not apply, and why."""

    row_no: int
    message_zh: str
    message_en: str


@dataclass
class Result:
    failures: list[RowFailed] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


async def apply_verification(conn: Conn, rows: Sequence[VerificationRow], *, actor: Actor,
                             at: datetime, topic: str) -> Result:
    """H-19, H-20 for these rows (one query for their records; one transition per outcome)."""
    done = Result(summary={"unfreezing": 0, "available": 0, "invalid": 0})
    found = await (await conn.execute(_FROZEN_LONG_TERM, (
        sorted({row.iccid for row in rows}), at))).fetchall()
    by_card: dict[str, list[tuple[str, bool]]] = {}
    for record_id, iccid, approval in found:
        by_card.setdefault(iccid, []).append((record_id, bool(approval)))
    moves: dict[tuple[Event, str | None], list[str]] = {}
    for row in rows:
        records = by_card.pop(row.iccid, None)  # a repeated card: the first row took them
        if not records:
            done.failures.append(RowFailed(row.row_no, *NO_FROZEN))
            continue
        if not row.in_network or row.sanwu:
            why = NOT_IN_NETWORK if not row.in_network else SANWU
            moves.setdefault(("invalidate", why), []).extend(r for r, _ in records)
            continue
        for record_id, approval in records:
            event: Event = "unfreeze" if approval else "unfreeze_unapproved"
            moves.setdefault((event, None), []).append(record_id)
    for (event, reason), ids in sorted(moves.items(), key=lambda m: (m[0][0], m[0][1] or "")):
        moved = await commissions.transition(conn, ids, event, "operator", actor, at, topic,
                                             reason=reason)
        for record in moved.records:
            done.summary[record.state] += 1
    return done


async def apply_real_name(conn: Conn, rows: Sequence[RealNameRow], *, task_id: str,
                          at: datetime, topic: str) -> Result:
    """H-41 for these rows, then one evaluation of the cards they touched."""
    done = Result(summary={"verified": 0, "not_verified": 0, "unchanged": 0})
    touched: list[str] = []
    for row in rows:
        try:
            changed = await commission_facts.record_real_name(
                conn, row.iccid, row.verified, row.verified_at, "import",
                f"import:{task_id}:{row.row_no}")
        except NotFound:
            done.failures.append(RowFailed(row.row_no, *UNKNOWN_CARD))
            continue
        if not changed:
            done.summary["unchanged"] += 1
            continue
        done.summary["verified" if row.verified else "not_verified"] += 1
        touched.append(row.iccid)
    if touched:
        outcome = await commission_eval.evaluate_cards(conn, sorted(set(touched)), at, topic)
        done.summary["commissions_produced"] = outcome.produced
        done.summary["commissions_promoted"] = outcome.promoted
    return done


async def verification_template(conn: Conn, cycle: str) -> bytes:
    """H-21: the long-term verification template, one row per card with frozen long-term
    commissions: ICCID and the advisory 在网状态 / 是否三无 of billing cycle `cycle`
    (YYYY-MM). Advisory only: the operator checks and corrects before importing."""
    cards = [row[0] for row in await (await conn.execute(_FROZEN_CARDS)).fetchall()]
    verdicts = await commission_facts.advisory_verdicts(conn, cards, cycle) if cards else {}
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Sheet1")
    text = book.add_format({"num_format": "@"})
    sheet.set_column(0, 0, 24, text)
    sheet.set_column(1, 2, 12)
    for column, name in enumerate(COLUMNS["long_term_verification"]):
        sheet.write_string(0, column, name)
    for line, iccid in enumerate(cards, start=1):
        network, sanwu = verdicts.get(iccid, ("非正常", "是"))
        sheet.write_string(line, 0, iccid)
        sheet.write_string(line, 1, network)
        sheet.write_string(line, 2, sanwu)
    book.close()
    return out.getvalue()


# ---- the import task list (store/imports.py) -------------------------------------------------

_TOPIC: dict[str, str] = {}


def _actor(task: ImportTask) -> Actor:
    return Actor(task.created_by, task.created_role)


def _applied(done: Result) -> Applied:
    return Applied([RowFailure(f.row_no, f.message_zh, f.message_en) for f in done.failures],
                   done.summary)


async def _verification(conn: Conn, task: ImportTask, rows: Sequence[Any]) -> Applied:
    return _applied(await apply_verification(conn, rows, actor=_actor(task),
                                             at=task.created_at, topic=_TOPIC["orders"]))


async def _real_name(conn: Conn, task: ImportTask, rows: Sequence[Any]) -> Applied:
    return _applied(await apply_real_name(conn, rows, task_id=task.task_id,
                                          at=task.created_at, topic=_TOPIC["orders"]))


async def _settlement(conn: Conn, task: ImportTask, rows: Sequence[Any]) -> Applied:
    """The whole statement (the task runs it as one chunk: one transaction, H-31)."""
    params = task.params
    header = SettlementHeader(params["factory_id"], params["period"],
                              Fen(int(params["total_fen"])))
    batch = await settlements.import_batch(conn, header, rows, actor=_actor(task),
                                           at=task.created_at, topic=_TOPIC["orders"],
                                           task_id=task.task_id)
    return Applied((), {"batch_id": batch.batch_id, "matched": batch.matched,
                        "unmatched": batch.unmatched,
                        "agent_commission_fen": batch.agent_commission_fen,
                        "retained_profit_fen": batch.retained_profit_fen,
                        "negative_margin_lines": batch.negative_margin_lines})


APPLY: dict[str, Apply] = {"long_term_verification": _verification, "real_name": _real_name,
                           "number_card_settlement": _settlement}


def install(topic: str) -> None:
    """Make the three commission imports importable (the API calls this at start): each kind
    gets its apply unless something is registered already (a test's own)."""
    _TOPIC["orders"] = topic
    for kind, apply in APPLY.items():
        if imports.registered(kind) is None:
            imports.register(kind, apply)
