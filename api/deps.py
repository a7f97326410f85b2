"""Dependencies of the routers: resources, the caller, and permission checks."""

from __future__ import annotations

import hmac
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from api.limits import RateLimiter
from api.metrics import ApiMetrics
from cardpulse.settings import Settings
from store.db import Conn
from store.tenants import key_owner
from streams.publish import Publisher

PrincipalRole = Literal["admin", "platform_ops", "enterprise_admin", "enterprise_viewer"]
READ_ONLY = ("platform_ops", "enterprise_viewer")


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

    def sees(self, enterprise_id: str) -> bool:
        return self.role in ("admin", "platform_ops") or self.enterprise_id == enterprise_id

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


async def get_principal(
    res: Res, db: Db,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise _unauthorized("send Authorization: Bearer <token>")
    token = creds.credentials
    admin = res.settings.admin_token
    if admin is not None and hmac.compare_digest(token, admin.get_secret_value()):
        principal = Principal("admin")
    else:
        owner = await key_owner(db, token)
        if owner is None:
            raise _unauthorized("unknown or revoked token")
        principal = Principal(_ROLES[owner.role], owner.enterprise_id, owner.key_id)
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


Admin = Annotated[Principal, Depends(require_admin)]


def require_platform(caller: Caller) -> Principal:
    if caller.role not in ("admin", "platform_ops"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only platform roles may do this")
    return caller


Platform = Annotated[Principal, Depends(require_platform)]
