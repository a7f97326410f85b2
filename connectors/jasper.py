"""Cisco IoT Control Center (Jasper) / China Unicom: REST with Basic auth, one card per call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from connectors.base import OperatorError
from core.operators import CardStatus
from domain.control.results import CommandResult, Result

RATE_LIMITED = "40000029"
COOLDOWN = "10000024"
_WIRE = {"active": "ACTIVATED", "stopped": "DEACTIVATED"}


class JasperClient:
    """One account: about 5 calls per second and one call in flight (the reconciler keeps it)."""

    dialect = "jasper"
    max_batch = 1
    rate_per_s = 5.0
    in_flight = 1

    def __init__(self, http: httpx.AsyncClient, base_url: str, username: str, api_key: str
                 ) -> None:
        self._http = http
        self._base = base_url.rstrip("/") + "/rws/api/v1/devices"
        self._auth = httpx.BasicAuth(username, api_key)

    async def _request(self, method: str, path: str, body: dict[str, str] | None = None
                       ) -> dict[str, Any]:
        try:
            answer = await self._http.request(method, f"{self._base}/{path}", json=body,
                                              auth=self._auth)
        except httpx.HTTPError as exc:
            raise OperatorError(Result.TRANSIENT, f"{type(exc).__name__}: {exc}") from None
        try:
            payload: dict[str, Any] = answer.json()
        except ValueError:
            payload = {}
        if answer.is_success:
            return payload
        code = str(payload.get("errorCode", ""))
        detail = f"HTTP {answer.status_code} {code} {payload.get('errorMessage', '')}".strip()
        if code == RATE_LIMITED or answer.status_code == 429:
            raise OperatorError(Result.RATE_LIMITED, detail)
        if code == COOLDOWN:
            raise OperatorError(Result.COOLDOWN, detail)
        if answer.status_code >= 500:
            raise OperatorError(Result.TRANSIENT, detail)
        raise OperatorError(Result.REJECTED, detail)

    async def set_status(self, iccids: Sequence[str], target: CardStatus) -> list[CommandResult]:
        results = []
        for iccid in iccids:
            try:
                await self._request("PUT", iccid, {"status": _WIRE[target]})
                results.append(CommandResult(iccid, Result.CHANGED))
            except OperatorError as exc:
                results.append(CommandResult(iccid, exc.result, exc.detail))
        return results

    async def status(self, iccid: str) -> CardStatus:
        body = await self._request("GET", iccid)
        return "stopped" if body.get("status") == "DEACTIVATED" else "active"

    async def usage_bytes(self, iccid: str) -> int:
        body = await self._request("GET", f"{iccid}/ctdUsages")
        return int(body["ctdDataUsage"])
