"""One card: what it is, its usage this cycle against its package, why it is stopped (in
words), what the reconciler last did with it, its hourly and daily usage, and, for those who
may change it, stop and resume by hand (the same store call and events as the API's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.console import charts
from api.console.auth import Page, Viewer, require_change
from api.console.errors import redirect
from api.console.i18n import N_, lang_of, translations
from api.console.layout import frame
from api.console.pages.common import ENTERPRISE_GUARD, enterprise_for
from api.console.render import html, is_htmx
from api.console.words import CONTROL_STATES, OPERATOR_NAMES, REASONS
from api.deps import Db, Res
from api.effects import publish
from core.clock import now
from store import cards, series
from store.cards import CardView
from store.db import Conn
from store.enterprises import Enterprise
from store.errors import NotFound

router = APIRouter(prefix="/console/e/{enterprise_id}/cards/{iccid}",
                   dependencies=ENTERPRISE_GUARD)
HOURS = 48
MB = 1 << 20


async def card_of(db: Conn, enterprise: Enterprise, iccid: str) -> CardView:
    """The card if it belongs to this enterprise (another's is not found, even to those who
    may see both: the URL names the enterprise)."""
    view = await cards.get_card(db, iccid)
    if view.enterprise_id != enterprise.enterprise_id:
        raise NotFound(f"card {iccid}")
    return view


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


async def hourly(db: Conn, iccid: str, label: str, end: datetime) -> dict[str, Any]:
    """The last `HOURS` hours for uPlot: unix seconds and megabytes, empty hours as 0."""
    first = _hour(end) - timedelta(hours=HOURS - 1)
    points = {p.time: p.bytes for p in await series.card_series(db, iccid, "1h", first, end)}
    hours = [first + timedelta(hours=k) for k in range(HOURS)]
    return {"labels": [label], "unit": "MB", "x": [int(h.timestamp()) for h in hours],
            "series": [[round(points.get(h, 0) / MB, 2) for h in hours]]}


async def daily(db: Conn, iccid: str, label: str, end: datetime, tz: str) -> charts.Option:
    """This cycle's days (in the enterprise's zone) as ECharts bars, in megabytes."""
    zone = ZoneInfo(tz)
    local = end.astimezone(zone)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = [(start + timedelta(days=k)).date() for k in range(local.day)]
    used: dict[Any, int] = {}
    for p in await series.card_series(db, iccid, "1d", start - timedelta(hours=14), end):
        day = p.time.astimezone(zone).date()
        used[day] = used.get(day, 0) + p.bytes
    option = charts.bars([d.strftime("%m-%d") for d in days],
                         [round(used.get(d, 0) / MB, 2) for d in days], label)
    option["yAxis"]["name"] = "MB"
    return option


def _context(request: Request, viewer: Viewer, enterprise: Enterprise, view: CardView,
             **more: Any) -> dict[str, Any]:
    return frame(viewer, "cards", enterprise, card=view, reasons=REASONS,
                 control_states=CONTROL_STATES, operators=OPERATOR_NAMES,
                 base=f"/console/e/{enterprise.enterprise_id}/cards/{view.iccid}",
                 manual="manual" in view.stop_reasons, **more)


@router.get("")
async def card_page(request: Request, enterprise_id: str, iccid: str, viewer: Page, db: Db
                    ) -> HTMLResponse:
    enterprise = await enterprise_for(db, enterprise_id, viewer)
    view = await card_of(db, enterprise, iccid)
    gettext = translations(lang_of(request)).gettext
    label = gettext(N_("Usage (MB)"))
    end = now()
    return html(request, "card.html", _context(
        request, viewer, enterprise, view,
        hourly=await hourly(db, iccid, label, end),
        daily=await daily(db, iccid, label, end, enterprise.timezone)))


async def _manual(request: Request, enterprise_id: str, iccid: str, stopped: bool,
                  viewer: Viewer, db: Conn, res: Res) -> Response:
    enterprise = await enterprise_for(db, enterprise_id, viewer)
    await card_of(db, enterprise, iccid)
    require_change(viewer, enterprise_id)
    view, outcome = await cards.set_manual(db, iccid, stopped)
    await publish(res, outcome)
    if not is_htmx(request):
        return redirect(request, f"/console/e/{enterprise_id}/cards/{iccid}")
    changed: Literal["stopped", "resumed"] = "stopped" if stopped else "resumed"
    return html(request, "card.html", _context(request, viewer, enterprise, view,
                                               changed=changed), block="state")


@router.post("/stop")
async def stop(request: Request, enterprise_id: str, iccid: str, viewer: Page, db: Db,
               res: Res) -> Response:
    """Add the `manual` stop reason (as `POST /v1/cards/{iccid}/stop`)."""
    return await _manual(request, enterprise_id, iccid, True, viewer, db, res)


@router.post("/resume")
async def resume(request: Request, enterprise_id: str, iccid: str, viewer: Page, db: Db,
                 res: Res) -> Response:
    """Remove the `manual` reason only (as `POST /v1/cards/{iccid}/resume`)."""
    return await _manual(request, enterprise_id, iccid, False, viewer, db, res)
