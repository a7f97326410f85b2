"""Jasper / Cisco IoT Control Center dialect (`/rws/api/v1/devices/...`).

HTTP Basic auth per account; about `rate_per_s` calls per second and one in flight per account,
else HTTP 429 `40000029` (see connectors/DIALECTS.md).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from core.operators import CardStatus
from domain.usage.validation import iccid_problem
from simulators.knobs import SimContext

DIALECT = "jasper"
STATUSES: dict[str, CardStatus] = {"ACTIVATED": "active", "DEACTIVATED": "stopped"}
WIRE_STATUS: dict[CardStatus, str] = {status: wire for wire, status in STATUSES.items()}


class Refusal(Exception):
    """An error answer: HTTP status, Jasper error code and the outcome it is counted under."""

    def __init__(self, http: int, code: str, message: str, outcome: str) -> None:
        super().__init__(message)
        self.http, self.code, self.message, self.outcome = http, code, message, outcome


UNAUTHORIZED = Refusal(401, "10000002", "Invalid credentials", "unauthorized")
RATE_LIMITED = Refusal(429, "40000029", "Rate limit exceeded", "rate_limited")
TRANSIENT = Refusal(500, "10000001", "Internal error, try again", "error")
COOLDOWN = Refusal(400, "10000024", "Status changed too recently", "cooldown")

Op = Callable[[Request, str, float], Awaitable[tuple[str, dict[str, Any]]]]


def _bad(message: str) -> Refusal:
    return Refusal(400, "10000003", message, "bad_request")


def account_of(request: Request) -> str | None:
    """The account (user name) of a Basic `username:apiKey` pair with both parts non-empty."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, key = decoded.partition(":")
    return user if user and key else None


def _checked(iccid: str) -> str:
    problem = iccid_problem(iccid)
    if problem:
        raise _bad(f"iccid {problem}")
    return iccid


async def _wanted_status(request: Request) -> CardStatus:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _bad("body must be JSON") from None
    status = body.get("status") if isinstance(body, dict) else None
    wanted = STATUSES.get(status) if isinstance(status, str) else None
    if wanted is None:
        raise _bad("status must be ACTIVATED or DEACTIVATED")
    return wanted


async def _call(ctx: SimContext, request: Request, iccid: str, op: Op,
                admitted: bool) -> JSONResponse:
    await ctx.pause()  # while this call holds the account's one slot
    now = ctx.now()
    try:
        if not admitted:
            raise UNAUTHORIZED if account_of(request) is None else RATE_LIMITED
        fault = ctx.fault()
        if fault is not None:
            raise RATE_LIMITED if fault == "rate_limited" else TRANSIENT
        outcome, body = await op(request, _checked(iccid), now)
    except Refusal as refusal:
        ctx.net.count(DIALECT, refusal.outcome)
        return JSONResponse({"errorCode": refusal.code, "errorMessage": refusal.message},
                            status_code=refusal.http)
    ctx.net.count(DIALECT, outcome)
    return JSONResponse(body)


async def _serve(ctx: SimContext, request: Request, iccid: str, op: Op) -> JSONResponse:
    """Authenticate, admit through the account's limiter, then run `op`."""
    account = account_of(request)
    limiter = ctx.net.limiter
    admitted = account is not None and limiter.acquire(account, ctx.now(), ctx.knobs.rate_per_s)
    try:
        return await _call(ctx, request, iccid, op, admitted)
    finally:
        if admitted and account is not None:
            limiter.release(account)


class Jasper:
    """The calls' own work, once the account was admitted."""

    def __init__(self, ctx: SimContext) -> None:
        self.net = ctx.net

    async def put_device(self, request: Request, iccid: str,
                         now: float) -> tuple[str, dict[str, Any]]:
        """`PUT devices/{iccid}`: change the status; a repeat answers like a change."""
        target = await _wanted_status(request)
        outcome = self.net.change(iccid, target, now)
        if outcome == "cooldown":
            raise COOLDOWN
        return outcome, {"iccid": iccid, "status": WIRE_STATUS[target]}

    async def get_device(self, request: Request, iccid: str,
                         now: float) -> tuple[str, dict[str, Any]]:
        """`GET devices/{iccid}`: the card's status."""
        return "accepted", {"iccid": iccid, "status": WIRE_STATUS[self.net.card(iccid).status]}

    async def ctd_usages(self, request: Request, iccid: str,
                         now: float) -> tuple[str, dict[str, Any]]:
        """`GET devices/{iccid}/ctdUsages`: cycle-to-date bytes."""
        used = self.net.usage_bytes(iccid, now)
        return "accepted", {"iccid": iccid, "ctdDataUsage": used, "overageLimitReached": False}


def _endpoint(ctx: SimContext, op: Op) -> Callable[[Request, str], Awaitable[JSONResponse]]:
    async def endpoint(request: Request, iccid: str) -> JSONResponse:
        return await _serve(ctx, request, iccid, op)

    return endpoint


def router(ctx: SimContext) -> APIRouter:
    """The Jasper routes, bound to the simulator context."""
    ops = Jasper(ctx)
    api = APIRouter(prefix="/rws/api/v1/devices")
    for path, method, op in (("/{iccid}", "PUT", ops.put_device),
                             ("/{iccid}", "GET", ops.get_device),
                             ("/{iccid}/ctdUsages", "GET", ops.ctd_usages)):
        api.add_api_route(path, _endpoint(ctx, op), methods=[method],
                          name=f"jasper_{op.__name__}")
    return api
