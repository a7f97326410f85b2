"""China Mobile OneLink v5: token + transid on every call, batch changes as polled jobs."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from typing import Any

import httpx

from connectors.base import OperatorError, all_failed
from core.operators import CardStatus
from domain.control.results import CommandResult, Result

_CODES = {
    "0": Result.CHANGED, "12107": Result.ALREADY, "12108": Result.COOLDOWN,
    "12029": Result.RATE_LIMITED, "12500": Result.TRANSIENT,
}
TOKEN_INVALID = "12021"  # noqa: S105 - a status code, not a secret


def result_of(code: str) -> Result:
    """Map a OneLink status code to a result; unknown codes are not retried."""
    return _CODES.get(code, Result.REJECTED)


class OneLinkClient:
    """One OneLink account. The token is refreshed before it expires and on `12021`."""

    dialect = "onelink"
    max_batch = 100
    rate_per_s = 10.0
    in_flight = 4

    def __init__(self, http: httpx.AsyncClient, base_url: str, appid: str, password: str,
                 *, job_poll_s: float = 0.05, job_timeout_s: float = 30.0) -> None:
        self._http = http
        self._base = base_url.rstrip("/") + "/v5/ec"
        self._appid = appid
        self._password = password
        self._seq = itertools.count(1)
        self._token: str | None = None
        self._token_until = 0.0
        self._lock = asyncio.Lock()
        self._job_poll_s = job_poll_s
        self._job_timeout_s = job_timeout_s

    def transid(self) -> str:
        return f"{self._appid}{time.strftime('%Y%m%d%H%M%S')}{next(self._seq) % 10**8:08d}"

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            answer = await self._http.get(f"{self._base}/{path}", params=params)
        except httpx.HTTPError as exc:
            raise OperatorError(Result.TRANSIENT, f"{type(exc).__name__}: {exc}") from None
        if answer.status_code >= 500:
            raise OperatorError(Result.TRANSIENT, f"HTTP {answer.status_code}")
        try:
            body: dict[str, Any] = answer.json()
        except ValueError:
            raise OperatorError(Result.TRANSIENT, "answer is not JSON") from None
        return body

    async def _token_value(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._token_until:
                body = await self._get("get/token", {"appid": self._appid,
                                                     "password": self._password,
                                                     "transid": self.transid()})
                if body.get("status") != "0":
                    raise OperatorError(result_of(str(body.get("status"))),
                                        f"token: {body.get('message')}")
                entry = body["result"][0]
                self._token = str(entry["token"])
                self._token_until = time.monotonic() + float(entry.get("ttl", 3600)) * 0.8
            return self._token

    async def call(self, path: str, **params: str) -> dict[str, Any]:
        """A signed-in call; on an invalid token, sign in again once and retry."""
        for _ in range(2):
            token = await self._token_value()
            body = await self._get(path, {**params, "transid": self.transid(), "token": token})
            if body.get("status") != TOKEN_INVALID:
                return body
            self._token = None
        raise OperatorError(Result.TRANSIENT, "token refused twice")

    async def set_status(self, iccids: Sequence[str], target: CardStatus) -> list[CommandResult]:
        oper = "0" if target == "stopped" else "1"
        try:
            if len(iccids) == 1:
                body = await self.call("change/sim-status", iccid=iccids[0], operType=oper)
                code = str(body.get("status"))
                return [CommandResult(iccids[0], result_of(code), str(body.get("message", "")))]
            return await self._batch(iccids, oper)
        except OperatorError as exc:
            return all_failed(iccids, exc)

    async def _batch(self, iccids: Sequence[str], oper: str) -> list[CommandResult]:
        body = await self.call("change/sim-status/batch", iccids="_".join(iccids), operType=oper)
        if body.get("status") != "0":
            raise OperatorError(result_of(str(body.get("status"))), str(body.get("message")))
        job = str(body["result"][0]["jobId"])
        deadline = time.monotonic() + self._job_timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(self._job_poll_s)
            answer = await self.call("query/sim-batch-result", jobId=job)
            code = str(answer.get("status"))
            if code != "0":
                raise OperatorError(result_of(code), str(answer.get("message")))
            entry = answer["result"][0]
            if str(entry.get("state")) == "1":
                found = {str(r["iccid"]): r for r in entry.get("results", [])}
                return [CommandResult(i, result_of(str(found[i]["status"])),
                                      str(found[i].get("message", "")))
                        if i in found else CommandResult(i, Result.TRANSIENT, "missing in job")
                        for i in iccids]
        raise OperatorError(Result.TRANSIENT, f"batch job {job} still processing")

    async def status(self, iccid: str) -> CardStatus:
        body = await self.call("query/sim-status", iccid=iccid)
        if body.get("status") != "0":
            raise OperatorError(result_of(str(body.get("status"))), str(body.get("message")))
        return "stopped" if str(body["result"][0]["cardStatus"]) == "4" else "active"

    async def usage_bytes(self, iccid: str) -> int:
        body = await self.call("query/sim-data-usage", iccid=iccid)
        if body.get("status") != "0":
            raise OperatorError(result_of(str(body.get("status"))), str(body.get("message")))
        return int(float(body["result"][0]["dataAmount"]) * 1024)
