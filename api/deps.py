"""Dependencies of the routers: resources, the caller, permission checks, and visibility:
another tenant's objects are not found (404), read-only roles may not change anything (403)."""

from __future__ import annotations

import hmac
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from api.limits import RateLimiter
from api.metrics import ApiMetrics
from api.sessions import SESSION_COOKIE
from core.settings import Settings
from domain.people.rules import BUSINESS_WRITERS, Role
from domain.pricing.visibility import audience, sees_agent
from store import agents, cards, enterprises, pools, users
from store.agents import Actor, Agent
from store.cards import CardView
from store.db import Conn
from store.enterprises import Enterprise
from store.errors import NotFound
from store.keys import key_owner
from store.pools import PoolView
from streams.publish import Publisher

PrincipalRole = Role
READ_ONLY = ("platform_ops", "enterprise_viewer", "platform_finance", "agent_viewer")
# Platform staff read every tenant's objects (only `admin` changes the core's).
PLATFORM_READERS = ("admin", "platform_ops", "platform_operator", "platform_finance")


@dataclass(frozen=True)
class Resources:
    """What the API process holds open for its lifetime (built in the lifespan)."""

    settings: Settings
    pool: AsyncConnectionPool[Conn]
    publisher: Publisher
    metrics: ApiMetrics
    limiter: RateLimiter


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    role: PrincipalRole
    enterprise_id: str | None = None
    key_id: str = "admin"
    agent_id: str | None = None  # agent roles and end users: their agent
    user_id: str | None = None  # people signed in (sessions); None for API keys
    dl_tenant_id: str | None = None  # the delivery roles' tenant (§6 I)

    def sees(self, enterprise_id: str) -> bool:
        return self.role in PLATFORM_READERS or self.enterprise_id == enterprise_id

    def manages(self, enterprise_id: str) -> bool:
        return self.role == "admin" or (
            self.role == "enterprise_admin" and self.enterprise_id == enterprise_id
        )


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


Res = Annotated[Resources, Depends(get_resources)]


async def get_conn(res: Res) -> AsyncIterator[Conn]:
    async with res.pool.connection() as conn:
        yield conn


Db = Annotated[Conn, Depends(get_conn)]
_bearer = HTTPBearer(auto_error=False)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": "Bearer"})


CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_SESSION_PATHS = "/v1/session"  # what a one-time password may still reach


async def _key_principal(res: Resources, db: Conn, token: str) -> Principal:
    admin = res.settings.admin_token
    if admin is not None and hmac.compare_digest(token, admin.get_secret_value()):
        return Principal("admin")
    owner = await key_owner(db, token)
    if owner is None:
        raise _unauthorized("unknown or revoked token")
    return Principal(_ROLES[owner.role], owner.enterprise_id, owner.key_id)


async def _session_principal(request: Request, db: Conn) -> Principal:
    """A person signed in with the session cookie: every change carries the session's CSRF
    token, and a one-time password must be changed before anything else."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _unauthorized("send Authorization: Bearer <token>, or log in (POST /v1/session)")
    found = await users.session(db, token)
    if found is None:
        raise _unauthorized("the session has ended: log in again (POST /v1/session)")
    if request.method not in _SAFE_METHODS and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, ""), found.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"missing or wrong {CSRF_HEADER}: send the csrf_token of your "
                            "session with every change")
    user = found.user
    if user.must_change_password and not request.url.path.startswith(_SESSION_PATHS):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "change your one-time password first "
                                                        "(PUT /v1/session/password)")
    return Principal(user.role, user.enterprise_id, f"user:{user.login}", user.agent_id,
                     user.user_id, user.dl_tenant_id)


async def get_principal(
    request: Request, res: Res, db: Db,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Machines send a bearer token (an API key); people a session cookie."""
    if creds is not None and creds.scheme.lower() == "bearer":
        principal = await _key_principal(res, db, creds.credentials)
    else:
        principal = await _session_principal(request, db)
    wait = res.limiter.wait(principal.key_id)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"rate limit of {res.settings.api_rate_per_s:g} requests/s per key "
                            "exceeded; retry later",
                            headers={"Retry-After": str(max(1, math.ceil(wait)))})
    return principal


_ROLES: dict[str, PrincipalRole] = {"enterprise_admin": "enterprise_admin",
                                    "enterprise_viewer": "enterprise_viewer",
                                    "platform_ops": "platform_ops"}


Caller = Annotated[Principal, Depends(get_principal)]


def require_admin(caller: Caller) -> Principal:
    if caller.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "only the platform administrator may do this")
    return caller


# Security rather than Depends: the role shows in the operation's security requirement, which
# documents it (and its 403) in the OpenAPI schema (api/openapi.py).
Admin = Annotated[Principal, Security(require_admin, scopes=["admin"])]


def require_platform(caller: Caller) -> Principal:
    if caller.role not in ("admin", "platform_ops"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only platform roles may do this")
    return caller


Platform = Annotated[Principal, Security(require_platform, scopes=["platform"])]


def forbid_viewer(caller: Principal) -> None:
    """Read-only roles (enterprise_viewer, platform_ops) may not change anything."""
    if caller.role in READ_ONLY:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{caller.role} keys are read-only")


def own(caller: Principal, enterprise_id: str, *, write: bool) -> None:
    """The caller may read (or, with `write`, change) this enterprise's objects: else 404 for
    another tenant, 403 for a read-only role of this one."""
    allowed = caller.manages(enterprise_id) if write else caller.sees(enterprise_id)
    if not allowed:
        if caller.sees(enterprise_id):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{caller.role} keys are read-only")
        raise NotFound(f"enterprise {enterprise_id!r}")


async def visible_enterprise(db: Conn, enterprise_id: str, caller: Principal, *,
                             write: bool = False) -> Enterprise:
    """The enterprise, if the caller may read it (or change it, with `write`); one that does
    not exist is not found for every role, the platform administrator's included."""
    own(caller, enterprise_id, write=write)
    return await enterprises.get_enterprise(db, enterprise_id)


def may_manage(caller: Principal, enterprise_id: str) -> None:
    """For creating objects of an enterprise: read-only roles, and platform staff who read but
    do not change the core, 403; other tenants 404."""
    forbid_viewer(caller)
    own(caller, enterprise_id, write=True)


async def visible_card(db: Conn, iccid: str, caller: Principal) -> CardView:
    """The card, if the caller may see it; another tenant's card is not found."""
    view = await cards.get_card(db, iccid)
    if not caller.sees(view.enterprise_id):
        raise NotFound(f"card {iccid}")
    return view


async def visible_pool(db: Conn, pool_id: str, caller: Principal) -> PoolView:
    """The pool, if the caller may see it; another tenant's pool is not found."""
    view = await pools.get_pool(db, pool_id)
    if not caller.sees(view.enterprise_id):
        raise NotFound(f"pool {pool_id!r}")
    return view


# Agents (G1-14, X-03): an agent's people see their agent and its downstream subtree; any other
# agent does not exist for them (404). Roles with no part in the agent tree get 403.
def is_business_writer(caller: Principal) -> bool:
    """Platform staff who change business objects (X-01: admin, platform_operator)."""
    return caller.role in BUSINESS_WRITERS


def forbid(message: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, message)


async def caller_agent(db: Conn, caller: Principal) -> Agent | None:
    """The agent of an agent role or end user (None for everyone else)."""
    if caller.agent_id is None:
        return None
    return await agents.get_agent(db, caller.agent_id)


async def visible_agent(db: Conn, agent_id: str, caller: Principal) -> Agent:
    """The agent, if the caller may see it: platform roles any, an agent's people their own
    agent and its downstream (another branch, or upstream: 404); other roles 403."""
    seen = audience(caller.role)
    if seen not in ("platform", "agent"):
        raise forbid(f"{caller.role} has no access to agents")
    target = await agents.get_agent(db, agent_id)
    if seen == "agent":
        mine = await caller_agent(db, caller)
        if mine is None or not sees_agent(mine.labels, target.labels):
            raise NotFound(f"agent {agent_id!r}")
    return target


def actor(caller: Principal, request: Request) -> Actor:
    """The caller as the audit trail records it (C-08)."""
    return Actor(caller.key_id, caller.role, request.headers.get("X-Request-ID"))
