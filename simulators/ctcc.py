"""China Telecom CMP dialect (`GET /m2m_ec/query.do?method=...`).

One account (`ctcc_password`, `ctcc_key` knobs): `passWord` and `sign` are checked with the
demo's DES (`core.ctcc_des`). Answers come in each method's own format, as the real CMP's do
(see connectors/DIALECTS.md): `requestServActive` answers JSON `{"RESULT", "SMSG"}`;
`disabledNumber` answers XML (`businessServiceResponse`) or, for a
repeat, plain text; `queryTraffic` and `queryTrafficByDate` answer XML
(`NEW_DATA_TICKET_QRsp`); everything else, errors included, JSON `{"resultCode", "resultMsg"}`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import date
from typing import Any, Final
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams

from core.ctcc_des import password_field, sign_field
from core.operators import CardStatus
from domain.usage.validation import iccid_problem
from simulators.beijing import compact, day_of, local, month_start
from simulators.fleet_state import SimCard
from simulators.knobs import SimContext
from simulators.numbers import msisdn_problem

DIALECT = "ctcc"
OK, TRANSIENT, UNAUTHORIZED, BAD_PARAM, COOLDOWN, HELD = "0", "-1", "-2", "-3", "-5", "-6"
NOT_OPENED = "100008"  # a resume of a card in 可激活 [S20]
ORDER_TYPES: dict[str, CardStatus] = {"19": "stopped", "20": "active"}
ACTIVATE = "requestServActive"  # 活卡激活 [S18]: JSON {"RESULT", "SMSG"}
# What `sign` covers besides the card, user_id, the password and the method.
SIGNED: Final[dict[str, tuple[str, ...]]] = {
    "disabledNumber": ("acctCd", "orderTypeId"),
    ACTIVATE: (),
    "queryCardMainStatus": (),
    "queryTraffic": ("needDtl",),
    "queryTrafficByDate": ("startDate", "endDate"),
}
XML_TYPE, TEXT_TYPE = "text/xml; charset=utf-8", "text/plain; charset=utf-8"
TRANSACTION_PREFIX = "1000000252"  # GROUP_TRANSACTIONID = prefix + YYYYMMDD + 10 digits
MB = 1024 * 1024
MAX_DAYS = 31
DAY_RE = re.compile(r"[0-9]{8}")
MANAGEMENT_STOP = "管理停机"
REPEATS: dict[CardStatus, str] = {
    "stopped": "已存在相关停机记录，无需再次办理停机",
    "active": "号码已是在用状态，无需办理复机",
}

Answer = tuple[str, Response]  # (outcome, answer)
Method = Callable[[QueryParams, str, SimCard, float], Answer]


class Refused(Exception):
    """A refusal: result code, message and the outcome it is counted under."""

    def __init__(self, code: str, message: str, outcome: str = "bad_request") -> None:
        super().__init__(message)
        self.code, self.message, self.outcome = code, message, outcome


def _json(outcome: str, code: str, message: str, **extra: Any) -> Answer:
    return outcome, JSONResponse({"resultCode": code, "resultMsg": message, **extra})


def _serv(outcome: str, code: str, message: str, **extra: Any) -> Answer:
    """`requestServActive`'s JSON: `RESULT` and `SMSG` [S18]."""
    return outcome, JSONResponse({"RESULT": code, "SMSG": message, **extra})


def _mb(nbytes: int) -> str:
    """Bytes as `TOTAL_BYTES_CNT`: MB (1024 × 1024 bytes), two decimals, rounded down."""
    hundredths = nbytes * 100 // MB
    return f"{hundredths // 100}.{hundredths % 100:02d}MB"


def order_xml(result: str, message: str, transaction: str) -> str:
    """`disabledNumber`'s answer: the order's receipt (or its refusal)."""
    return ('<?xml version="1.0" encoding="UTF-8"?><businessServiceResponse>'
            f"<RspType>0</RspType><result>{result}</result>"
            f"<resultMsg>{escape(message)}</resultMsg>"
            f"<GROUP_TRANSACTIONID>{transaction}</GROUP_TRANSACTIONID>"
            "</businessServiceResponse>")


def traffic_xml(nbytes: int, number: str, transaction: str) -> str:
    """`queryTraffic` / `queryTrafficByDate`'s answer, wrapped as the real CMP wraps it."""
    return ('<root><web:NEW_DATA_TICKET_QRsp xmlns:web="http://www.example.org/webservice">'
            "<CHARGE_CNT_CH>0元</CHARGE_CNT_CH><DURATION_CNT_CH></DURATION_CNT_CH>"
            "<IRESULT>0</IRESULT><TOTALCOUNT></TOTALCOUNT><TOTALPAGE></TOTALPAGE>"
            f"<TOTAL_BYTES_CNT>{_mb(nbytes)}</TOTAL_BYTES_CNT>"
            f"<GROUP_TRANSACTIONID>{transaction}</GROUP_TRANSACTIONID>"
            f"<number>{escape(number)}</number></web:NEW_DATA_TICKET_QRsp></root>")


def _main_status(card: SimCard) -> tuple[str, str]:
    """`productMainStatusCd` and its name: 4 在用, 5 停机, 6 for a management stop or freeze,
    1 可激活 for a card never opened (the test period, 2/3, is not simulated)."""
    if card.stage is not None:
        return "1", "可激活"
    if card.status == "active":
        return "4", "在用"
    if card.frozen or card.stop_reason == MANAGEMENT_STOP:
        return "6", "运营商管理状态"
    return "5", "停机"


def _day(params: QueryParams, name: str) -> date:
    text = params.get(name, "")
    try:
        if DAY_RE.fullmatch(text):
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        pass
    raise Refused(BAD_PARAM, f"{name} must be a date YYYYMMDD")


class Ctcc:
    """Credentials, faults and the card first, then each method's own work."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx, self.net = ctx, ctx.net
        self.serial = itertools.count(1)
        self.methods: dict[str, Method] = {
            "disabledNumber": self.disabled_number,
            ACTIVATE: self.serv_active,
            "queryCardMainStatus": self.main_status,
            "queryTraffic": self.traffic,
            "queryTrafficByDate": self.traffic_by_date,
        }

    def transaction(self, now: float) -> str:
        """A new `GROUP_TRANSACTIONID`."""
        return f"{TRANSACTION_PREFIX}{compact(now)[:8]}{next(self.serial):010d}"

    def _xml(self, outcome: str, code: str, message: str, now: float) -> Answer:
        body = order_xml(code, message, self.transaction(now))
        return outcome, Response(body, media_type=XML_TYPE)

    # --- methods -------------------------------------------------------------------------

    def disabled_number(self, params: QueryParams, iccid: str, card: SimCard,
                        now: float) -> Answer:
        """Order a stop (orderTypeId 19) or resume (20); a repeat answers plain text."""
        target = ORDER_TYPES.get(params.get("orderTypeId", ""))
        if target is None:
            raise Refused(BAD_PARAM, "orderTypeId must be 19 (stop) or 20 (resume)")
        if "acctCd" not in params:
            raise Refused(BAD_PARAM, "acctCd 必传")
        completion_s = self.ctx.knobs.completion_ms / 1000
        outcome, _ = self.net.request(iccid, target, now, completion_s)
        if outcome == "repeat":
            return outcome, Response(REPEATS[target], media_type=TEXT_TYPE)
        if outcome == "cooldown":
            return self._xml(outcome, COOLDOWN, "操作过于频繁，请稍后再试", now)
        if outcome == "held":
            held = f"运营商管理停机，不允许复机（{card.hold_reason}）"
            return self._xml(outcome, HELD, held, now)
        if outcome == "unopened":
            return self._xml(outcome, NOT_OPENED, "卡状态为可激活，不能复机，请活卡激活", now)
        return self._xml(outcome, OK, "成功接收消息", now)

    def serv_active(self, params: QueryParams, iccid: str, card: SimCard,
                    now: float) -> Answer:
        """活卡激活: open a card in 可激活 (an order, `activation_ms` or `completion_ms` later);
        an open card answers a refusal (only 可激活 cards are activated)."""
        if card.stage is None and card.target != "active":
            raise Refused(BAD_PARAM, "号码状态不是可激活，不能活卡激活")
        outcome, _ = self.net.request(iccid, "active", now, self.ctx.completion_s(True), True)
        if outcome == "repeat":
            return _serv(outcome, BAD_PARAM, "号码已是在用状态，无需激活")
        if outcome == "cooldown":
            return _serv(outcome, COOLDOWN, "操作过于频繁，请稍后再试")
        if outcome == "held":
            return _serv(outcome, HELD, f"运营商管理停机，不允许激活（{card.hold_reason}）")
        return _serv(outcome, OK, "成功", GROUP_TRANSACTIONID=self.transaction(now))

    def main_status(self, params: QueryParams, iccid: str, card: SimCard, now: float) -> Answer:
        """The card's main product status (4 in use, 5 stopped, 6 operator-managed)."""
        code, name = _main_status(card)
        return _json("accepted", OK, "处理成功！", GROUP_TRANSACTIONID=self.transaction(now),
                     number=card.msisdn or "", servCreateDate=f"{local(card.created):%Y%m%d}",
                     productInfo=[{"productMainStatusCd": code, "productMainStatusName": name}])

    def _traffic(self, nbytes: int, card: SimCard, now: float) -> Answer:
        body = traffic_xml(nbytes, card.msisdn or "", self.transaction(now))
        return "accepted", Response(body, media_type=XML_TYPE)

    def traffic(self, params: QueryParams, iccid: str, card: SimCard, now: float) -> Answer:
        """This Beijing month's bytes so far, in MB (`needDtl=0`: no details)."""
        if params.get("needDtl", "0") != "0":
            raise Refused(BAD_PARAM, "needDtl must be 0 (details are not simulated)")
        today = day_of(now)
        return self._traffic(self.net.usage_since(card, month_start(today), today), card, now)

    def traffic_by_date(self, params: QueryParams, iccid: str, card: SimCard,
                        now: float) -> Answer:
        """The bytes of `startDate` to `endDate` (inclusive, at most 31 days), in MB."""
        first, last = _day(params, "startDate"), _day(params, "endDate")
        if not 0 <= (last - first).days < MAX_DAYS:
            raise Refused(BAD_PARAM, f"endDate must be from startDate to {MAX_DAYS - 1} days "
                                     "after it")
        last = min(last, self.net.last_visible(card, day_of(now)))
        return self._traffic(self.net.usage_between(card, first, last), card, now)

    # --- the gate ------------------------------------------------------------------------

    def _signed(self, params: QueryParams) -> bool:
        """Whether user_id, passWord and sign are those of the simulator's account."""
        knobs = self.ctx.knobs
        user_id, method = params.get("user_id", ""), params.get("method", "")
        if not user_id or params.get("passWord") != password_field(knobs.ctcc_password,
                                                                   knobs.ctcc_key):
            return False
        card = [params[name] for name in ("access_number", "iccid") if name in params]
        extras = [params[name] for name in SIGNED.get(method, ()) if name in params]
        values = [*card, user_id, knobs.ctcc_password, method, *extras]
        return params.get("sign") == sign_field(values, knobs.ctcc_key)

    def _card(self, params: QueryParams, now: float) -> tuple[str, SimCard]:
        """The card named by exactly one of `access_number` and `iccid`."""
        number, iccid = params.get("access_number") or None, params.get("iccid") or None
        if (number is None) == (iccid is None):
            raise Refused(BAD_PARAM, "give exactly one of access_number and iccid")
        if number is not None:
            if msisdn_problem(number):
                raise Refused(BAD_PARAM, f"access_number {msisdn_problem(number)}")
            iccid = self.net.iccid_of(number)
            if iccid is None:
                raise Refused(BAD_PARAM, "未找到接入号码", "unknown")
        elif iccid_problem(iccid):
            raise Refused(BAD_PARAM, f"iccid {iccid_problem(iccid)}")
        found = iccid or ""
        return found, self.net.card(found, now)

    def handle(self, params: QueryParams, now: float) -> Answer:
        """Check credentials, then inject faults, then find the card, then run the method."""
        if not self._signed(params):
            return _json("unauthorized", UNAUTHORIZED, "用户名、密码或签名错误")
        name = params.get("method", "")
        as_xml = name == "disabledNumber"
        as_serv = name == ACTIVATE
        try:
            fault = self.ctx.fault()
            if fault is not None:
                raise Refused(TRANSIENT, "系统繁忙", fault)
            method = self.methods.get(name)
            if method is None:
                raise Refused(BAD_PARAM, f"unknown method {name!r}")
            return method(params, *self._card(params, now), now)
        except Refused as refused:
            if as_xml:
                return self._xml(refused.outcome, refused.code, refused.message, now)
            if as_serv:
                return _serv(refused.outcome, refused.code, refused.message)
            return _json(refused.outcome, refused.code, refused.message)


def router(ctx: SimContext) -> APIRouter:
    """The China Telecom route, bound to the simulator context."""
    ops = Ctcc(ctx)
    api = APIRouter()

    @api.get("/m2m_ec/query.do", name="ctcc_query")
    async def query(request: Request) -> Response:
        await ctx.pause()
        outcome, answer = ops.handle(request.query_params, ctx.now())
        ctx.net.count(DIALECT, outcome)
        return answer

    return api
