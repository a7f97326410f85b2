"""An enterprise's overview: its cards by status and stop reason, the pools closest to their
limit, and the latest alerts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console import charts
from api.console.auth import Page
from api.console.i18n import lang_of, translations
from api.console.layout import frame
from api.console.pages.common import ENTERPRISE_GUARD, enterprise_for
from api.console.render import html
from api.console.words import REASONS, STATUS_NAMES
from api.deps import Db
from store import alerts, overview, pools

router = APIRouter(prefix="/console/e/{enterprise_id}", dependencies=ENTERPRISE_GUARD)
NEAR = 0.8  # a pool this full is shown as near exhaustion
RECENT_ALERTS = 10


@router.get("")
async def overview_page(request: Request, enterprise_id: str, viewer: Page, db: Db
                        ) -> HTMLResponse:
    enterprise = await enterprise_for(db, enterprise_id, viewer)
    gettext = translations(lang_of(request)).gettext
    statuses = await overview.cards_by_status(db, enterprise_id)
    reasons = await overview.cards_by_reason(db, enterprise_id)
    by_status: dict[str, int] = {}
    for row in statuses:
        by_status[row.desired_status] = by_status.get(row.desired_status, 0) + row.cards
    status_chart = charts.pie([(gettext(STATUS_NAMES.get(s, s)), n) for s, n in by_status.items()],
                              gettext("Cards"))
    reason_chart = charts.bars([gettext(REASONS[r.reason][0]) if r.reason in REASONS
                                else r.reason for r in reasons],
                               [r.cards for r in reasons], gettext("Cards"), horizontal=True)
    fills = await pools.enterprise_pools(db, enterprise_id)
    return html(request, "overview.html", frame(
        viewer, "overview", enterprise, statuses=statuses, by_status=by_status,
        total=sum(by_status.values()), reasons=reasons, status_chart=status_chart,
        reason_chart=reason_chart, pools=fills[:5], near=NEAR,
        alerts=await alerts.list_alerts(db, enterprise_id, RECENT_ALERTS)))
