"""Signing in and out, the one-time password, the language switch, and the home page that
sends each person where their work is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api import sessions
from api.console.auth import PASSWORD_PAGE, Page, safe_next
from api.console.errors import redirect
from api.console.i18n import LANG_COOKIE, LANGS, N_, lang_of, translations
from api.console.layout import AGENT_ROLES, frame
from api.console.render import html
from api.deps import Db, Res
from api.sessions import SESSION_COOKIE, Refused
from store import users

router = APIRouter(prefix="/console")
ONE_YEAR_S = 365 * 24 * 3600
# Where the delivery workflow's people start: the project list for those who supervise, the
# projects waiting for them for staff, what they bought for customers.
DELIVERY_START = {"vendor_admin": "/console/delivery/projects",
                  "vendor_pm": "/console/delivery/projects",
                  "provider_admin": "/console/delivery/projects",
                  "provider_staff": "/console/delivery/mine",
                  "customer": "/console/delivery/purchased"}


@router.get("")
async def home(request: Request, viewer: Page) -> Response:
    """Each person's start page: their enterprise's overview, or the platform's enterprises."""
    target = (f"/console/e/{viewer.enterprise_id}" if viewer.enterprise_id is not None
              else "/console/ops/enterprises")
    if viewer.principal.agent_id is not None:  # an agent's people, an end user: their pages
        target = (f"/console/a/{viewer.principal.agent_id}/prices"
                  if viewer.principal.role in AGENT_ROLES else "/console/me/orders")
    if viewer.principal.role in DELIVERY_START:  # the delivery workflow's people (§6 I, X-02)
        target = DELIVERY_START[viewer.principal.role]
    query = request.url.query
    return RedirectResponse(f"{target}?{query}" if query else target, status_code=303)


def _login_form(request: Request, error: str | None = None, login: str = "",
                code: int = 200, retry_after: int | None = None) -> HTMLResponse:
    return html(request, "login.html", {
        "error": error, "login": login, "retry_minutes": -(-(retry_after or 0) // 60),
        "next": safe_next(request.query_params.get("next"))}, status=code,
        headers={"Retry-After": str(retry_after)} if retry_after else None)


@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    return _login_form(request)


@router.post("/login")
async def login(request: Request, db: Db, res: Res, login: Annotated[str, Form(max_length=64)],
                password: Annotated[str, Form(max_length=256)]) -> Response:
    try:
        user, token, _csrf = await sessions.sign_in(db, res.settings, login, password)
    except Refused as refused:
        message = (N_("Too many failed logins: try again in %(minutes)s minutes.")
                   if refused.status == 423 else N_("Wrong login or password."))
        return _login_form(request, message, login, refused.status, refused.retry_after)
    target = PASSWORD_PAGE if user.must_change_password else safe_next(
        request.query_params.get("next"))
    response = RedirectResponse(target, status_code=303)
    sessions.set_cookie(response, res.settings, token)
    return response


@router.post("/logout")
async def logout(request: Request, viewer: Page, db: Db) -> Response:
    await users.end_session(db, viewer.token)
    response = redirect(request, "/console/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/password")
async def password_page(request: Request, viewer: Page) -> HTMLResponse:
    return html(request, "password.html", frame(viewer, "password", error=None))


@router.post("/password")
async def change_password(request: Request, viewer: Page, db: Db,
                          current_password: Annotated[str, Form(max_length=256)],
                          new_password: Annotated[str, Form(max_length=256)],
                          repeat_password: Annotated[str, Form(max_length=256)]) -> Response:
    found = await users.session(db, viewer.token)
    assert found is not None  # noqa: S101 - the viewer's own session, checked just now
    try:
        if new_password != repeat_password:
            raise Refused(422, N_("The two new passwords differ."), field="repeat_password")
        await sessions.change_password(db, found.user, viewer.token, current_password,
                                       new_password)
    except Refused as refused:
        gettext = translations(lang_of(request)).gettext
        return html(request, "password.html",
                    frame(viewer, "password", error=gettext(refused.message)),
                    status=refused.status)
    return RedirectResponse("/console?changed=password", status_code=303)


@router.get("/lang/{lang}")
async def choose_language(lang: str, next: Annotated[str | None, Query()] = None) -> Response:
    """Switch the language (a cookie; nothing on the server changes)."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=ONE_YEAR_S, samesite="lax", path="/")
    return response

