"""People: log in and out with a session cookie, change a password, and create the users of a
tenant (each gets a one-time password)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError

from api import sessions
from api.deps import (
    Caller,
    Db,
    Principal,
    Res,
    forbid_viewer,
    is_business_writer,
    own,
    visible_agent,
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
from api.sessions import SESSION_COOKIE, WRONG, Refused, set_cookie, sign_in
from core.passwords import hash_password
from domain.people.rules import AGENT_ROLES, PLATFORM_ROLES, one_time_password, tenant_problem
from store import agents, users
from store.db import Conn
from store.users import Session, User

router = APIRouter(tags=["people"])


def _out(user: User, csrf: str) -> SessionOut:
    return SessionOut(login=user.login, role=user.role, enterprise_id=user.enterprise_id,
                      agent_id=user.agent_id, must_change_password=user.must_change_password,
                      csrf_token=csrf)


def _refusal(refused: Refused) -> HTTPException | RequestValidationError:
    if refused.status == 422 and refused.field:
        return invalid("body", [refused.field], refused.message)
    headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else None
    return HTTPException(refused.status, refused.message, headers=headers)


@router.post("/v1/session", response_model=SessionOut,
             responses={401: {"description": WRONG}, 423: {"description": "locked"}})
async def log_in(body: LoginIn, response: Response, db: Db, res: Res) -> SessionOut:
    """Sign in: sets the HttpOnly, SameSite session cookie; answers the CSRF token."""
    try:
        user, token, csrf = await sign_in(db, res.settings, body.login, body.password)
    except Refused as refused:
        raise _refusal(refused) from None
    set_cookie(response, res.settings, token)
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
    try:
        await sessions.change_password(db, found.user, token, body.current_password,
                                       body.new_password)
    except Refused as refused:
        raise _refusal(refused) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def may_create(caller: Principal, body: UserCreate) -> None:
    """The platform administrator creates anyone; an enterprise admin the users of its own
    tenant; nobody else (agents' people: `may_create_for_agent`)."""
    forbid_viewer(caller)
    if caller.role != "admin" and body.role in PLATFORM_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "only the platform administrator creates platform users")
    if body.enterprise_id is not None:
        own(caller, body.enterprise_id, write=True)


async def may_create_for_agent(db: Conn, caller: Principal, agent_id: str) -> None:
    """The people of an agent are created by platform writers (admin, platform_operator) or
    by an agent_admin of that agent or of one upstream of it (X-01, §7.2)."""
    if is_business_writer(caller):
        await agents.get_agent(db, agent_id)
        return
    if caller.role != "agent_admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{caller.role} may not create the "
                            "people of an agent")
    await visible_agent(db, agent_id, caller)


@router.post("/v1/users", status_code=status.HTTP_201_CREATED, response_model=UserCreated,
             responses={**NOT_FOUND, **CONFLICT})
async def create_user(body: UserCreate, caller: Caller, db: Db) -> UserCreated:
    """A user with a one-time password, shown only in this answer."""
    problem = tenant_problem(body.role, body.enterprise_id, body.agent_id)
    if problem:
        field = "agent_id" if body.role in AGENT_ROLES or "agent" in problem else "enterprise_id"
        raise invalid("body", [field], problem)
    if body.agent_id is not None:
        await may_create_for_agent(db, caller, body.agent_id)
    else:
        may_create(caller, body)
    return await make_user(db, body)


async def make_user(db: Conn, body: UserCreate) -> UserCreated:
    """Create the user with a fresh one-time password (the API and `cardpulse users`)."""
    password = one_time_password()
    user = await users.create_user(db, body.login, hash_password(password), body.role,
                                   body.enterprise_id, body.agent_id)
    return UserCreated(**_public(user).model_dump(), one_time_password=password)


def _public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/v1/users", response_model=list[UserPublic], responses=NOT_FOUND)
async def list_users(caller: Caller, db: Db,
                     enterprise_id: Annotated[str | None, Query()] = None) -> list[UserPublic]:
    """The users of a tenant (enterprise roles: their own; agents' people: their agent's), or
    every user (platform roles)."""
    if caller.agent_id is not None:
        if caller.role == "end_user" or enterprise_id is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{caller.role} may not list these")
        return [_public(u) for u in await users.list_users(db, None, caller.agent_id)]
    if caller.enterprise_id is not None:
        enterprise_id = enterprise_id or caller.enterprise_id
    if enterprise_id is not None:
        own(caller, enterprise_id, write=False)
    return [_public(u) for u in await users.list_users(db, enterprise_id)]

