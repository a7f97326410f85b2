"""Who may use an enterprise's data: its API keys (made with a role, the key shown once,
revoked at once) and its console users (made with an enterprise role and a one-time password
shown once). The API's store functions and rules do the work; creating keys and users is for
the enterprise's administrators and the platform administrator."""

from __future__ import annotations

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
from api.console.words import ROLE_NAMES
from api.deps import Db
from api.routers.people import make_user, may_create
from api.schemas.keys import ApiKeyCreate
from api.schemas.people import UserCreate
from domain.people.rules import tenant_problem
from store import keys, users
from store.db import Conn
from store.enterprises import Enterprise
from store.errors import AlreadyExists, NotFound

router = APIRouter(prefix="/console/e/{enterprise_id}", dependencies=ENTERPRISE_GUARD)
ENTERPRISE_ROLES = ("enterprise_admin", "enterprise_viewer")
KEY_COLUMNS = (N_("Key id"), N_("Role"), N_("Created"), N_("Last used"), N_("Revoked"))
USER_COLUMNS = (N_("Login"), N_("Role"), N_("Locked until"), N_("Must change password"),
                N_("Created"))
SHOWN_STATES = (N_("live"), N_("revoked"), N_("yes"), N_("no"), N_("set"), N_("not set"),
                N_("up"), N_("unavailable"))


def _may_list_keys(viewer: Viewer) -> bool:
    """As GET /v1/enterprises/{id}/api-keys: an enterprise viewer may not list keys."""
    return viewer.principal.role != "enterprise_viewer"


async def _keys_page(request: Request, viewer: Viewer, db: Conn, enterprise: Enterprise, *,
                     status: int = 200, **shown: Any) -> HTMLResponse:
    listed = (await keys.list_api_keys(db, enterprise.enterprise_id)
              if _may_list_keys(viewer) else None)
    values: dict[str, Any] = {"error": None, "new_key": None, "notice": None, **shown}
    return html(request, "keys.html", frame(viewer, "keys", enterprise, keys=listed,
                                            roles=ENTERPRISE_ROLES, **values), status=status)


@router.get("/keys")
async def keys_page(request: Request, enterprise_id: str, viewer: Page, db: Db
                    ) -> HTMLResponse:
    return await _keys_page(request, viewer, db, await enterprise_for(db, enterprise_id, viewer))


@router.get("/keys.{fmt}")
async def keys_export(request: Request, enterprise_id: str, fmt: Format, viewer: Page, db: Db
                      ) -> Response:
    enterprise = await enterprise_for(db, enterprise_id, viewer,
                                      write=not _may_list_keys(viewer))
    rows = [(k.key_id, say(request, ROLE_NAMES.get(k.role, k.role)), k.created_at,
             k.last_used_at, k.revoked_at)
            for k in await keys.list_api_keys(db, enterprise_id)]
    return download(request, fmt, f"api-keys-{enterprise_id}", KEY_COLUMNS, rows,
                    enterprise.timezone)


@router.post("/keys")
async def create_key(request: Request, enterprise_id: str, viewer: Page, db: Db,
                     role: Annotated[str, Form(max_length=64)]) -> HTMLResponse:
    """A key with the chosen role; its secret is in this answer only (only its hash is kept)."""
    enterprise = await enterprise_for(db, enterprise_id, viewer, write=True)
    try:
        body = ApiKeyCreate(role=role)  # type: ignore[arg-type]  # checked here
    except ValidationError as exc:
        return await _keys_page(request, viewer, db, enterprise, status=422,
                                error=problem_of(exc))
    key_id, key = await keys.create_api_key(db, enterprise_id, body.role)
    return await _keys_page(request, viewer, db, enterprise, status=201,
                            new_key={"key_id": key_id, "key": key, "role": body.role})


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, enterprise_id: str, key_id: str, viewer: Page, db: Db
                     ) -> HTMLResponse:
    """Revoke one of this enterprise's keys at once (another enterprise's key is not found)."""
    enterprise = await enterprise_for(db, enterprise_id, viewer, write=True)
    if (await keys.key_of(db, key_id)).enterprise_id != enterprise_id:
        raise NotFound(f"api key {key_id!r}")
    await keys.revoke_api_key(db, key_id)
    return await _keys_page(request, viewer, db, enterprise, notice=say(
        request, N_("The key %(key)s is revoked: it no longer works."), key=key_id))


async def _users_page(request: Request, viewer: Viewer, db: Conn, enterprise: Enterprise, *,
                      status: int = 200, **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"error": None, "created": None, "login_value": "", **shown}
    return html(request, "users.html", frame(
        viewer, "users", enterprise, users=await users.list_users(db, enterprise.enterprise_id),
        roles=ENTERPRISE_ROLES, **values), status=status)


@router.get("/users")
async def users_page(request: Request, enterprise_id: str, viewer: Page, db: Db
                     ) -> HTMLResponse:
    return await _users_page(request, viewer, db,
                             await enterprise_for(db, enterprise_id, viewer))


@router.get("/users.{fmt}")
async def users_export(request: Request, enterprise_id: str, fmt: Format, viewer: Page,
                       db: Db) -> Response:
    enterprise = await enterprise_for(db, enterprise_id, viewer)
    rows = [(u.login, say(request, ROLE_NAMES.get(u.role, u.role)), u.locked_until,
             say(request, N_("yes") if u.must_change_password else N_("no")), u.created_at)
            for u in await users.list_users(db, enterprise_id)]
    return download(request, fmt, f"users-{enterprise_id}", USER_COLUMNS, rows,
                    enterprise.timezone)


@router.post("/users")
async def create_user(request: Request, enterprise_id: str, viewer: Page, db: Db,
                      login: Annotated[str, Form(max_length=64)],
                      role: Annotated[str, Form(max_length=64)]) -> HTMLResponse:
    """A user of this enterprise, by the rules of POST /v1/users; its one-time password is in
    this answer only."""
    enterprise = await enterprise_for(db, enterprise_id, viewer, write=True)
    try:
        body = UserCreate(login=login, role=role, enterprise_id=enterprise_id)  # type: ignore[arg-type]
    except ValidationError as exc:
        return await _users_page(request, viewer, db, enterprise, status=422,
                                 error=problem_of(exc), login_value=login)
    problem = tenant_problem(body.role, body.enterprise_id)
    if problem:
        return await _users_page(request, viewer, db, enterprise, status=422, error=problem,
                                 login_value=login)
    may_create(viewer.principal, body)
    try:
        created = await make_user(db, body)
    except AlreadyExists:
        return await _users_page(request, viewer, db, enterprise, status=409, login_value=login,
                                 error=say(request, N_("The login %(login)s is taken."),
                                           login=login))
    return await _users_page(request, viewer, db, enterprise, status=201, created=created)
