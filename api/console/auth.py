"""Who is looking at a console page: the person of the session cookie, authorised by the same
`Principal` the API uses (`api.deps`), so a tenant never sees another tenant's objects (404) and
a read-only role may change nothing (403). Without a session the page sends the browser to the
login form; with a one-time password, to the password form. Every change (any method but GET)
carries the session's CSRF token, in the `X-CSRF-Token` header (htmx adds it to every request)
or in a `csrf_token` form field."""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status

from api.deps import CSRF_HEADER, PLATFORM_READERS, Db, Principal, Res
from api.sessions import SESSION_COOKIE
from store import users

_SAFE = ("GET", "HEAD", "OPTIONS")
PASSWORD_PAGE = "/console/password"  # noqa: S105 - a path, not a password


class Redirect(Exception):
    """Send the browser elsewhere (to log in, to change a one-time password)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclass(frozen=True)
class Viewer:
    """The signed-in person behind a page."""

    principal: Principal
    login: str
    csrf: str
    token: str
    must_change_password: bool = False

    @property
    def platform(self) -> bool:
        return self.principal.role in PLATFORM_READERS

    @property
    def enterprise_id(self) -> str | None:
        return self.principal.enterprise_id

    def can_change(self, enterprise_id: str) -> bool:
        """May change this enterprise's objects (shows the buttons; the server checks again)."""
        return self.principal.manages(enterprise_id)

    @property
    def admin(self) -> bool:
        return self.principal.role == "admin"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a console path (never another site)."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


async def _csrf_ok(request: Request, expected: str) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        field = (await request.form()).get("csrf_token")
        sent = field if isinstance(field, str) else None
    return sent is not None and hmac.compare_digest(sent, expected)


async def current_viewer(request: Request, res: Res, db: Db) -> Viewer:
    """The page's viewer, or a redirect to the login (or password) form."""
    token = request.cookies.get(SESSION_COOKIE, "")
    found = await users.session(db, token) if token else None
    if found is None:
        raise Redirect(f"/console/login?next={quote(safe_next(request.url.path), safe='/')}")
    if request.method not in _SAFE and not await _csrf_ok(request, found.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "missing or wrong CSRF token: reload the page and try again")
    user = found.user
    if user.must_change_password and request.url.path != PASSWORD_PAGE:
        raise Redirect(PASSWORD_PAGE)
    principal = Principal(user.role, user.enterprise_id, f"user:{user.login}", user.agent_id,
                          user.user_id, user.dl_tenant_id)
    wait = res.limiter.wait(principal.key_id)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many requests: retry later",
                            headers={"Retry-After": str(max(1, math.ceil(wait)))})
    return Viewer(principal, user.login, found.csrf_token, token, user.must_change_password)


Page = Annotated[Viewer, Depends(current_viewer)]


def require_change(viewer: Viewer, enterprise_id: str) -> None:
    """Refuse (403) a change by a read-only role; the enterprise must be visible already."""
    if not viewer.can_change(enterprise_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not change this")


def require_platform(viewer: Viewer) -> None:
    if not viewer.platform:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such page")


def require_admin(viewer: Viewer) -> None:
    require_platform(viewer)
    if not viewer.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "only the platform administrator may do this")
