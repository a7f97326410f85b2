"""OneLink v5 dialect (`/v5/ec/...`): tokens, transids, single and batch changes, queries.

Every answer is HTTP 200 `{"status", "message", "result"}`; `"0"` is success (see
connectors/DIALECTS.md).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams

from core.operators import CardStatus
from domain.usage.validation import iccid_problem
from simulators.fleet_state import BatchJob, CardOutcome
from simulators.knobs import SimContext

DIALECT = "onelink"
OK, BAD_LOGIN, BAD_PARAM, BAD_TRANSID, TOO_MANY = "0", "12001", "12002", "12009", "12010"
TOKEN_INVALID, RATE_LIMITED, REPEAT, COOLDOWN = "12021", "12029", "12107", "12108"
UNKNOWN_JOB, BUSY = "12404", "12500"
MAX_BATCH = 100
TRANSID_TAIL = re.compile(r"[0-9]{22}")  # YYYYMMDDHHMMSS + 8-digit sequence

CARD_CODES: dict[CardOutcome, tuple[str, str]] = {
    "accepted": (OK, "success"),
    "repeat": (REPEAT, "repeat operation: card already in that state"),
    "cooldown": (COOLDOWN, "status changed too recently"),
    "error": (BUSY, "system busy"),
}


@dataclass(frozen=True)
class Reply:
    """One answer and the outcome it is counted under."""

    outcome: str
    status: str = OK
    message: str = "success"
    result: list[dict[str, Any]] = field(default_factory=list)


class BadParam(Exception):
    """A missing or malformed parameter; the message says which."""


Op = Callable[[QueryParams, float], Reply]


def _checked(iccid: str, name: str = "iccid") -> str:
    problem = iccid_problem(iccid)
    if problem:
        raise BadParam(f"{name} {problem}")
    return iccid


def _iccid(params: QueryParams) -> str:
    return _checked(params.get("iccid", ""))


def _target(params: QueryParams) -> CardStatus:
    oper = params.get("operType")
    if oper not in ("0", "1"):
        raise BadParam("operType must be 0 (stop) or 1 (resume)")
    return "stopped" if oper == "0" else "active"


def _transid_ok(transid: str | None, appid: str) -> bool:
    return transid is not None and transid.startswith(appid) and bool(
        TRANSID_TAIL.fullmatch(transid[len(appid):]))


def _gate(ctx: SimContext, params: QueryParams, now: float, login: bool) -> Reply | None:
    """Credentials, transid and injected faults, checked before any call does its work."""
    if login:
        appid = params.get("appid", "")
        if not appid or not params.get("password"):
            return Reply("unauthorized", BAD_LOGIN, "bad appid or password")
    else:
        appid = ctx.net.tokens.appid_of(params.get("token"), now) or ""
        if not appid:
            return Reply("unauthorized", TOKEN_INVALID, "token invalid or expired")
    if not _transid_ok(params.get("transid"), appid):
        return Reply("bad_request", BAD_TRANSID,
                     "transid must be appid + YYYYMMDDHHMMSS + 8-digit sequence")
    fault = ctx.fault()
    if fault == "rate_limited":
        return Reply("rate_limited", RATE_LIMITED, "too many requests")
    if fault == "error":
        return Reply("error", BUSY, "system busy")
    return None


def _card_reply(iccid: str, outcome: CardOutcome) -> Reply:
    status, message = CARD_CODES[outcome]
    done = outcome in ("accepted", "repeat")  # a repeat is success for the client
    return Reply(outcome, status, message, [{"iccid": iccid}] if done else [])


def _job_view(job: BatchJob) -> dict[str, Any]:
    results = [{"iccid": r.iccid, "status": CARD_CODES[r.outcome][0],
                "message": CARD_CODES[r.outcome][1]} for r in job.results or []]
    return {"jobId": job.job_id, "state": "0" if job.results is None else "1",
            "results": results}


class OneLink:
    """The calls' own work, once `_gate` let them through."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx, self.net = ctx, ctx.net

    def token(self, params: QueryParams, now: float) -> Reply:
        """`get/token`: a new token for the appid."""
        ttl = self.ctx.knobs.token_ttl_s
        issued = self.net.tokens.issue(params["appid"], now, ttl)
        return Reply("accepted", result=[{"token": issued,
                                          "ttl": int(ttl) if ttl.is_integer() else ttl}])

    def change(self, params: QueryParams, now: float) -> Reply:
        """`change/sim-status`: stop or resume one card."""
        iccid, target = _iccid(params), _target(params)
        return _card_reply(iccid, self.net.change(iccid, target, now))

    def batch(self, params: QueryParams, now: float) -> Reply:
        """`change/sim-status/batch`: queue a job for up to 100 cards."""
        iccids = params.get("iccids", "").split("_")
        if len(iccids) > MAX_BATCH:
            return Reply("bad_request", TOO_MANY, f"at most {MAX_BATCH} iccids per batch")
        checked = [_checked(iccid, "iccids") for iccid in iccids]
        delay_s = self.ctx.knobs.batch_delay_ms / 1000
        job_id = self.net.submit_batch(checked, _target(params), now, delay_s)
        return Reply("accepted", result=[{"jobId": job_id}])

    def batch_result(self, params: QueryParams, now: float) -> Reply:
        """`query/sim-batch-result`: the job's state and, once done, its per-card results."""
        job = self.net.jobs.get(params.get("jobId", ""))
        if job is None:
            return Reply("bad_request", UNKNOWN_JOB, "unknown jobId")
        return Reply("accepted", result=[_job_view(job)])

    def status(self, params: QueryParams, now: float) -> Reply:
        """`query/sim-status`: 2 active, 4 stopped."""
        card = self.net.card(_iccid(params))
        return Reply("accepted", result=[{"cardStatus": "2" if card.status == "active" else "4"}])

    def usage(self, params: QueryParams, now: float) -> Reply:
        """`query/sim-data-usage`: month-to-date KB (whole KB) as a string."""
        kb = self.net.usage_bytes(_iccid(params), now) // 1024
        return Reply("accepted", result=[{"dataAmount": str(kb)}])


async def _serve(ctx: SimContext, request: Request, op: Op, login: bool) -> dict[str, Any]:
    await ctx.pause()
    now, params = ctx.now(), request.query_params
    try:
        reply = _gate(ctx, params, now, login) or op(params, now)
    except BadParam as exc:
        reply = Reply("bad_request", BAD_PARAM, str(exc))
    ctx.net.count(DIALECT, reply.outcome)
    return {"status": reply.status, "message": reply.message, "result": reply.result}


def _endpoint(ctx: SimContext, op: Op, login: bool) -> Callable[[Request], Awaitable[Any]]:
    async def endpoint(request: Request) -> dict[str, Any]:
        return await _serve(ctx, request, op, login)

    return endpoint


def router(ctx: SimContext) -> APIRouter:
    """The OneLink routes (all GET with query parameters), bound to the simulator context."""
    ops = OneLink(ctx)
    routes: dict[str, tuple[Op, bool]] = {
        "/get/token": (ops.token, True),
        "/change/sim-status": (ops.change, False),
        "/change/sim-status/batch": (ops.batch, False),
        "/query/sim-batch-result": (ops.batch_result, False),
        "/query/sim-status": (ops.status, False),
        "/query/sim-data-usage": (ops.usage, False),
    }
    api = APIRouter(prefix="/v5/ec")
    for path, (op, login) in routes.items():
        api.add_api_route(path, _endpoint(ctx, op, login), methods=["GET"],
                          name=f"onelink_{op.__name__}")
    return api
