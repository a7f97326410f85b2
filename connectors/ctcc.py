"""China Telecom CMP: `query.do?method=...` calls, one card per call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from connectors.base import OperatorError
from core.operators import CardStatus
from domain.control.results import CommandResult, Result

_CODES = {"0": Result.CHANGED, "-5": Result.COOLDOWN, "-9": Result.RATE_LIMITED,
          "-1": Result.TRANSIENT}
STOP, RESUME = "19", "20"


class CtccClient:
    """One CMP account."""

    dialect = "ctcc"
    max_batch = 1
    rate_per_s = 10.0
    in_flight = 2

    def __init__(self, http: httpx.AsyncClient, base_url: str, user_id: str, password: str
                 ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/m2m_ec/query.do"
        self._auth = {"user_id": user_id, "passWord": password, "sign": "cardpulse"}

    async def _call(self, method: str, **params: str) -> dict[str, Any]:
        try:
            answer = await self._http.get(self._url, params={"method": method, **self._auth,
                                                             **params})
            body: dict[str, Any] = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OperatorError(Result.TRANSIENT, f"{type(exc).__name__}: {exc}") from None
        code = str(body.get("resultCode"))
        if code != "0":
            raise OperatorError(_CODES.get(code, Result.REJECTED),
                                f"resultCode {code}: {body.get('resultMsg', '')}")
        return body

    async def set_status(self, iccids: Sequence[str], target: CardStatus) -> list[CommandResult]:
        order = STOP if target == "stopped" else RESUME
        results = []
        for iccid in iccids:
            try:
                body = await self._call("disabledNumber", access_number=iccid,
                                        orderTypeId=order)
                message = str(body.get("resultMsg", ""))
                done = Result.ALREADY if "already" in message.lower() else Result.CHANGED
                results.append(CommandResult(iccid, done, message))
            except OperatorError as exc:
                results.append(CommandResult(iccid, exc.result, exc.detail))
        return results

    async def status(self, iccid: str) -> CardStatus:
        body = await self._call("queryCardMainStatus", access_number=iccid)
        return "stopped" if str(body.get("productMainStatusCd")) == "2" else "active"

    async def usage_bytes(self, iccid: str) -> int:
        body = await self._call("queryTraffic", access_number=iccid)
        return int(float(body["usedKB"]) * 1024)
