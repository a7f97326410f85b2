"""The operator simulator's HTTP face: the three dialects' status calls plus `/_sim/*`.

Minimal for now (one stop/resume call per dialect, OneLink-like cooldown); the controls issue
adds tokens, batch jobs, rate limits and injected faults.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from simulators.fleet_state import SimNetwork, Status
from streams.validation import iccid_problem


class SimCardView(BaseModel):
    iccid: str
    status: Literal["active", "stopped"]
    status_changes: int


def _checked(iccid: str) -> str:
    problem = iccid_problem(iccid)
    if problem:
        raise HTTPException(422, f"iccid {problem}")
    return iccid


def create_app(cooldown_s: float) -> FastAPI:
    net = SimNetwork(cooldown_s=cooldown_s)
    app = FastAPI(title="CardPulse operator simulator")

    def apply(dialect: str, iccid: str, target: Status) -> str:
        outcome = net.change(_checked(iccid), target, time.monotonic())
        net.count(dialect, "accepted" if outcome != "cooldown" else "cooldown")
        return outcome

    @app.get("/_sim/cards/{iccid}", response_model=SimCardView)
    async def sim_card(iccid: str) -> SimCardView:
        card = net.card(_checked(iccid))
        return SimCardView(iccid=iccid, status=card.status, status_changes=card.status_changes)

    @app.get("/_sim/stats")
    async def sim_stats() -> dict[str, Any]:
        return {"requests": net.stats_view(), "cards": len(net.cards)}

    @app.post("/v5/ec/change/sim-status")
    async def onelink_change(iccid: str, operType: int) -> dict[str, Any]:  # noqa: N803
        if operType not in (0, 1):
            return {"status": "12001", "message": "operType must be 0 (stop) or 1 (resume)"}
        outcome = apply("onelink", iccid, "stopped" if operType == 0 else "active")
        if outcome == "cooldown":
            return {"status": "12108", "message": "status changed too recently", "result": []}
        return {"status": "0", "message": "正确", "result": [{"iccid": iccid}]}

    @app.put("/rws/api/v1/devices/{iccid}")
    async def jasper_change(iccid: str, body: dict[str, Any]) -> dict[str, Any]:
        wanted = {"ACTIVATED": "active", "DEACTIVATED": "stopped"}.get(str(body.get("status")))
        if wanted is None:
            raise HTTPException(400, {"errorCode": "10000001", "errorMessage": "invalid status"})
        outcome = apply("jasper", iccid, "active" if wanted == "active" else "stopped")
        if outcome == "cooldown":
            raise HTTPException(400, {"errorCode": "10000024", "errorMessage": "too soon"})
        return {"iccid": iccid, "status": body["status"]}

    @app.get("/m2m_ec/query.do")
    async def ctcc_query(method: str, access_number: str, orderTypeId: int = 19) -> dict[str, Any]:  # noqa: N803
        if method != "disabledNumber":
            return {"resultCode": "-1", "resultMsg": f"unsupported method {method}"}
        target: Status = "stopped" if orderTypeId == 19 else "active"
        outcome = apply("ctcc", access_number, target)
        if outcome == "cooldown":
            return {"resultCode": "-5", "resultMsg": "too frequent"}
        return {"resultCode": "0", "resultMsg": "处理成功"}

    return app
