"""Jasper / Cisco IoT Control Center dialect (`/rws/api/v1/devices/...`).

HTTP Basic auth. The simulator serves one Control Center account, so every user shares its
limit: about `rate_per_s` calls per second and one in flight, else HTTP 429 `40000029`. A
status change answers 200 when done, or 202 when it happens `completion_ms` later (see
connectors/DIALECTS.md).
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
from simulators.beijing import cycle_start, day_of, iso_utc
from simulators.fleet_state import SimCard, Stage
from simulators.knobs import SimContext

DIALECT = "jasper"
ACCOUNT = "control-center"  # the one account: every Basic user shares its rate limit
RATE_PLAN = "CARDPULSE-SIM"
STATUSES: dict[str, CardStatus] = {"ACTIVATED": "active", "DEACTIVATED": "stopped"}
WIRE_STATUS: dict[CardStatus, str] = {status: wire for wire, status in STATUSES.items()}
# Cards never opened, as Control Center names them [S9]; `PUT ACTIVATED` opens them.
UNOPENED: dict[Stage, str] = {"inventory": "INVENTORY", "test_ready": "TEST_READY",
                              "activation_ready": "ACTIVATION_READY"}


def wire_status(card: SimCard) -> str:
    return UNOPENED[card.stage] if card.stage is not None else WIRE_STATUS[card.status]


class Refusal(Exception):
    """An error answer: HTTP status, Jasper error code and the outcome it is counted under."""

    def __init__(self, http: int, code: str, message: str, outcome: str) -> None:
        super().__init__(message)
        self.http, self.code, self.message, self.outcome = http, code, message, outcome


UNAUTHORIZED = Refusal(401, "10000001", "Invalid credentials", "unauthorized")
RATE_LIMITED = Refusal(429, "40000029", "Rate limit exceeded", "rate_limited")
TRANSIENT = Refusal(500, "10000099", "Internal error, try again", "error")
COOLDOWN = Refusal(400, "10000024", "Status changed too recently", "cooldown")

Answer = tuple[str, dict[str, Any], int]  # (outcome, body, HTTP status)
Op = Callable[[Request, str, float], Awaitable[Answer]]


def _bad(message: str) -> Refusal:
    return Refusal(400, "10000003", message, "bad_request")


def _held(reason: str) -> Refusal:
    return Refusal(400, "10000037", f"Device status change blocked by the operator: {reason}",
                   "held")


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
        outcome, body, http = await op(request, _checked(iccid), now)
    except Refusal as refusal:
        ctx.net.count(DIALECT, refusal.outcome)
        return JSONResponse({"errorCode": refusal.code, "errorMessage": refusal.message},
                            status_code=refusal.http)
    ctx.net.count(DIALECT, outcome)
    return JSONResponse(body, status_code=http)


async def _serve(ctx: SimContext, request: Request, iccid: str, op: Op) -> JSONResponse:
    """Authenticate, admit through the account's limiter, then run `op`."""
    limiter = ctx.net.limiter
    admitted = account_of(request) is not None and limiter.acquire(ACCOUNT, ctx.now(),
                                                                   ctx.knobs.rate_per_s)
    try:
        return await _call(ctx, request, iccid, op, admitted)
    finally:
        if admitted:
            limiter.release(ACCOUNT)


class Jasper:
    """The calls' own work, once the account was admitted."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx, self.net = ctx, ctx.net

    async def put_device(self, request: Request, iccid: str, now: float) -> Answer:
        """`PUT devices/{iccid}`: 200 when the status is already or at once the wanted one,
        202 when the change happens `completion_ms` later; `ACTIVATED` also opens a card
        never opened (`activation_ms` later when set)."""
        target = await _wanted_status(request)
        opening = target == "active" and self.net.card(iccid, now).stage is not None
        completion_s = self.ctx.completion_s(opening)
        outcome, order = self.net.request(iccid, target, now, completion_s, opening=True)
        if outcome == "cooldown":
            raise COOLDOWN
        if outcome == "held":
            raise _held(self.net.card(iccid).hold_reason)
        pending = order is not None and order.state == "inProgress"
        return outcome, {"iccid": iccid}, 202 if pending else 200

    async def get_device(self, request: Request, iccid: str, now: float) -> Answer:
        """`GET devices/{iccid}`: the card's status, rate plan and dates."""
        card = self.net.card(iccid, now)
        return "accepted", {"iccid": iccid, "status": wire_status(card),
                            "ratePlan": RATE_PLAN, "dateActivated": iso_utc(card.created),
                            "dateUpdated": iso_utc(card.last_status_time)}, 200

    async def ctd_usages(self, request: Request, iccid: str, now: float) -> Answer:
        """`GET devices/{iccid}/ctdUsages`: bytes since the cycle began on the cycle day."""
        card, today = self.net.card(iccid, now), day_of(now)
        first = cycle_start(today, self.ctx.knobs.jasper_cycle_day)
        return "accepted", {
            "iccid": iccid, "ctdDataUsage": self.net.usage_since(card, first, today),
            "ctdSMSUsage": 0, "ctdVoiceUsage": 0,
            "ctdSessionCount": self.net.usage_days(card, first, today),
            "overageLimitReached": False, "overageLimitOverride": "DEFAULT"}, 200


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
