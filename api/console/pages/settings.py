"""An enterprise's alerts and the webhook they are sent to: the list (exported as CSV or
XLSX), the webhook's URL (checked by the API's own rule) and its signing secret, made on the
server and shown once."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.auth import Page, Viewer
from api.console.exports import Format
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.common import ENTERPRISE_GUARD, enterprise_for
from api.console.pages.forms import download, problem_of, say
from api.console.render import html
from api.console.words import ALERT_KINDS
from api.deps import Db
from api.schemas.enterprises import EnterpriseUpdate
from store import alerts, enterprises
from store.db import Conn
from store.enterprises import Enterprise

router = APIRouter(prefix="/console/e/{enterprise_id}", dependencies=ENTERPRISE_GUARD)
SHOWN = 500  # the newest alerts listed and exported
SECRET_BYTES = 32
ALERT_COLUMNS = (N_("When"), N_("Kind"), N_("Subject"), N_("Cycle"), N_("Share used (%)"),
                 N_("Used (bytes)"), N_("Limit (bytes)"), N_("Webhook"))


async def _page(request: Request, viewer: Viewer, db: Conn, enterprise: Enterprise, *,
                status: int = 200, **shown: Any) -> HTMLResponse:
    eid = enterprise.enterprise_id
    values: dict[str, Any] = {"error": None, "secret": None, "notice": None,
                              "url_value": enterprise.webhook_url or "", **shown}
    return html(request, "alerts.html", frame(
        viewer, "alerts", enterprise, alerts=await alerts.list_alerts(db, eid, SHOWN),
        signed=await enterprises.has_webhook_secret(db, eid), **values), status=status)


@router.get("/alerts")
async def alerts_page(request: Request, enterprise_id: str, viewer: Page, db: Db
                      ) -> HTMLResponse:
    return await _page(request, viewer, db, await enterprise_for(db, enterprise_id, viewer))


@router.get("/alerts.{fmt}")
async def alerts_export(request: Request, enterprise_id: str, fmt: Format, viewer: Page,
                        db: Db) -> Response:
    enterprise = await enterprise_for(db, enterprise_id, viewer)
    rows = [(datetime.fromisoformat(a.created_at), say(request, ALERT_KINDS.get(a.kind, a.kind)),
             a.subject, a.cycle, a.percent, a.used_bytes, a.limit_bytes,
             say(request, a.webhook_state))
            for a in await alerts.list_alerts(db, enterprise_id, SHOWN)]
    return download(request, fmt, f"alerts-{enterprise_id}", ALERT_COLUMNS, rows,
                    enterprise.timezone)


@router.post("/alerts/webhook")
async def save_webhook(request: Request, enterprise_id: str, viewer: Page, db: Db,
                       webhook_url: Annotated[str, Form(max_length=2000)] = "") -> HTMLResponse:
    """Set the webhook URL (empty: send none), by the rule of PATCH /v1/enterprises."""
    enterprise = await enterprise_for(db, enterprise_id, viewer, write=True)
    url = webhook_url.strip() or None
    try:
        EnterpriseUpdate(webhook_url=url)
    except ValidationError as exc:
        return await _page(request, viewer, db, enterprise, status=422, url_value=webhook_url,
                           error=problem_of(exc))
    enterprise = await enterprises.update_enterprise(db, enterprise_id, webhook_url=url)
    notice = N_("The webhook URL is saved.") if url else N_("No webhook is sent any more.")
    return await _page(request, viewer, db, enterprise, notice=say(request, notice))


@router.post("/alerts/webhook/secret")
async def rotate_webhook_secret(request: Request, enterprise_id: str, viewer: Page, db: Db
                                ) -> HTMLResponse:
    """A new signing secret for the webhook, made here and shown in this answer only."""
    enterprise = await enterprise_for(db, enterprise_id, viewer, write=True)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    EnterpriseUpdate(webhook_secret=secret)  # the API's rule (16 to 256 characters)
    await enterprises.update_enterprise(db, enterprise_id, webhook_secret=secret)
    return await _page(request, viewer, db, enterprise, secret=secret)
