"""OneLink v5 dialect (`/v5/ec/...`): tokens, transids, orders, batch jobs and queries.

Every answer is HTTP 200 `{"status", "message", "result"}`; `"0"` is success and every other
status comes with an empty `result` (see connectors/DIALECTS.md). A card is addressed by
exactly one of `msisdn` and `iccid`; batches by `msisdns` joined with `_`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams

from core.operators import CardStatus
from domain.usage.validation import iccid_problem
from simulators.beijing import (
    ONE_DAY,
    add_months,
    day_of,
    month_end,
    month_start,
    months_between,
    stamp,
)
from simulators.fleet_state import FREEZE, SimCard, Stage
from simulators.knobs import SimContext
from simulators.numbers import msisdn_problem
from simulators.orders import BatchJob, CardOutcome, CardResult

DIALECT = "onelink"
OK, BAD_LOGIN, BAD_PARAM, BAD_TRANSID, TOO_MANY = "0", "12001", "12002", "12009", "12010"
TOKEN_INVALID, RATE_LIMITED, REPEAT, COOLDOWN = "12021", "12029", "12107", "12108"
HELD, UNKNOWN, BUSY = "12098", "12404", "12500"
MAX_BATCH = 100
MONTHS_KEPT = 6  # the monthly batch answers this month and the 5 before it
APN = "CMIOT"
TRANSID_TAIL = re.compile(r"[0-9]{22}")  # YYYYMMDDHHMMSS + 8-digit sequence
QUERY_MONTH = re.compile(r"([0-9]{4})(0[1-9]|1[0-2])")
SINGLE_TARGETS: dict[str, CardStatus] = {"0": "stopped", "1": "active"}
BATCH_TARGETS: dict[str, CardStatus] = {"9": "stopped", "11": "active"}
CARD_CODES = {"ct": {"active": "2", "stopped": "4"}, "pb": {"active": "00", "stopped": "02"}}
# Cards never opened: CT 7 库存, 6 可测试, 1 待激活; PB 07 待激活 for all of them.
UNOPENED_CODES: dict[str, dict[Stage, str]] = {
    "ct": {"inventory": "7", "test_ready": "6", "activation_ready": "1"},
    "pb": {"inventory": "07", "test_ready": "07", "activation_ready": "07"},
}
# The single-card operTypes that open a card, and the cardStatus each opens from [S4]:
# 2 库存转已激活, 5 可测试转已激活, 6 待激活转已激活.
OPEN_FROM = {"2": ("7",), "5": ("6",), "6": ("1", "07")}

MESSAGES: dict[CardOutcome, tuple[str, str]] = {
    "accepted": (OK, "正确"),
    "repeat": (REPEAT, "repeat operation: card already in that state"),
    "cooldown": (COOLDOWN, "status changed too recently"),
    "held": (HELD, "非主动停机号码不允许主动复机"),
    "unopened": (BAD_PARAM, "卡未开通，不能复机：请用 operType 2/5/6 开通"),
    "error": (BUSY, "system busy"),
}


@dataclass(frozen=True)
class Reply:
    """One answer and the outcome it is counted under."""

    outcome: str
    status: str = OK
    message: str = "正确"
    result: list[dict[str, Any]] = field(default_factory=list)


class Refused(Exception):
    """A call refused before it did anything: its status code and message."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


Op = Callable[[QueryParams, float], Reply]


def _bad(message: str) -> Refused:
    return Refused(BAD_PARAM, message)


def _kb(nbytes: int) -> str:
    """Bytes as KB with two decimals, rounded down, as OneLink writes `dataAmount`."""
    hundredths = nbytes * 100 // 1024
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _checked(iccid: str) -> str:
    problem = iccid_problem(iccid)
    if problem:
        raise _bad(f"iccid {problem}")
    return iccid


def _held_message(reason: str) -> str:
    return f"非主动停机号码不允许主动复机（{reason}）"


def _card_message(result: CardResult) -> str:
    return _held_message(result.detail) if result.outcome == "held" else \
        MESSAGES[result.outcome][1]


def _target(params: QueryParams, targets: dict[str, CardStatus], message: str) -> CardStatus:
    target = targets.get(params.get("operType", ""))
    if target is None:
        raise _bad(message)
    return target


def card_code(card: SimCard) -> str:
    """The card's `cardStatus` on its platform."""
    if card.stage is not None:
        return UNOPENED_CODES[card.platform][card.stage]
    return CARD_CODES[card.platform][card.status]


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


class OneLink:
    """The calls' own work, once `_gate` let them through."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx, self.net = ctx, ctx.net

    # --- addressing ----------------------------------------------------------------------

    def _owner(self, msisdn: str, name: str = "msisdn") -> str:
        problem = msisdn_problem(msisdn)
        if problem:
            raise _bad(f"{name} {problem}")
        iccid = self.net.iccid_of(msisdn)
        if iccid is None:
            raise Refused(UNKNOWN, f"unknown msisdn {msisdn}")
        return iccid

    def _card(self, params: QueryParams, now: float) -> tuple[str, SimCard]:
        """The card named by exactly one of `msisdn` and `iccid`."""
        msisdn, iccid = params.get("msisdn") or None, params.get("iccid") or None
        if (msisdn is None) == (iccid is None):
            raise _bad("give exactly one of msisdn and iccid")
        found = self._owner(msisdn) if msisdn is not None else _checked(iccid or "")
        return found, self.net.card(found, now)

    def _batch_cards(self, params: QueryParams) -> list[tuple[str, str]]:
        """`msisdns` as (msisdn, iccid) pairs: at most 100, every one known."""
        msisdns = params.get("msisdns", "").split("_")
        if len(msisdns) > MAX_BATCH:
            raise Refused(TOO_MANY, f"at most {MAX_BATCH} msisdns per call")
        return [(msisdn, self._owner(msisdn, "msisdns")) for msisdn in msisdns]

    # --- calls ---------------------------------------------------------------------------

    def token(self, params: QueryParams, now: float) -> Reply:
        """`get/token`: a new token for the appid; `ttl` in seconds, as a string."""
        ttl = self.ctx.knobs.token_ttl_s
        issued = self.net.tokens.issue(params["appid"], now, ttl)
        return Reply("accepted", result=[{"token": issued,
                                          "ttl": str(int(ttl) if ttl.is_integer() else ttl)}])

    def change(self, params: QueryParams, now: float) -> Reply:
        """`change/sim-status`: order a stop (operType 0) or resume (1) of one card, or open a
        card never opened from its status (2 from 库存, 5 from 可测试, 6 from 待激活)."""
        iccid, card = self._card(params, now)
        oper = params.get("operType", "")
        opening = oper in OPEN_FROM
        if opening:
            target: CardStatus = "active"
            code = card_code(card)
            if card.target != "active" and code not in OPEN_FROM[oper]:
                raise _bad(f"operType {oper} opens a card in cardStatus "
                           f"{'/'.join(OPEN_FROM[oper])} only, not {code}")
        else:
            target = _target(params, SINGLE_TARGETS,
                             "operType must be 0 (stop), 1 (resume) or 2/5/6 (open)")
        completion_s = self.ctx.completion_s(opening)
        outcome, order = self.net.request(iccid, target, now, completion_s, opening)
        if order is not None:
            return Reply(outcome, result=[{"orderNum": order.number,
                                           "msisdn": card.msisdn or ""}])
        status, message = MESSAGES[outcome]
        return Reply(outcome, status, _held_message(card.hold_reason) if outcome == "held"
                     else message)

    def order_info(self, params: QueryParams, now: float) -> Reply:
        """`query/order-info`: inProgress until the order is due, then completed (or failed)."""
        order = self.net.orders.get(params.get("orderNum", ""))
        if order is None:
            return Reply("unknown", UNKNOWN, "unknown orderNum")
        msisdn = self.net.card(order.iccid).msisdn or ""
        return Reply("accepted", result=[{"orderNum": order.number, "orderStatus": order.state,
                                          "msisdn": msisdn}])

    def batch(self, params: QueryParams, now: float) -> Reply:
        """`change/sim-status/batch`: a job for up to 100 numbers, refused whole if any of
        them is inside its cooldown."""
        target = _target(params, BATCH_TARGETS,
                         "operType must be 9 (stop) or 11 (resume) for batches")
        if params.get("reason") != "01":
            raise _bad("reason must be 01 (主动停复机) with operType 9 or 11")
        iccids = [iccid for _, iccid in self._batch_cards(params)]
        if any(self.net.in_cooldown(self.net.cards.get(iccid), now) for iccid in iccids):
            return Reply("cooldown", COOLDOWN,
                         "a number of the batch changed too recently: the whole batch fails")
        delay_s = self.ctx.knobs.batch_delay_ms / 1000
        return Reply("accepted",
                     result=[{"jobId": self.net.submit_batch(iccids, target, now, delay_s)}])

    def _job_view(self, job: BatchJob, now: float) -> dict[str, Any]:
        if job.results is None:  # pending for the first half of the delay, then processing
            halfway = job.submitted + (job.due - job.submitted) / 2
            return {"jobId": job.job_id, "jobStatus": "0" if now < halfway else "1"}
        codes = [MESSAGES[r.outcome][0] for r in job.results]
        results = [{"resultType": "1", "resultId": self.net.card(r.iccid).msisdn or "",
                    "status": code, "message": _card_message(r)}
                   for r, code in zip(job.results, codes, strict=True)]
        return {"jobId": job.job_id, "jobStatus": "2" if set(codes) <= {OK} else "3",
                "resultList": results}

    def batch_result(self, params: QueryParams, now: float) -> Reply:
        """`query/sim-batch-result`: the job's status and, once done, a result per number."""
        job = self.net.jobs.get(params.get("jobId", ""))
        if job is None:
            return Reply("unknown", UNKNOWN, "unknown jobId")
        return Reply("accepted", result=[self._job_view(job, now)])

    def status(self, params: QueryParams, now: float) -> Reply:
        """`query/sim-status`: CT 2 active / 4 stopped, PB 00 / 02 (cards never opened: CT
        7/6/1, PB 07), and the last change."""
        _, card = self._card(params, now)
        return Reply("accepted", result=[{"cardStatus": card_code(card),
                                          "lastChangeDate": stamp(card.last_status_time)}])

    def stop_reason(self, params: QueryParams, now: float) -> Reply:
        """`query/sim-stop-reason`: the platform and why the card is stopped ("" if not)."""
        _, card = self._card(params, now)
        return Reply("accepted", result=[{"platformType": card.platform.upper(),
                                          "stopReason": card.stop_reason or ""}])

    def manage_status(self, params: QueryParams, now: float) -> Reply:
        """`query/sim-manage-stop-restart-status`: 1 when a management stop froze the card."""
        _, card = self._card(params, now)
        return Reply("accepted", result=[{"manageStopRestartStatus": "1" if card.frozen else "0",
                                          "reason": FREEZE if card.frozen else ""}])

    def usage(self, params: QueryParams, now: float) -> Reply:
        """`query/sim-data-usage`: KB this Beijing month; PB numbers up to yesterday."""
        _, card = self._card(params, now)
        today = day_of(now)
        amount = _kb(self.net.usage_since(card, month_start(today), today))
        return Reply("accepted", result=[{"dataAmount": amount, "apnUseAmountList": [
            {"apnName": APN, "apnUseAmount": amount}]}])

    def monthly(self, params: QueryParams, now: float) -> Reply:
        """`query/sim-data-usage-monthly/batch`: KB per number for one of the last 6 months,
        the current one up to yesterday."""
        first = _query_month(params.get("queryDate", ""), day_of(now))
        last = min(month_end(first), day_of(now) - ONE_DAY)
        result = [{"msisdn": msisdn, "dataAmount": _kb(self.net.usage_between(
            self.net.card(iccid, now), first, last))}
            for msisdn, iccid in self._batch_cards(params)]
        return Reply("accepted", result=result)


def _query_month(text: str, today: date) -> date:
    match = QUERY_MONTH.fullmatch(text)
    first = date(int(match[1]), int(match[2]), 1) if match else None
    if first is None or not 0 <= months_between(first, today) < MONTHS_KEPT:
        oldest = add_months(month_start(today), 1 - MONTHS_KEPT)
        raise _bad(f"queryDate must be YYYYMM from {oldest:%Y%m} to {today:%Y%m}")
    return first


async def _serve(ctx: SimContext, request: Request, op: Op, login: bool) -> dict[str, Any]:
    await ctx.pause()
    now, params = ctx.now(), request.query_params
    try:
        reply = _gate(ctx, params, now, login) or op(params, now)
    except Refused as refused:
        outcome = "unknown" if refused.status == UNKNOWN else "bad_request"
        reply = Reply(outcome, refused.status, refused.message)
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
        "/query/order-info": (ops.order_info, False),
        "/change/sim-status/batch": (ops.batch, False),
        "/query/sim-batch-result": (ops.batch_result, False),
        "/query/sim-status": (ops.status, False),
        "/query/sim-stop-reason": (ops.stop_reason, False),
        "/query/sim-manage-stop-restart-status": (ops.manage_status, False),
        "/query/sim-data-usage": (ops.usage, False),
        "/query/sim-data-usage-monthly/batch": (ops.monthly, False),
    }
    api = APIRouter(prefix="/v5/ec")
    for path, (op, login) in routes.items():
        api.add_api_route(path, _endpoint(ctx, op, login), methods=["GET"],
                          name=f"onelink_{op.__name__}")
    return api
