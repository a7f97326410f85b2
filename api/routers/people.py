"""People: log in and out with a session cookie, change a password, and create the users of a
tenant (each gets a one-time password)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from api.deps import (
    SESSION_COOKIE,
    Caller,
    Db,
    Principal,
    Res,
    forbid_viewer,
    own,
)
from api.errors import invalid
from api.openapi import CONFLICT, NOT_FOUND
from api.schemas.people import (
    LoginIn,
    PasswordChange,
    SessionOut,
    UserCreate,
    UserCreated,
    UserPublic,
)
from core.clock import now
from core.passwords import DUMMY_HASH, hash_password, verify_password
from domain.people.rules import PLATFORM_ROLES, one_time_password, password_problem, tenant_problem
from store import users
from store.db import Conn
from store.users import Session, User

router = APIRouter(tags=["people"])
WRONG = "wrong login or password"


def _out(user: User, csrf: str) -> SessionOut:
    return SessionOut(login=user.login, role=user.role, enterprise_id=user.enterprise_id,
                      must_change_password=user.must_change_password, csrf_token=csrf)


def _locked(user: User) -> HTTPException | None:
    if user.locked_until is None or user.locked_until <= now():
        return None
    wait = math.ceil((user.locked_until - now()).total_seconds())
    return HTTPException(status.HTTP_423_LOCKED,
                         f"too many failed logins: locked for {wait} s more",
                         headers={"Retry-After": str(wait)})


@router.post("/v1/session", response_model=SessionOut,
             responses={401: {"description": WRONG}, 423: {"description": "locked"}})
async def log_in(body: LoginIn, response: Response, db: Db, res: Res) -> SessionOut:
    """Sign in: sets the HttpOnly, SameSite session cookie; answers the CSRF token."""
    user = await users.user_by_login(db, body.login)
    if user is None:
        verify_password(DUMMY_HASH, body.password)  # as slow as a known login
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, WRONG)
    locked = _locked(user)
    if locked is not None:
        raise locked
    if not verify_password(user.password_hash, body.password):
        locked = _locked(await users.login_failed(db, user.user_id))
        raise locked or HTTPException(status.HTTP_401_UNAUTHORIZED, WRONG)
    await users.login_succeeded(db, user.user_id)
    token, csrf = await users.start_session(db, user.user_id, res.settings.session_ttl_s)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(res.settings.session_ttl_s),
                        httponly=True, samesite="lax", secure=res.settings.cookie_secure,
                        path="/")
    return _out(user, csrf)


async def current_session(request: Request, db: Db) -> tuple[Session, str]:
    """The caller's own session (these routes are for people, not API keys)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    found = await users.session(db, token) if token else None
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "not logged in: log in first (POST /v1/session)")
    return found, token


Own = Annotated[tuple[Session, str], Depends(current_session)]


@router.get("/v1/session", response_model=SessionOut)
async def who_am_i(mine: Own, _: Caller) -> SessionOut:
    found, _token = mine
    return _out(found.user, found.csrf_token)


@router.delete("/v1/session", status_code=status.HTTP_204_NO_CONTENT)
async def log_out(mine: Own, _: Caller, db: Db) -> Response:
    """End this session (a change: send X-CSRF-Token)."""
    await users.end_session(db, mine[1])
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.put("/v1/session/password", status_code=status.HTTP_204_NO_CONTENT,
            responses={401: {"description": "the current password is wrong"}})
async def change_password(body: PasswordChange, mine: Own, _: Caller, db: Db) -> Response:
    """Change the password (a one-time password first of all); other sessions end."""
    found, token = mine
    if not verify_password(found.user.password_hash, body.current_password):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the current password is wrong")
    problem = password_problem(body.new_password, found.user.login)
    if problem is None and body.new_password == body.current_password:
        problem = "the new password is the current one"
    if problem:
        raise invalid("body", ["new_password"], problem)
    await users.set_password(db, found.user.user_id, hash_password(body.new_password))
    await users.end_other_sessions(db, found.user.user_id, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _may_create(caller: Principal, body: UserCreate) -> None:
    """The platform administrator creates anyone; an enterprise admin the users of its own
    tenant; nobody else."""
    forbid_viewer(caller)
    if caller.role != "admin" and body.role in PLATFORM_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "only the platform administrator creates platform users")
    if body.enterprise_id is not None:
        own(caller, body.enterprise_id, write=True)


@router.post("/v1/users", status_code=status.HTTP_201_CREATED, response_model=UserCreated,
             responses={**NOT_FOUND, **CONFLICT})
async def create_user(body: UserCreate, caller: Caller, db: Db) -> UserCreated:
    """A user with a one-time password, shown only in this answer."""
    problem = tenant_problem(body.role, body.enterprise_id)
    if problem:
        raise invalid("body", ["enterprise_id"], problem)
    _may_create(caller, body)
    return await make_user(db, body)


async def make_user(db: Conn, body: UserCreate) -> UserCreated:
    """Create the user with a fresh one-time password (the API and `cardpulse users`)."""
    password = one_time_password()
    user = await users.create_user(db, body.login, hash_password(password), body.role,
                                   body.enterprise_id)
    return UserCreated(**_public(user).model_dump(), one_time_password=password)


def _public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/v1/users", response_model=list[UserPublic], responses=NOT_FOUND)
async def list_users(caller: Caller, db: Db,
                     enterprise_id: Annotated[str | None, Query()] = None) -> list[UserPublic]:
    """The users of a tenant (enterprise roles: their own), or every user (platform roles)."""
    if caller.enterprise_id is not None:
        enterprise_id = enterprise_id or caller.enterprise_id
    if enterprise_id is not None:
        own(caller, enterprise_id, write=False)
    return [_public(u) for u in await users.list_users(db, enterprise_id)]

