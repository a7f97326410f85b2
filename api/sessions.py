"""Signing in and changing a password, shared by the JSON API (`/v1/session`) and the console's
forms (`/console/login`): one lock-out, one password rule, one cookie."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import Response

from core.clock import now
from core.passwords import DUMMY_HASH, hash_password, verify_password
from core.settings import Settings
from domain.people.rules import password_problem
from store import users
from store.db import Conn
from store.users import User

SESSION_COOKIE = "cardpulse_session"
WRONG = "wrong login or password"


@dataclass(frozen=True)
class Refused(Exception):
    """Why signing in or changing a password failed: an HTTP status, a message in English,
    and for a lock-out the seconds to wait."""

    status: int
    message: str
    retry_after: int | None = None
    field: str | None = None  # the form field at fault (422)


def _locked(user: User) -> Refused | None:
    if user.locked_until is None or user.locked_until <= now():
        return None
    wait = math.ceil((user.locked_until - now()).total_seconds())
    return Refused(423, f"too many failed logins: locked for {wait} s more", wait)


async def sign_in(db: Conn, settings: Settings, login: str, password: str
                  ) -> tuple[User, str, str]:
    """Check the password (counting failures toward the lock-out) and open a session:
    returns the user, the cookie value and the session's CSRF token."""
    user = await users.user_by_login(db, login)
    if user is None:
        verify_password(DUMMY_HASH, password)  # as slow as a known login
        raise Refused(401, WRONG)
    locked = _locked(user)
    if locked is not None:
        raise locked
    if not verify_password(user.password_hash, password):
        raise _locked(await users.login_failed(db, user.user_id)) or Refused(401, WRONG)
    await users.login_succeeded(db, user.user_id)
    token, csrf = await users.start_session(db, user.user_id, settings.session_ttl_s)
    return user, token, csrf


def set_cookie(response: Response, settings: Settings, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, the whole site, as long as the session."""
    response.set_cookie(SESSION_COOKIE, token, max_age=int(settings.session_ttl_s),
                        httponly=True, samesite="lax", secure=settings.cookie_secure, path="/")


async def change_password(db: Conn, user: User, token: str, current: str, new: str) -> None:
    """Change the user's password (the one-time password first of all); its other sessions
    end. Refused (401) for a wrong current password, (422) for a weak new one."""
    if not verify_password(user.password_hash, current):
        raise Refused(401, "the current password is wrong", field="current_password")
    problem = password_problem(new, user.login)
    if problem is None and new == current:
        problem = "the new password is the current one"
    if problem:
        raise Refused(422, problem, field="new_password")
    await users.set_password(db, user.user_id, hash_password(new))
    await users.end_other_sessions(db, user.user_id, token)
