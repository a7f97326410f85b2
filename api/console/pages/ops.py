"""The platform's pages for its own people: the enterprises (made by the platform
administrator, each linked to its overview) and the operators' push secrets (rotated here,
the new secret shown once; the previous one stays valid for the grace period). Other roles
get 404; platform operations see everything and change nothing."""

from __future__ import annotations

import secrets
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.auth import Page, Viewer, require_admin, require_platform
from api.console.exports import Format
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.common import PLATFORM_GUARD
from api.console.pages.forms import download, problem_of, say
from api.console.render import DEFAULT_TZ, html
from api.console.words import OPERATOR_NAMES
from api.deps import Db, Res
from api.schemas.enterprises import EnterpriseCreate
from api.schemas.operators import PushSecretUpdate
from store import enterprises, operators
from store.db import Conn
from store.errors import AlreadyExists

router = APIRouter(prefix="/console/ops", dependencies=PLATFORM_GUARD)
SECRET_BYTES = 32
ENTERPRISE_COLUMNS = (N_("Enterprise id"), N_("Name"), N_("Time zone"), N_("Cards"),
                      N_("Pools"), N_("Created"))


@cache
def time_zones() -> list[str]:
    """The IANA zones an enterprise may bill in (those the API accepts)."""
    return sorted(available_timezones())


async def _enterprises_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                            **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"error": None, "notice": None,
                              "form": {"enterprise_id": "", "name": "", "timezone": DEFAULT_TZ},
                              **shown}
    return html(request, "ops_enterprises.html", frame(
        viewer, "enterprises", enterprises=await enterprises.list_enterprises(db),
        zones=time_zones() if viewer.admin else [], **values), status=code)


@router.get("/enterprises")
async def enterprises_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    require_platform(viewer)
    return await _enterprises_page(request, viewer, db)


@router.get("/enterprises.{fmt}")
async def enterprises_export(request: Request, fmt: Format, viewer: Page, db: Db) -> Response:
    require_platform(viewer)
    rows = [(e.enterprise_id, e.name, e.timezone, e.cards, e.pools, e.created_at)
            for e in await enterprises.list_enterprises(db)]
    return download(request, fmt, "enterprises", ENTERPRISE_COLUMNS, rows)


@router.post("/enterprises")
async def create_enterprise(request: Request, viewer: Page, db: Db,
                            enterprise_id: Annotated[str, Form(max_length=64)],
                            name: Annotated[str, Form(max_length=200)],
                            timezone: Annotated[str, Form(max_length=64)] = DEFAULT_TZ
                            ) -> HTMLResponse:
    """A new tenant, by the rules of POST /v1/enterprises."""
    require_admin(viewer)
    form = {"enterprise_id": enterprise_id, "name": name, "timezone": timezone}
    try:
        body = EnterpriseCreate(enterprise_id=enterprise_id.strip(), name=name.strip(),
                                timezone=timezone)
        await enterprises.create_enterprise(db, body.enterprise_id, body.name, body.timezone)
    except ValidationError as exc:
        return await _enterprises_page(request, viewer, db, code=422, form=form,
                                       error=problem_of(exc))
    except AlreadyExists:
        return await _enterprises_page(request, viewer, db, code=409, form=form, error=say(
            request, N_("The enterprise id %(id)s is taken."), id=enterprise_id))
    return await _enterprises_page(request, viewer, db, code=201, notice=say(
        request, N_("The enterprise %(id)s is created."), id=body.enterprise_id))


async def _operators_page(request: Request, viewer: Viewer, db: Conn, res: Res,
                          **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"new_secret": None, **shown}
    return html(request, "ops_operators.html", frame(
        viewer, "operators", operators=OPERATOR_NAMES,
        states=await operators.secret_states(db),
        grace_hours=round(res.settings.push_secret_grace_s / 3600, 1), **values))


@router.get("/operators")
async def operators_page(request: Request, viewer: Page, db: Db, res: Res) -> HTMLResponse:
    require_platform(viewer)
    return await _operators_page(request, viewer, db, res)


@router.post("/operators/{operator}/secret")
async def rotate_push_secret(request: Request, operator: str, viewer: Page, db: Db, res: Res
                             ) -> HTMLResponse:
    """A new push secret made here (as PUT /v1/operators/{operator}/push-secret would set
    it), shown in this answer only; the previous one is accepted for the grace period."""
    require_admin(viewer)
    if operator not in OPERATOR_NAMES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no operator {operator!r}")
    secret = PushSecretUpdate(secret=secrets.token_urlsafe(SECRET_BYTES)).secret
    await operators.set_push_secret(db, operator, secret, res.settings.push_secret_grace_s)
    return await _operators_page(request, viewer, db, res,
                                 new_secret={"operator": operator, "secret": secret})
