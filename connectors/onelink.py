"""China Mobile OneLink v5: token + transid on every call; single changes are orders, batch
changes are jobs keyed by MSISDN (connectors/DIALECTS.md)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from connectors.base import (
    OperatorError,
    StatusTable,
    all_failed,
    confirm_by_status,
    kilobytes,
    reading_from,
)
from core.clock import now
from core.operators import OPERATOR_TIMEZONE, CardStatus
from domain.control.results import CardRef, CommandResult, Reading, Result

OK, TOKEN_INVALID = "0", "12021"  # noqa: S105 - status codes, not secrets
_CODES = {  # sim-only but for OK (see DIALECTS.md); anything unknown is a final refusal
    OK: Result.CHANGED, "12107": Result.ALREADY, "12108": Result.COOLDOWN,
    "12029": Result.RATE_LIMITED, "12500": Result.TRANSIENT, "12098": Result.HELD,
}
# Batch operType: 9 active→stopped, 11 stopped→active, with reason 01 (self-initiated) [S2, S4].
BATCH_OPER: dict[CardStatus, str] = {"stopped": "9", "active": "11"}
SINGLE_OPER: dict[CardStatus, str] = {"stopped": "0", "active": "1"}
SELF_INITIATED = "01"
# Single-card operType that opens a card, by its cardStatus: 2 库存转已激活 (inventory→active),
# 5 可测试转已激活 (testable→active), 6 待激活转已激活 (pending activation→active) [S4; S17;
# Go client id 3694961352; Java id 21993374992]. PB 07 待激活 is sent 6 like CT 1 (unverified);
# a stopped card is resumed (operType 1). No batch operType for opening is sourced: one by one.
OPEN_OPER = {"7": "2", "6": "5", "1": "6", "07": "6", "4": "1", "02": "1"}
# jobStatus [S5]: 0 pending, 1 processing, 2 done, 3 done with failures, 4 failed.
JOB_RUNNING, JOB_DONE, JOB_FAILED = ("0", "1"), ("2", "3"), "4"
ORDER_DONE, ORDER_FAILED = "completed", "failed"
_BEIJING = ZoneInfo(OPERATOR_TIMEZONE)

# cardStatus by platform [S4; S2 CardStateTransition]: (CardPulse status, name, held).
STATUSES: StatusTable = {
    "1": ("stopped", "待激活 pending activation", False),
    "2": ("active", "已激活 active", False),
    "4": ("stopped", "停机 stopped", False),
    "6": ("stopped", "可测试 testable", False),
    "7": ("stopped", "库存 inventory", False),
    "8": ("stopped", "预销户 pre-cancellation", True),
    "9": ("stopped", "已销户 cancelled", True),
    "00": ("active", "正常 normal", False),
    "01": ("stopped", "单向停机 one-way barred", False),
    "02": ("stopped", "停机 stopped", False),
    "03": ("stopped", "预销号 pre-cancellation", True),
    "04": ("stopped", "销号 cancelled", True),
    "05": ("stopped", "过户 transferred", True),
    "06": ("stopped", "休眠 dormant", False),
    "07": ("stopped", "待激活 pending activation", False),
    "99": ("stopped", "号码不存在 no such number", True),
}


def result_of(code: str) -> Result:
    """Map a OneLink status code to a result; unknown codes are not retried."""
    return _CODES.get(code, Result.REJECTED)


def reading_of(code: str) -> Reading:
    return reading_from(STATUSES, code)


def card_param(card: CardRef) -> dict[str, str]:
    """Exactly one identifier per call ("三选一"): the MSISDN when known, else the ICCID."""
    return {"msisdn": card.msisdn} if card.msisdn else {"iccid": card.iccid}


def first(body: dict[str, Any]) -> dict[str, Any]:
    """The first entry of a successful answer's `result`; a failed answer raises."""
    code = str(body.get("status"))
    if code != OK:
        raise OperatorError(result_of(code), f"{code} {body.get('message', '')}".strip())
    result = body.get("result")
    if not isinstance(result, list) or not result or not isinstance(result[0], dict):
        raise OperatorError(Result.TRANSIENT, "answer without a result")
    entry: dict[str, Any] = result[0]
    return entry


class OneLinkClient:
    """One OneLink account. The token is refreshed before it expires and on `12021`."""

    dialect = "onelink"
    max_batch = 100
    rate_per_s = 10.0
    in_flight = 4
    closes_cycles = True

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
        """appid + YYYYMMDDHHMMSS in Beijing time + an 8-digit sequence [S4, S6]."""
        stamp = now().astimezone(_BEIJING).strftime("%Y%m%d%H%M%S")
        return f"{self._appid}{stamp}{next(self._seq) % 10**8:08d}"

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            answer = await self._http.get(f"{self._base}/{path}", params=params)
        except httpx.HTTPError as exc:
            raise OperatorError(Result.TRANSIENT, f"{type(exc).__name__}: {exc}") from None
        if answer.status_code >= 500:
            raise OperatorError(Result.TRANSIENT, f"HTTP {answer.status_code}")
        try:
            body = answer.json()
        except ValueError:
            raise OperatorError(Result.TRANSIENT, "answer is not JSON") from None
        if not isinstance(body, dict):
            raise OperatorError(Result.TRANSIENT, "answer is not a JSON object")
        return body

    async def _token_value(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._token_until:
                entry = first(await self._get("get/token", {
                    "appid": self._appid, "password": self._password,
                    "transid": self.transid()}))
                self._token = str(entry["token"])
                ttl = float(entry.get("ttl", 3600))  # a string on the wire [S6]
                self._token_until = time.monotonic() + ttl * 0.8
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

    async def set_status(self, cards: Sequence[CardRef], target: CardStatus
                         ) -> list[CommandResult]:
        """Cards with a number go as one batch job; the others (or a lone card) as orders."""
        numbered = [c for c in cards if c.msisdn]
        batch = numbered if len(numbered) > 1 else []
        singles = [c for c in cards if c not in batch]
        results = [await self._single(card, target) for card in singles]
        if batch:
            try:
                results += await self._batch(batch, target)
            except OperatorError as exc:
                results += all_failed(batch, exc)
        return await self._explain_held(results, {c.iccid: c for c in cards})

    async def activate(self, cards: Sequence[CardRef]) -> list[CommandResult]:
        """Read each card's status, then order the transition that opens it from there."""
        results = [await self._open(card) for card in cards]
        return await self._explain_held(results, {c.iccid: c for c in cards})

    async def _open(self, card: CardRef) -> CommandResult:
        try:
            reading = await self.status(card)
        except OperatorError as exc:
            return CommandResult(card.iccid, exc.result, exc.detail)
        if reading.network == "active":
            return CommandResult(card.iccid, Result.ALREADY, f"{reading.code} {reading.name}")
        if reading.held:
            return CommandResult(card.iccid, Result.HELD, f"{reading.code} {reading.name}")
        oper = OPEN_OPER.get(reading.code)
        if oper is None:
            return CommandResult(card.iccid, Result.REJECTED,
                                 f"no call opens a card in {reading.code} {reading.name}")
        return await self._order(card, oper)

    async def _single(self, card: CardRef, target: CardStatus) -> CommandResult:
        """`change/sim-status`: an order, done when `query/order-info` says completed."""
        return await self._order(card, SINGLE_OPER[target])

    async def _order(self, card: CardRef, oper: str) -> CommandResult:
        try:
            entry = first(await self.call("change/sim-status", **card_param(card),
                                          operType=oper))
        except OperatorError as exc:
            return CommandResult(card.iccid, exc.result, exc.detail)
        order = str(entry.get("orderNum", ""))
        return CommandResult(card.iccid, Result.SUBMITTED, f"order {order}", order or None)

    async def _batch(self, cards: Sequence[CardRef], target: CardStatus
                     ) -> list[CommandResult]:
        body = await self.call("change/sim-status/batch",
                               msisdns="_".join(str(c.msisdn) for c in cards),
                               operType=BATCH_OPER[target], reason=SELF_INITIATED)
        code = str(body.get("status"))
        if result_of(code) is Result.COOLDOWN:  # one card in its cooldown fails them all [S4]
            return [CommandResult(c.iccid, Result.COOLDOWN, f"{code} batch refused: "
                                  f"{body.get('message', '')}", whole_batch=True)
                    for c in cards]
        job = str(first(body)["jobId"])
        deadline = time.monotonic() + self._job_timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(self._job_poll_s)
            entry = first(await self.call("query/sim-batch-result", jobId=job))
            state = str(entry.get("jobStatus"))
            if state in JOB_DONE:
                return self._job_results(cards, entry.get("resultList") or [])
            if state == JOB_FAILED:
                raise OperatorError(Result.TRANSIENT, f"batch job {job} failed")
            if state not in JOB_RUNNING:
                raise OperatorError(Result.TRANSIENT, f"batch job {job}: jobStatus {state!r}")
        # Still running: the job may yet complete; status reads will tell.
        return [CommandResult(c.iccid, Result.SUBMITTED, f"batch job {job} still running")
                for c in cards]

    @staticmethod
    def _job_results(cards: Sequence[CardRef], listed: list[dict[str, Any]]
                     ) -> list[CommandResult]:
        """Per-card results are keyed by MSISDN (`resultType` 1) [S5]: map them back."""
        by_number = {str(r.get("resultId")): r for r in listed if isinstance(r, dict)}
        results = []
        for card in cards:
            found = by_number.get(str(card.msisdn))
            if found is None:
                results.append(CommandResult(card.iccid, Result.TRANSIENT, "missing in job"))
                continue
            code = str(found.get("status"))
            results.append(CommandResult(card.iccid, result_of(code),
                                         f"{code} {found.get('message', '')}".strip()))
        return results

    async def _explain_held(self, results: list[CommandResult], cards: dict[str, CardRef]
                            ) -> list[CommandResult]:
        """Add the operator's stop reason and freeze to each operator-held answer."""
        explained = []
        for result in results:
            if result.result is Result.HELD:
                why = await self.stop_reason(cards[result.iccid])
                result = CommandResult(result.iccid, result.result, f"{result.detail}; {why}")
            explained.append(result)
        return explained

    async def stop_reason(self, card: CardRef) -> str:
        """Why the operator holds the card: its stop reason and management freeze."""
        parts = []
        try:
            reason = first(await self.call("query/sim-stop-reason", **card_param(card)))
            parts.append(f"stop reason {reason.get('stopReason') or 'none'}")
            freeze = first(await self.call("query/sim-manage-stop-restart-status",
                                           **card_param(card)))
            if str(freeze.get("manageStopRestartStatus")) == "1":
                parts.append(f"management freeze {freeze.get('reason') or ''}".strip())
        except OperatorError as exc:
            parts.append(f"reason unknown ({exc.detail})")
        return ", ".join(parts)

    async def confirm(self, card: CardRef, target: CardStatus, ticket: str | None
                      ) -> CommandResult:
        """By the order (`query/order-info`) when there is one, else by a status read."""
        if not ticket:
            return await confirm_by_status(self, card, target)
        try:
            entry = first(await self.call("query/order-info", orderNum=ticket))
        except OperatorError as exc:
            return CommandResult(card.iccid, exc.result, exc.detail, ticket)
        state = str(entry.get("orderStatus"))
        if state == ORDER_DONE:
            return CommandResult(card.iccid, Result.CHANGED, f"order {ticket} completed")
        if state == ORDER_FAILED:
            return CommandResult(card.iccid, Result.TRANSIENT, f"order {ticket} failed")
        return CommandResult(card.iccid, Result.SUBMITTED, f"order {ticket} {state}", ticket)

    async def status(self, card: CardRef) -> Reading:
        entry = first(await self.call("query/sim-status", **card_param(card)))
        return reading_of(str(entry.get("cardStatus")))

    async def usage_bytes(self, card: CardRef) -> int:
        """Month to date: PB numbers up to 24:00 yesterday, CT numbers real time [S1, S4]."""
        entry = first(await self.call("query/sim-data-usage", **card_param(card)))
        return kilobytes(str(entry.get("dataAmount")))

    async def cycle_bytes(self, cards: Sequence[CardRef], first_day: date, last_day: date
                          ) -> dict[str, int] | None:
        """A closed calendar month from `sim-data-usage-monthly/batch` (numbered cards only)."""
        if first_day.day != 1:
            return None  # the monthly call counts calendar months only
        by_number = {str(c.msisdn): c.iccid for c in cards if c.msisdn}
        numbers = sorted(by_number)
        totals: dict[str, int] = {}
        for start in range(0, len(numbers), self.max_batch):
            chunk = numbers[start:start + self.max_batch]
            body = await self.call("query/sim-data-usage-monthly/batch",
                                   msisdns="_".join(chunk),
                                   queryDate=first_day.strftime("%Y%m"))
            first(body)
            for entry in body["result"]:
                iccid = by_number.get(str(entry.get("msisdn")))
                if iccid is not None:
                    totals[iccid] = kilobytes(str(entry.get("dataAmount")))
        return totals
