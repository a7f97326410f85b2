"""China Telecom CMP dialect (`GET /m2m_ec/query.do?method=...`).

Every answer is HTTP 200 `{"resultCode", "resultMsg", ...}`; `"0"` is success (see
connectors/DIALECTS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams

from core.operators import CardStatus
from domain.usage.validation import iccid_problem
from simulators.knobs import SimContext

DIALECT = "ctcc"
OK, TRANSIENT, UNAUTHORIZED, BAD_PARAM, COOLDOWN, RATE_LIMITED = "0", "-1", "-2", "-3", "-5", "-9"
ORDER_TYPES: dict[str, CardStatus] = {"19": "stopped", "20": "active"}
CREDENTIALS = ("user_id", "passWord", "sign")

Answer = tuple[str, dict[str, Any]]  # (outcome, answer)
Method = Callable[[QueryParams, str, float], Answer]


def _answer(outcome: str, code: str, message: str, **extra: Any) -> Answer:
    return outcome, {"resultCode": code, "resultMsg": message, **extra}


class Ctcc:
    """The methods' own work, once credentials, faults and the ICCID were checked."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx, self.net = ctx, ctx.net
        self.methods: dict[str, Method] = {
            "disabledNumber": self.disabled_number,
            "queryCardMainStatus": self.main_status,
            "queryTraffic": self.traffic,
        }

    def disabled_number(self, params: QueryParams, iccid: str, now: float) -> Answer:
        """Stop (orderTypeId 19) or resume (20); an unchanged card says so in `resultMsg`."""
        target = ORDER_TYPES.get(params.get("orderTypeId", ""))
        if target is None:
            return _answer("bad_request", BAD_PARAM, "orderTypeId must be 19 (stop) or 20 (resume)")
        outcome = self.net.change(iccid, target, now)
        if outcome == "cooldown":
            return _answer(outcome, COOLDOWN, "status changed too recently")
        if outcome == "repeat":
            return _answer(outcome, OK, f"number already {target}")
        return _answer(outcome, OK, "success")

    def main_status(self, params: QueryParams, iccid: str, now: float) -> Answer:
        """`productMainStatusCd` 1 active, 2 stopped."""
        code = "1" if self.net.card(iccid).status == "active" else "2"
        return _answer("accepted", OK, "success", productMainStatusCd=code)

    def traffic(self, params: QueryParams, iccid: str, now: float) -> Answer:
        """`usedKB`: this month's whole KB, cumulative."""
        return _answer("accepted", OK, "success", usedKB=self.net.usage_bytes(iccid, now) // 1024)

    def handle(self, params: QueryParams, now: float) -> Answer:
        """Check credentials, then inject faults, then parameters, then run the method."""
        if not all(params.get(name) for name in CREDENTIALS):
            return _answer("unauthorized", UNAUTHORIZED, "user_id, passWord and sign required")
        fault = self.ctx.fault()
        if fault == "rate_limited":
            return _answer("rate_limited", RATE_LIMITED, "too many requests")
        if fault == "error":
            return _answer("error", TRANSIENT, "system error, try again")
        method = self.methods.get(params.get("method", ""))
        if method is None:
            return _answer("bad_request", BAD_PARAM, f"unknown method {params.get('method')!r}")
        iccid = params.get("access_number", "")
        problem = iccid_problem(iccid)
        if problem:
            return _answer("bad_request", BAD_PARAM, f"access_number {problem}")
        return method(params, iccid, now)


def router(ctx: SimContext) -> APIRouter:
    """The China Telecom route, bound to the simulator context."""
    ops = Ctcc(ctx)
    api = APIRouter()

    @api.get("/m2m_ec/query.do", name="ctcc_query")
    async def query(request: Request) -> dict[str, Any]:
        await ctx.pause()
        outcome, answer = ops.handle(request.query_params, ctx.now())
        ctx.net.count(DIALECT, outcome)
        return answer

    return api
