"""Cisco IoT Control Center (Jasper) / China Unicom: REST with Basic auth, one card per call;
a change may be answered 202 and happen later (connectors/DIALECTS.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import httpx

from connectors.base import OperatorError, StatusTable, confirm_by_status, reading_from
from core.operators import CardStatus
from domain.control.results import CardRef, CommandResult, Reading, Result

RATE_LIMITED = "40000029"  # [S10, S11]
INVALID_CREDENTIALS = "10000001"  # HTTP 401 [S10]
COOLDOWN = "10000024"  # sim-only
BLOCKED = "10000037"  # sim-only: the operator blocks the change
_WIRE = {"active": "ACTIVATED", "stopped": "DEACTIVATED"}
# Control Center's SIM status values [S9], each explicitly.
STATUSES: StatusTable = {
    "ACTIVATED": ("active", "ACTIVATED", False),
    "DEACTIVATED": ("stopped", "DEACTIVATED", False),
    "ACTIVATION_READY": ("stopped", "ACTIVATION_READY", False),
    "TEST_READY": ("stopped", "TEST_READY", False),
    "INVENTORY": ("stopped", "INVENTORY", False),
    "RETIRED": ("stopped", "RETIRED", True),
    "PURGED": ("stopped", "PURGED", True),
    "REPLACED": ("stopped", "REPLACED", True),
}


def reading_of(status: str) -> Reading:
    return reading_from(STATUSES, status)


def refusal(status_code: int, payload: dict[str, Any]) -> OperatorError:
    """The result of an error answer, by Control Center error code first."""
    code = str(payload.get("errorCode", ""))
    detail = f"HTTP {status_code} {code} {payload.get('errorMessage', '')}".strip()
    if code == RATE_LIMITED or status_code == 429:
        return OperatorError(Result.RATE_LIMITED, detail)
    if code == INVALID_CREDENTIALS or status_code == 401:
        # A configuration fault, not the card's: retried with backoff (fixing the key must
        # not need a re-arm of every card), counted as an attempt.
        return OperatorError(Result.TRANSIENT, f"invalid credentials: {detail}")
    if code == COOLDOWN:
        return OperatorError(Result.COOLDOWN, detail)
    if code == BLOCKED:
        return OperatorError(Result.HELD, detail)
    if status_code >= 500:
        return OperatorError(Result.TRANSIENT, detail)
    return OperatorError(Result.REJECTED, detail)


class JasperClient:
    """One account: about 5 calls per second and one call in flight, shared by every user of
    the account (the reconciler keeps it)."""

    dialect = "jasper"
    max_batch = 1
    rate_per_s = 5.0
    in_flight = 1
    closes_cycles = False

    def __init__(self, http: httpx.AsyncClient, base_url: str, username: str, api_key: str
                 ) -> None:
        self._http = http
        self._base = base_url.rstrip("/") + "/rws/api/v1/devices"
        self._auth = httpx.BasicAuth(username, api_key)

    async def _request(self, method: str, path: str, body: dict[str, str] | None = None
                       ) -> tuple[int, dict[str, Any]]:
        try:
            answer = await self._http.request(method, f"{self._base}/{path}", json=body,
                                              auth=self._auth)
        except httpx.HTTPError as exc:
            raise OperatorError(Result.TRANSIENT, f"{type(exc).__name__}: {exc}") from None
        try:
            payload = answer.json() if answer.content else {}
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if not answer.is_success:
            raise refusal(answer.status_code, payload)
        return answer.status_code, payload

    async def set_status(self, cards: Sequence[CardRef], target: CardStatus
                         ) -> list[CommandResult]:
        """200: changed; 202 Accepted: the status flips later [S12], so confirm it."""
        results = []
        for card in cards:
            try:
                code, _ = await self._request("PUT", card.iccid, {"status": _WIRE[target]})
            except OperatorError as exc:
                results.append(CommandResult(card.iccid, exc.result, exc.detail))
                continue
            accepted = code == 202
            results.append(CommandResult(card.iccid,
                                         Result.SUBMITTED if accepted else Result.CHANGED,
                                         "HTTP 202 accepted" if accepted else ""))
        return results

    async def activate(self, cards: Sequence[CardRef]) -> list[CommandResult]:
        """The same PUT `ACTIVATED` opens a card from `INVENTORY`, `TEST_READY` or
        `ACTIVATION_READY` [S9]."""
        return await self.set_status(cards, "active")

    async def confirm(self, card: CardRef, target: CardStatus, ticket: str | None
                      ) -> CommandResult:
        return await confirm_by_status(self, card, target)

    async def status(self, card: CardRef) -> Reading:
        _, body = await self._request("GET", card.iccid)
        return reading_of(str(body.get("status")))

    async def usage_bytes(self, card: CardRef) -> int:
        """Bytes since the start of the billing cycle (Unicom's begins on the 27th) [S9]."""
        _, body = await self._request("GET", f"{card.iccid}/ctdUsages")
        used = body.get("ctdDataUsage")
        if not isinstance(used, int) or isinstance(used, bool) or used < 0:
            raise OperatorError(Result.TRANSIENT, f"ctdDataUsage {used!r} is not bytes")
        return used

    async def cycle_bytes(self, cards: Sequence[CardRef], first_day: date, last_day: date
                          ) -> dict[str, int] | None:
        """Control Center's REST tree has no closed-cycle total here: counters are real
        time, so the last poll before the boundary closes the cycle."""
        return None
