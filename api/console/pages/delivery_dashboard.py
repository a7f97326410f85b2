"""The delivery dashboard page (数据看板, I-55 … I-60): the mean completion cycle, new projects
by day or by month, the project statuses of the last 30 or 60 days — as of 00:00 today — and,
on vendor dashboards, each product's providers' live saturation as coloured bars.

Who: a vendor's admin and project managers (the vendor's projects, with saturation), a
provider admin (the provider's projects, no saturation: I-60), platform people (any vendor or
provider, chosen with `vendor_id`/`provider_id`). Anyone else: no such page (404). The scope
is decided as `GET /v1/delivery/dashboard` decides it (`api.routers.delivery_dashboard`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse

from api.console import charts
from api.console.auth import Page
from api.console.i18n import N_, lang_of, translations
from api.console.layout import frame
from api.console.render import html
from api.deps import PLATFORM_READERS, Db
from api.routers.delivery_dashboard import PROVIDER_ROLES, VENDOR_ROLES, scope_for
from core.clock import now
from domain.delivery.dashboard import Status, windows
from store.delivery import dashboard as store

router = APIRouter(prefix="/console/delivery")
READERS = (*VENDOR_ROLES, *PROVIDER_ROLES, *PLATFORM_READERS)
# I-58's statuses in the spec's order, with their names and the ring's colours.
STATUS_NAMES: dict[Status, str] = {
    "completed": N_("Delivered"), "in_progress": N_("In progress"), "timed_out": N_("Timed out"),
    "paused": N_("Paused"), "cancelled": N_("Cancelled")}
STATUS_COLOURS = ["#1a7f37", "#0550ae", "#b42318", "#9a6700", "#57606a"]
COLOURS = {"green": "#1a7f37", "blue": "#0550ae", "red": "#b42318"}
Tenant = Annotated[str | None, Query(max_length=40)]


@router.get("/dashboard")
async def dashboard_page(request: Request, viewer: Page, db: Db,
                         window: Literal["30", "60"] = "30",
                         view: Literal["day", "month"] = "day",
                         vendor_id: Tenant = None, provider_id: Tenant = None) -> HTMLResponse:
    """The dashboard of the viewer's vendor or provider (or, for platform people, the chosen
    one's, or every project)."""
    if viewer.principal.role not in READERS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such page")
    principal = viewer.principal
    vendor_id, provider_id = vendor_id or None, provider_id or None
    scope = await scope_for(db, principal, vendor_id, provider_id)
    found = await store.dashboard(db, scope, windows(now(), int(window)))
    gettext = translations(lang_of(request)).gettext
    if view == "day":
        labels = [d.strftime("%m-%d") for d, _ in found.per_day]
        counts = [n for _, n in found.per_day]
    else:
        labels = [m.strftime("%Y-%m") for m, _ in found.per_month]
        counts = [n for _, n in found.per_month]
    saturation = None
    if scope.provider_id is None and principal.role not in PROVIDER_ROLES:
        saturation = await store.saturation(db, scope.vendor_id)
    return html(request, "delivery_dashboard.html", frame(
        viewer, "dl_dashboard", found=found, window=window, view=view,
        vendor_id=vendor_id or "", provider_id=provider_id or "", scope=scope,
        platform=principal.role in PLATFORM_READERS,
        statuses=[(s, name, found.statuses[s]) for s, name in STATUS_NAMES.items()],
        new_chart=charts.bars(labels, counts, gettext("New projects")),
        status_chart=charts.pie([(gettext(name), found.statuses[s])
                                 for s, name in STATUS_NAMES.items()], gettext("Projects"))
        | {"color": STATUS_COLOURS},
        saturation=saturation, colours=COLOURS, total_new=sum(counts)))
