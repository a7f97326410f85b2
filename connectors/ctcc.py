"""China Telecom CMP: `query.do?method=...` with DES-encrypted `passWord` and `sign`; each
method answers in its own format: XML, JSON or plain text (connectors/DIALECTS.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element  # noqa: S405 - only the type; parsing is defused

import httpx
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from connectors.base import OperatorError, StatusTable, confirm_by_status, megabytes, reading_from
from core.ctcc_des import password_field, sign_field
from core.operators import CardStatus
from domain.control.results import CardRef, CommandResult, Reading, Result

STOP, RESUME = "19", "20"  # 停机保号, 停机保号后复机 [S17, S18, S20]
# 活卡激活: `requestServActive` opens a card in 1 可激活 / 2 测试激活 / 3 测试去激活 and moves it to
# 4 在用, billed from then on; irreversible, needed once [S18; Java id 6631358945, id 21224935465].
ACTIVATE = "requestServActive"
OPENABLE = ("1", "2", "3")
ORDER_TYPE: dict[CardStatus, str] = {"stopped": STOP, "active": RESUME}
# productMainStatusCd [S17, S22]: (CardPulse status, name, held by the operator).
STATUSES: StatusTable = {
    "1": ("stopped", "可激活 activatable", False),
    "2": ("active", "测试激活 test-active", False),
    "3": ("stopped", "测试去激活 test-deactivated", False),
    "4": ("active", "在用 in use", False),
    "5": ("stopped", "停机 stopped", False),
    "6": ("stopped", "运营商管理状态 operator-managed", True),
    "7": ("stopped", "拆机 terminated", True),
}
# No CTCC error table is public: answers are told apart by code (sim-only) and by message.
_REPEAT_WORDS = ("已存在", "无需", "重复")  # "已存在相关停机记录，无需再次办理停机" [S18]
_COOLDOWN_WORDS = ("频繁",)
_HELD_WORDS = ("管理停机", "不允许复机")
_CODES = {"-1": Result.TRANSIENT, "-5": Result.COOLDOWN, "-6": Result.HELD}
# The parameters each method's sign covers beside card, user_id, password and method [S17].
SIGNED: dict[str, tuple[str, ...]] = {
    "disabledNumber": ("acctCd", "orderTypeId"),
    ACTIVATE: (),
    "queryTraffic": ("needDtl",),
    "queryTrafficByDate": ("startDate", "endDate"),
}


@dataclass(frozen=True)
class Answer:
    """One CMP answer, whatever its format: the result code (None for plain text) and text."""

    code: str | None
    message: str
    xml: Element | None = None
    json: dict[str, Any] | None = None


def parse(body: bytes) -> Answer:
    """XML (`<result>`/`<IRESULT>`), JSON (`resultCode`) or a plain-text message."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("<"):
        try:
            root = ElementTree.fromstring(text)
        except (ElementTree.ParseError, DefusedXmlException) as exc:
            raise OperatorError(Result.TRANSIENT, f"bad XML answer: {exc}") from None
        code = _xml_text(root, "result", "IRESULT", "RESULT")
        return Answer(code, _xml_text(root, "resultMsg", "SMSG") or "", xml=root)
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise OperatorError(Result.TRANSIENT, "bad JSON answer") from None
        if isinstance(data, dict):
            code = data.get("resultCode", data.get("RESULT"))
            return Answer(None if code is None else str(code),
                          str(data.get("resultMsg", data.get("SMSG", ""))), json=data)
    return Answer(None, text)


def _xml_text(root: Element, *names: str) -> str | None:
    for name in names:
        found = root.find(f".//{name}") if root.tag != name else root
        if found is not None and found.text is not None:
            return found.text.strip()
    return None


def result_of(answer: Answer) -> Result:
    """A change's answer: 0 is an accepted order (completed later, "竣工" [S23])."""
    if answer.code == "0":
        return Result.SUBMITTED
    words = answer.message
    if any(w in words for w in _REPEAT_WORDS):
        return Result.ALREADY
    if any(w in words for w in _COOLDOWN_WORDS):
        return Result.COOLDOWN
    if any(w in words for w in _HELD_WORDS):
        return Result.HELD
    return _CODES.get(answer.code or "", Result.REJECTED)


def reading_of(code: str) -> Reading:
    return reading_from(STATUSES, code)


def card_param(card: CardRef) -> dict[str, str]:
    """The access number (149/10649) when known [S17, S21], else the ICCID [S22]."""
    return {"access_number": card.msisdn} if card.msisdn else {"iccid": card.iccid}


class CtccClient:
    """One CMP account; no rate limit is published, so the reconciler keeps it slow."""

    dialect = "ctcc"
    max_batch = 1
    rate_per_s = 10.0
    in_flight = 2
    closes_cycles = True

    def __init__(self, http: httpx.AsyncClient, base_url: str, user_id: str, password: str,
                 key: str) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/m2m_ec/query.do"
        self._user = user_id
        self._password = password
        self._key = key

    def params(self, method: str, card: CardRef, **extra: str) -> dict[str, str]:
        """Every parameter of a call, with `passWord` and `sign` as the CTCC demo makes them:
        the sign covers the card, user, plain password, method and the method's own
        values [S17, S19]."""
        ident = card_param(card)
        values = [*ident.values(), self._user, self._password, method,
                  *(extra[name] for name in SIGNED.get(method, ()))]
        return {"method": method, **ident, "user_id": self._user,
                "passWord": password_field(self._password, self._key),
                "sign": sign_field(values, self._key), **extra}

    async def _call(self, method: str, card: CardRef, **extra: str) -> Answer:
        try:
            answer = await self._http.get(self._url, params=self.params(method, card, **extra))
        except httpx.HTTPError as exc:
            raise OperatorError(Result.TRANSIENT, f"{type(exc).__name__}: {exc}") from None
        if answer.status_code >= 500:
            raise OperatorError(Result.TRANSIENT, f"HTTP {answer.status_code}")
        return parse(answer.content)

    async def _query(self, method: str, card: CardRef, **extra: str) -> Answer:
        """A query: anything but result 0 fails the call."""
        answer = await self._call(method, card, **extra)
        if answer.code != "0":
            result = _CODES.get(answer.code or "", Result.TRANSIENT)
            raise OperatorError(result, f"{method}: {answer.code} {answer.message}".strip())
        return answer

    async def set_status(self, cards: Sequence[CardRef], target: CardStatus
                         ) -> list[CommandResult]:
        results = []
        for card in cards:
            try:  # acctCd must be sent, empty: "不传入会报错" [S20]
                answer = await self._call("disabledNumber", card, acctCd="",
                                          orderTypeId=ORDER_TYPE[target])
            except OperatorError as exc:
                results.append(CommandResult(card.iccid, exc.result, exc.detail))
                continue
            results.append(CommandResult(card.iccid, result_of(answer),
                                         f"{answer.code or 'text'} {answer.message}".strip()))
        return results

    async def activate(self, cards: Sequence[CardRef]) -> list[CommandResult]:
        """Read each card's main status: 活卡激活 from 1/2/3, a resume (20) from 5 停机 (a
        resume of a 可激活 card is refused, `100008` [S20]); 4 is already open."""
        return [await self._open(card) for card in cards]

    async def _open(self, card: CardRef) -> CommandResult:
        try:
            reading = await self.status(card)
        except OperatorError as exc:
            return CommandResult(card.iccid, exc.result, exc.detail)
        if reading.code == "4":
            return CommandResult(card.iccid, Result.ALREADY, f"{reading.code} {reading.name}")
        if reading.held:
            return CommandResult(card.iccid, Result.HELD, f"{reading.code} {reading.name}")
        if reading.code == "5":
            return (await self.set_status([card], "active"))[0]
        if reading.code not in OPENABLE:
            return CommandResult(card.iccid, Result.REJECTED,
                                 f"no call opens a card in {reading.code} {reading.name}")
        try:  # JSON {"RESULT": "0", "SMSG": "成功"}: accepted, confirmed by a status read
            answer = await self._call(ACTIVATE, card)
        except OperatorError as exc:
            return CommandResult(card.iccid, exc.result, exc.detail)
        return CommandResult(card.iccid, result_of(answer),
                             f"{answer.code or 'text'} {answer.message}".strip())

    async def confirm(self, card: CardRef, target: CardStatus, ticket: str | None
                      ) -> CommandResult:
        return await confirm_by_status(self, card, target)

    async def status(self, card: CardRef) -> Reading:
        """`productInfo[0].productMainStatusCd` of the JSON answer [S18, S22]."""
        answer = await self._query("queryCardMainStatus", card)
        info = (answer.json or {}).get("productInfo")
        if not isinstance(info, list) or not info or not isinstance(info[0], dict):
            raise OperatorError(Result.TRANSIENT, "queryCardMainStatus without productInfo")
        return reading_of(str(info[0].get("productMainStatusCd")))

    async def _traffic(self, method: str, card: CardRef, **extra: str) -> int:
        answer = await self._query(method, card, **extra)
        total = None if answer.xml is None else _xml_text(answer.xml, "TOTAL_BYTES_CNT")
        if total is None:
            raise OperatorError(Result.TRANSIENT, f"{method} without TOTAL_BYTES_CNT")
        return megabytes(total)

    async def usage_bytes(self, card: CardRef) -> int:
        """This month, cumulative, from `TOTAL_BYTES_CNT` ("x.xxMB") [S21]."""
        return await self._traffic("queryTraffic", card, needDtl="0")

    async def cycle_bytes(self, cards: Sequence[CardRef], first_day: date, last_day: date
                          ) -> dict[str, int] | None:
        """A closed cycle from `queryTrafficByDate` [S18, S19], one card per call."""
        totals = {}
        for card in cards:
            totals[card.iccid] = await self._traffic(
                "queryTrafficByDate", card, startDate=first_day.strftime("%Y%m%d"),
                endDate=last_day.strftime("%Y%m%d"), needDtl="0")
        return totals
