"""The delivery workflow's people in the console (specs/business.md §6.1, §6.4, X-02):
系统设置-用户管理 (the department tree, users created with a one-time password shown once with a
copy button, password resets), 持单量设置 (max loads and order-taking status, in batch, beside the
current loads) and 个人信息 (one's own order-taking switch). The API's rules and store do the
work (api/routers/delivery_people.py); another tenant's people are not found."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.auth import Page, Viewer
from api.console.i18n import N_, lang_of
from api.console.layout import frame
from api.console.pages.forms import problem_of, say
from api.console.render import html
from api.deps import Db
from api.routers.delivery_people import enforce, make_user, me_of, reset
from api.schemas.delivery_people import DeliveryUserCreate
from domain.delivery import people as rules
from domain.people.rules import DELIVERY_ROLES
from domain.refusals import Refusal
from store.db import Conn
from store.delivery import people
from store.errors import AlreadyExists


async def _delivery_guard(viewer: Page) -> None:
    """Pages of the delivery workflow's people: nobody else has them (404)."""
    if viewer.principal.role not in DELIVERY_ROLES or viewer.principal.dl_tenant_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such page")


router = APIRouter(prefix="/console/delivery", dependencies=[Depends(_delivery_guard)])
ACCEPTING = {True: N_("Normal"), False: N_("Paused")}


def _said(request: Request, refusal: Refusal) -> str:
    """A refusal in the reader's language (its own two messages)."""
    return refusal.message_en if lang_of(request) == "en" else refusal.message_zh


def _tenant(viewer: Viewer) -> str:
    return viewer.principal.dl_tenant_id or ""


def _admins_only(viewer: Viewer) -> str:
    """The tenant's administrators manage its people (403 for PMs and staff)."""
    tenant = _tenant(viewer)
    enforce(rules.people_scope(viewer.principal.role, tenant, tenant, write=True),
            viewer.principal, "people")
    return tenant


async def _users_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                      **shown: Any) -> HTMLResponse:
    tenant = _admins_only(viewer)
    values: dict[str, Any] = {"error": None, "created": None, "reset": None, "form": {},
                              "department_error": None, **shown}
    creatable = rules.CREATES.get(viewer.principal.role, ())
    return html(request, "delivery_users.html", frame(
        viewer, "dl_users", tenant=await people.get_tenant(db, tenant),
        departments=await people.list_departments(db, tenant),
        users=await people.list_people(db, tenant), creatable=creatable,
        provider_roles=[r for r in await people.provider_roles(db)
                        if r != rules.ADMIN_ONLY_ROLE], accepting_names=ACCEPTING,
        **values), status=code)


@router.get("/users")
async def users_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _users_page(request, viewer, db)


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


@router.post("/users")
async def create_user(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    """A user of the viewer's tenant by the rules of POST /v1/delivery/users; the one-time
    password is in this answer only."""
    _admins_only(viewer)
    form = await request.form()
    fields = {name: _text(form, name) for name in ("login", "role", "display_name",
                                                   "department_id", "mobile", "landline",
                                                   "email")}
    roles = [r for r in form.getlist("business_roles") if isinstance(r, str)]
    try:
        body = DeliveryUserCreate.model_validate({**fields, "business_roles": roles})
        created = await make_user(db, viewer.principal, body)
    except ValidationError as exc:
        return await _users_page(request, viewer, db, code=422, error=problem_of(exc),
                                 form=fields)
    except Refusal as refusal:
        return await _users_page(request, viewer, db, code=422, error=_said(request, refusal),
                                 form=fields)
    except AlreadyExists:
        return await _users_page(request, viewer, db, code=409, form=fields, error=say(
            request, N_("The login %(login)s is taken."), login=fields["login"] or ""))
    return await _users_page(request, viewer, db, code=201, created=created)


@router.post("/users/{user_id}/password-reset")
async def reset_password(request: Request, user_id: str, viewer: Page, db: Db
                         ) -> HTMLResponse:
    """A new one-time password for a forgotten one (I-07), shown once."""
    done = await reset(db, viewer.principal, user_id)
    return await _users_page(request, viewer, db, reset=done)


@router.post("/departments")
async def create_department(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    """A department under the provider ("+" on its node) or under a department."""
    tenant = _admins_only(viewer)
    form = await request.form()
    name, parent = _text(form, "name"), _text(form, "parent_id")
    if name is None or len(name) > 50:
        return await _users_page(request, viewer, db, code=422, department_error=say(
            request, N_("A department has a name of 1 to 50 characters.")))
    try:
        await people.create_department(db, tenant, name, parent)
    except AlreadyExists:
        return await _users_page(request, viewer, db, code=409, department_error=say(
            request, N_("This department exists already.")))
    return await _users_page(request, viewer, db, code=201)


def _loads_tenant(viewer: Viewer) -> str:
    tenant = _tenant(viewer)
    enforce(rules.load_scope(viewer.principal.role, tenant, tenant, write=True),
            viewer.principal, "staff loads")
    return tenant


async def _loads_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                      **shown: Any) -> HTMLResponse:
    tenant = _loads_tenant(viewer)
    values: dict[str, Any] = {"error": None, "notice": None, **shown}
    return html(request, "delivery_loads.html", frame(
        viewer, "dl_loads", staff=await people.list_people(db, tenant, carriers_only=True),
        accepting_names=ACCEPTING, **values), status=code)


@router.get("/loads")
async def loads_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _loads_page(request, viewer, db)


@router.post("/loads")
async def set_loads(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    """Every row of the form at once (I-30): its max load (0–50) and status; all or none."""
    tenant = _loads_tenant(viewer)
    form = await request.form()
    ids = [v for v in form.getlist("user_id") if isinstance(v, str)]
    changes = []
    try:
        for user_id in ids:
            load = rules.staff_load(_text(form, f"max_load_{user_id}") or "")
            changes.append(people.LoadChange(user_id, load,
                                             form.get(f"accepting_{user_id}") == "1"))
    except Refusal as refusal:
        return await _loads_page(request, viewer, db, code=422, error=_said(request, refusal))
    if changes:
        await people.set_loads(db, tenant, changes)
    return await _loads_page(request, viewer, db, notice=say(request, N_("Saved.")))


async def _me_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200
                   ) -> HTMLResponse:
    user_id, _ = me_of(viewer.principal)
    return html(request, "delivery_me.html", frame(
        viewer, "dl_me", person=await people.get_person(db, user_id),
        takes_orders=rules.may_toggle_own(viewer.principal.role), accepting_names=ACCEPTING),
        status=code)


@router.get("/me")
async def me_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _me_page(request, viewer, db)


@router.post("/me/accepting")
async def set_my_accepting(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    """Open ("1") or close ("0") one's own order-taking (SM-I-STAFF)."""
    user_id, tenant = me_of(viewer.principal)
    if not rules.may_toggle_own(viewer.principal.role):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role takes no orders")
    chosen = (await request.form()).get("accepting")
    if chosen not in ("0", "1"):
        return await _me_page(request, viewer, db, code=422)
    await people.set_loads(db, tenant, [people.LoadChange(user_id, None, chosen == "1")])
    return await _me_page(request, viewer, db)
