"""An enterprise's pools: the list (with its exports and, for an administrator, a form to
create one), and one pool's page: its limits (changed through the same store call and publish
as `PATCH /v1/pools/{id}`, so cards stop or resume), this cycle's use against the limit with
the forecast, and the cards that use most."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console import exports
from api.console.amounts import Amount, Refused, shown, to_bytes
from api.console.auth import Page, Viewer, require_change
from api.console.i18n import N_, lang_of, translations
from api.console.layout import frame
from api.console.pages.common import ENTERPRISE_GUARD, enterprise_for
from api.console.pages.pool_chart import outlook_chart
from api.console.render import html
from api.deps import Db, Res
from api.effects import publish
from api.forecasts import pool_outlook
from api.schemas.common import default_warnings
from store import pools, series
from store.db import KEEP, Conn, Keep
from store.enterprises import Enterprise
from store.errors import AlreadyExists, NotFound
from store.pools import PoolView

router = APIRouter(prefix="/console/e/{enterprise_id}", dependencies=ENTERPRISE_GUARD)
NEAR = 0.8  # a pool this full is shown as near its limit (as on the overview)
TOP_CARDS = 20
IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # api.schemas.common.Ident
BAD_ID = N_("A pool id has 1 to 64 letters, digits, dots, dashes or underscores, and starts "
            "with a letter or a digit.")
TAKEN = N_("This pool id is taken.")
EXPORT_HEADER = (N_("Pool"), N_("Used (bytes)"), N_("Limit (bytes)"), N_("Share used (%)"),
                 N_("Per-card cap (bytes)"), N_("Cards"), N_("Status"))
FormText = Annotated[str, Form(max_length=256)]  # longer input gets the field's message
Errors = dict[str, str]


async def _pool(db: Conn, enterprise: Enterprise, pool_id: str) -> PoolView:
    """The enterprise's pool; another enterprise's is not found."""
    view = await pools.get_pool(db, pool_id)
    if view.enterprise_id != enterprise.enterprise_id:
        raise NotFound(f"pool {pool_id!r}")
    return view


def _amount(name: str, amount: Amount, errors: Errors, *, required: bool) -> int | None:
    """The byte count of a form's amount; a refusal goes to `errors[name]`."""
    try:
        return to_bytes(amount, required=required)
    except Refused as refused:
        errors[name] = refused.message
        return None


async def _list(request: Request, viewer: Viewer, db: Conn, enterprise: Enterprise, *,
                errors: Errors | None = None, values: dict[str, str] | None = None,
                status: int = 200) -> HTMLResponse:
    listed = await pools.enterprise_pools(db, enterprise.enterprise_id)
    return html(request, "pools.html", frame(
        viewer, "pools", enterprise, pools=listed, near=NEAR, errors=errors or {},
        values=values or {"limit_unit": "GB", "cap_unit": "GB"}), status=status)


@router.get("/pools")
async def pools_page(request: Request, enterprise_id: str, viewer: Page, db: Db) -> Response:
    return await _list(request, viewer, db, await enterprise_for(db, enterprise_id, viewer))


@router.post("/pools")
async def create_pool(request: Request, enterprise_id: str, viewer: Page, db: Db, res: Res,
                      pool_id: FormText = "", limit_number: FormText = "",
                      limit_unit: FormText = "GB", cap_number: FormText = "",
                      cap_unit: FormText = "GB") -> Response:
    enterprise = await enterprise_for(db, enterprise_id, viewer, write=True)
    require_change(viewer, enterprise_id)
    errors: Errors = {}
    if not _valid_id(pool_id):
        errors["pool_id"] = BAD_ID
    limit = _amount("limit", Amount(limit_number, limit_unit), errors, required=True)
    cap = _amount("cap", Amount(cap_number, cap_unit), errors, required=False)
    if not errors and limit is not None:
        try:
            _view, outcome = await pools.create_pool(db, pool_id, enterprise_id, limit, cap,
                                                     default_warnings())
        except AlreadyExists:
            errors["pool_id"] = TAKEN
        else:
            await publish(res, outcome)
            return RedirectResponse(f"/console/e/{enterprise_id}/pools/{pool_id}?created=1",
                                    status_code=303)
    values = {"pool_id": pool_id, "limit_number": limit_number, "limit_unit": limit_unit,
              "cap_number": cap_number, "cap_unit": cap_unit}
    return await _list(request, viewer, db, enterprise, errors=errors, values=values,
                       status=422)


def _valid_id(pool_id: str) -> bool:
    return 1 <= len(pool_id) <= 64 and IDENT.fullmatch(pool_id) is not None


@router.get("/pools.{fmt}")
async def export_pools(request: Request, enterprise_id: str, fmt: exports.Format,
                       viewer: Page, db: Db) -> Response:
    enterprise = await enterprise_for(db, enterprise_id, viewer)
    gettext = translations(lang_of(request)).gettext
    rows = [(p.pool_id, p.used_bytes, p.limit_bytes,
             round(100 * p.used_bytes / p.limit_bytes, 1) if p.limit_bytes else None,
             p.per_card_limit_bytes, p.card_count, gettext(p.status))
            for p in await pools.enterprise_pools(db, enterprise_id)]
    return exports.export(fmt, f"{enterprise_id}-pools", [gettext(h) for h in EXPORT_HEADER],
                          rows, enterprise.timezone)


async def _detail(request: Request, viewer: Viewer, db: Conn, enterprise: Enterprise,
                  view: PoolView, *, errors: Errors | None = None,
                  values: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    outlook = await pool_outlook(db, view)
    gettext = translations(lang_of(request)).gettext
    limit, cap = shown(view.limit_bytes), shown(view.per_card_limit_bytes)
    return html(request, "pool.html", frame(
        viewer, "pools", enterprise, pool=view, near=NEAR, outlook=outlook,
        forecast=outlook.forecast, use_chart=outlook_chart(outlook, gettext),
        top=await series.pool_top_cards(db, view.pool_id, TOP_CARDS), errors=errors or {},
        values=values or {"limit_number": limit.number, "limit_unit": limit.unit,
                          "cap_number": cap.number, "cap_unit": cap.unit}), status=status)


@router.get("/pools/{pool_id}")
async def pool_page(request: Request, enterprise_id: str, pool_id: str, viewer: Page, db: Db
                    ) -> Response:
    enterprise = await enterprise_for(db, enterprise_id, viewer)
    return await _detail(request, viewer, db, enterprise, await _pool(db, enterprise, pool_id))


def _change(new: int | None, old: int | None, typed: Amount) -> int | None | Keep:
    """KEEP when the form sends back what it showed (a shown amount may be rounded)."""
    return KEEP if new == old or typed == shown(old) else new


@router.post("/pools/{pool_id}")
async def change_pool(request: Request, enterprise_id: str, pool_id: str, viewer: Page,
                      db: Db, res: Res, limit_number: FormText = "", limit_unit: FormText = "GB",
                      cap_number: FormText = "", cap_unit: FormText = "GB") -> Response:
    enterprise = await enterprise_for(db, enterprise_id, viewer, write=True)
    require_change(viewer, enterprise_id)
    view = await _pool(db, enterprise, pool_id)
    errors: Errors = {}
    typed_limit, typed_cap = Amount(limit_number, limit_unit), Amount(cap_number, cap_unit)
    limit = _amount("limit", typed_limit, errors, required=True)
    cap = _amount("cap", typed_cap, errors, required=False)
    if errors or limit is None:
        values = {"limit_number": limit_number, "limit_unit": limit_unit,
                  "cap_number": cap_number, "cap_unit": cap_unit}
        return await _detail(request, viewer, db, enterprise, view, errors=errors,
                             values=values, status=422)
    new_limit = _change(limit, view.limit_bytes, typed_limit)
    _view, outcome = await pools.update_pool(
        db, pool_id, limit_bytes=KEEP if new_limit is None else new_limit,
        per_card_limit_bytes=_change(cap, view.per_card_limit_bytes, typed_cap))
    await publish(res, outcome)
    return RedirectResponse(f"/console/e/{enterprise_id}/pools/{pool_id}?changed=1",
                            status_code=303)
