"""The platform's number-card settlements (§5.6, H-31 … H-36; §7.2: platform roles read): the
imported batches with their totals, the agents' commissions and the platform's retained profit
(H-34, live: a commission closed later returns to the platform), their unmatched and
negative-margin lines, and each batch's lines with their commission's state. Batches are
imported on the import page (`/console/ops/money/imports`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import Page
from api.console.exports import Cell, Format
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.commission_agent import commission_words, query_of
from api.console.pages.forms import download
from api.console.pages.money import MONEY_GUARD
from api.console.render import html
from api.deps import Db
from store import settlements

router = APIRouter(prefix="/console/ops/money/settlements", dependencies=MONEY_GUARD)
BATCH_COLUMNS = (N_("Settlement batch"), N_("Factory"), N_("Period"), N_("Total (fen)"),
                 N_("Lines"), N_("Matched"), N_("Unmatched"),
                 N_("Agents' commission (fen)"), N_("Retained profit (fen)"),
                 N_("Negative-margin lines"), N_("Imported at"))
LINE_STATUS = {"matched": N_("Matched"), "unmatched": N_("Unmatched")}
StatusQuery = Annotated[str | None, Query(pattern="^(matched|unmatched)?$")]


@router.get("")
async def batches_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    found = await settlements.batches(db, limit=200)
    return html(request, "commission_settlements.html", frame(
        viewer, "settlements", batches=found, **commission_words()))


@router.get(".{fmt}")
async def batches_export(request: Request, fmt: Format, viewer: Page, db: Db) -> Response:
    rows: list[list[Cell]] = [
        [b.batch_id, b.factory_id, b.period, b.total_fen, b.lines, b.matched, b.unmatched,
         b.agent_commission_fen, b.retained_profit_fen, b.negative_margin_lines, b.imported_at]
        for b in await settlements.batches(db, limit=1000)]
    return download(request, fmt, "settlements", BATCH_COLUMNS, rows)


@router.get("/{batch_id}")
async def batch_page(request: Request, batch_id: str, viewer: Page, db: Db,
                     status: StatusQuery = None,
                     negative: Annotated[bool, Query()] = False) -> HTMLResponse:
    """A batch and its lines (filtered: unmatched, negative margin)."""
    found = await settlements.batch(db, batch_id)
    lines = await settlements.lines(db, batch_id, status=status or None,
                                    negative_only=negative)
    return html(request, "commission_settlement.html", frame(
        viewer, "settlements", batch=found, lines=lines, line_status=LINE_STATUS,
        chosen={"status": status or "", "negative": negative},
        query=query_of(status=status, negative="true" if negative else None),
        **commission_words()))
