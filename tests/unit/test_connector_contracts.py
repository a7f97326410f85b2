"""Contract tests: each connector against answers shaped exactly like the real operators'.

The operators' APIs cannot run here, so each test serves the answer the evidence documents
(`../shared/notes/operators-evidence.md`, sources [S#] as in connectors/DIALECTS.md) through
httpx's mock transport and checks what the connector makes of it, and what it sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.base import OperatorError
from connectors.ctcc import CtccClient
from connectors.jasper import JasperClient
from connectors.onelink import OneLinkClient
from core.clock import now
from core.ctcc_des import password_field, sign_field, split_key, str_dec
from domain.control.results import CardRef, Result

pytestmark = pytest.mark.req("OPS-WIRE")

BASE = "http://operator"
ICCID, ICCID2, ICCID3 = "89860012345678901234", "89860012345678901235", "89860012345678901236"
MSISDN, MSISDN2, MSISDN3 = "1440012345678", "1440012345679", "1440012345680"
CARD = CardRef(ICCID, MSISDN)
Handler = Callable[[httpx.Request], httpx.Response]


class Operator:
    """Answers by path (and method), and records every request."""

    def __init__(self, routes: dict[str, Handler | list[httpx.Response] | httpx.Response]
                 ) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = request.url.path.rsplit("/v5/ec/", 1)[-1]
        if request.url.path.endswith("query.do"):
            key = request.url.params["method"]
        answer = self.routes.get(f"{request.method} {key}", self.routes.get(key))
        if isinstance(answer, list):
            return answer.pop(0)
        if isinstance(answer, httpx.Response):
            return answer
        assert answer is not None, f"unexpected call {request.method} {request.url}"
        return answer(request)

    def params(self, key: str) -> list[dict[str, str]]:
        found = []
        for request in self.requests:
            name = request.url.params.get("method") or request.url.path.rsplit("/v5/ec/", 1)[-1]
            if name == key:
                found.append({k: v[0] for k, v in parse_qs(request.url.query.decode(),
                                                           keep_blank_values=True).items()})
        return found


def http(operator: Operator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(operator), base_url=BASE)


def onelink_answer(result: list[dict[str, Any]], status: str = "0",
                   message: str = "正确") -> httpx.Response:
    return httpx.Response(200, json={"status": status, "message": message, "result": result})


TOKEN = onelink_answer([{"token": "t0k3n", "ttl": "3600"}])  # ttl is a string [S6]


def onelink(routes: dict[str, Any]) -> tuple[OneLinkClient, Operator]:
    operator = Operator({"get/token": lambda _: TOKEN, **routes})
    return OneLinkClient(http(operator), BASE, "app1", "pw", job_poll_s=0.001,
                         job_timeout_s=0.2), operator


# --- OneLink ---------------------------------------------------------------------------

async def test_onelink_transid_is_beijing_time_and_the_token_ttl_a_string() -> None:
    client, operator = onelink({"query/sim-status": onelink_answer(
        [{"cardStatus": "2", "lastChangeDate": "2026-11-30 10:00:00"}])})
    reading = await client.status(CARD)
    assert reading.network == "active"
    sent = operator.params("query/sim-status")[0]
    assert sent["token"] == "t0k3n" and sent["msisdn"] == MSISDN and "iccid" not in sent
    stamp = datetime.strptime(sent["transid"][len("app1"):len("app1") + 14], "%Y%m%d%H%M%S")
    beijing = now().astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    assert abs((beijing - stamp).total_seconds()) < 5, "Beijing wall time on the platform clock"
    assert len(sent["transid"]) == len("app1") + 22


async def test_onelink_single_change_is_an_order_confirmed_by_order_info() -> None:
    client, operator = onelink({
        "change/sim-status": onelink_answer([{"orderNum": "ORD42", "msisdn": MSISDN}]),
        "query/order-info": [
            onelink_answer([{"orderNum": "ORD42", "orderStatus": "inProgress"}]),
            onelink_answer([{"orderNum": "ORD42", "orderStatus": "completed"}]),
            onelink_answer([{"orderNum": "ORD42", "orderStatus": "failed"}]),
        ],
    })
    [result] = await client.set_status([CARD], "stopped")
    assert (result.result, result.ticket) == (Result.SUBMITTED, "ORD42")
    assert operator.params("change/sim-status")[0]["operType"] == "0"
    assert (await client.confirm(CARD, "stopped", "ORD42")).result is Result.SUBMITTED
    assert (await client.confirm(CARD, "stopped", "ORD42")).result is Result.CHANGED
    assert (await client.confirm(CARD, "stopped", "ORD42")).result is Result.TRANSIENT


async def test_onelink_a_card_without_number_is_sent_by_iccid() -> None:
    client, operator = onelink({"change/sim-status": onelink_answer([{"orderNum": "9"}])})
    await client.set_status([CardRef(ICCID)], "active")
    sent = operator.params("change/sim-status")[0]
    assert sent["iccid"] == ICCID and "msisdn" not in sent and sent["operType"] == "1"


async def test_onelink_batch_is_9_or_11_with_reason_01_and_results_keyed_by_msisdn() -> None:
    cards = [CARD, CardRef(ICCID2, MSISDN2), CardRef(ICCID3, MSISDN3)]
    client, operator = onelink({
        "change/sim-status/batch": onelink_answer([{"jobId": "J7"}]),
        "query/sim-batch-result": [
            onelink_answer([{"jobId": "J7", "jobStatus": "0"}]),
            onelink_answer([{"jobId": "J7", "jobStatus": "1"}]),
            onelink_answer([{"jobId": "J7", "jobStatus": "3", "resultList": [
                {"resultType": "1", "resultId": MSISDN2, "status": "0", "message": "成功"},
                {"resultType": "1", "resultId": MSISDN, "status": "12098",
                 "message": "非主动停机号码不允许主动复机"},
            ]}]),
            onelink_answer([{"jobId": "J7", "jobStatus": "2", "resultList": [
                {"resultType": "1", "resultId": m, "status": "0", "message": "成功"}
                for m in (MSISDN, MSISDN2)]}]),
        ],
        "query/sim-stop-reason": onelink_answer([{"platformType": "CT",
                                                  "stopReason": "欠费停机"}]),
        "query/sim-manage-stop-restart-status": onelink_answer(
            [{"manageStopRestartStatus": "1", "reason": "管理停机冻结"}]),
    })
    results = {r.iccid: r for r in await client.set_status(cards, "active")}
    sent = operator.params("change/sim-status/batch")[0]
    assert sent["msisdns"] == f"{MSISDN}_{MSISDN2}_{MSISDN3}"
    assert (sent["operType"], sent["reason"]) == ("11", "01")
    assert results[ICCID2].result is Result.CHANGED
    assert results[ICCID].result is Result.HELD
    assert "欠费停机" in results[ICCID].detail and "管理停机冻结" in results[ICCID].detail
    assert results[ICCID3].result is Result.TRANSIENT, "missing in the job: ask again"
    stopped = await client.set_status(cards[:2], "stopped")
    assert operator.params("change/sim-status/batch")[1]["operType"] == "9"
    assert {r.result for r in stopped} == {Result.CHANGED}


async def test_onelink_a_batch_refused_for_one_cards_cooldown_fails_whole() -> None:
    client, _ = onelink({"change/sim-status/batch": onelink_answer(
        [], "12108", "同一卡号3分钟内不能通过此类接口重复办理业务")})
    results = await client.set_status([CARD, CardRef(ICCID2, MSISDN2)], "stopped")
    assert {(r.result, r.whole_batch) for r in results} == {(Result.COOLDOWN, True)}


async def test_onelink_a_failed_job_or_one_still_running_is_not_final() -> None:
    cards = [CARD, CardRef(ICCID2, MSISDN2)]
    client, _ = onelink({
        "change/sim-status/batch": onelink_answer([{"jobId": "J8"}]),
        "query/sim-batch-result": onelink_answer([{"jobId": "J8", "jobStatus": "4"}]),
    })
    assert {r.result for r in await client.set_status(cards, "stopped")} == {Result.TRANSIENT}
    client, _ = onelink({
        "change/sim-status/batch": onelink_answer([{"jobId": "J9"}]),
        "query/sim-batch-result": lambda _: onelink_answer([{"jobId": "J9", "jobStatus": "1"}]),
    })
    assert {r.result for r in await client.set_status(cards, "stopped")} == {Result.SUBMITTED}


@pytest.mark.parametrize(("code", "result"), [
    ("12107", Result.ALREADY), ("12108", Result.COOLDOWN), ("12029", Result.RATE_LIMITED),
    ("12500", Result.TRANSIENT), ("12009", Result.REJECTED), ("77777", Result.REJECTED),
])
async def test_onelink_single_change_codes(code: str, result: Result) -> None:
    client, _ = onelink({"change/sim-status": onelink_answer([], code, "x")})
    assert (await client.set_status([CARD], "stopped"))[0].result is result


@pytest.mark.parametrize(("code", "network", "held"), [
    ("1", "stopped", False), ("2", "active", False), ("4", "stopped", False),
    ("6", "stopped", False), ("7", "stopped", False), ("8", "stopped", True),
    ("9", "stopped", True), ("00", "active", False), ("01", "stopped", False),
    ("02", "stopped", False), ("03", "stopped", True), ("04", "stopped", True),
    ("05", "stopped", True), ("06", "stopped", False), ("07", "stopped", False),
    ("99", "stopped", True), ("3", "unknown", False), ("5", "unknown", False),
])
async def test_onelink_every_card_status_code_ct_and_pb(code: str, network: str,
                                                       held: bool) -> None:
    client, _ = onelink({"query/sim-status": onelink_answer(
        [{"cardStatus": code, "lastChangeDate": "2026-11-30 10:00:00"}])})
    reading = await client.status(CARD)
    assert (reading.network, reading.held, reading.code) == (network, held, code)


async def test_onelink_usage_is_fractional_kb_and_the_month_close_keyed_by_msisdn() -> None:
    client, operator = onelink({
        "query/sim-data-usage": onelink_answer([{"dataAmount": "123.45", "apnUseAmountList": [
            {"apnName": "CMIOT", "apnUseAmount": "123.45"}]}]),
        "query/sim-data-usage-monthly/batch": onelink_answer([
            {"msisdn": MSISDN, "dataAmount": "2048"}, {"msisdn": MSISDN2, "dataAmount": "0.5"}]),
    })
    assert await client.usage_bytes(CARD) == 126413  # 123.45 KB × 1024, rounded
    totals = await client.cycle_bytes([CARD, CardRef(ICCID2, MSISDN2), CardRef(ICCID3)],
                                      date(2026, 11, 1), date(2026, 11, 30))
    assert totals == {ICCID: 2048 * 1024, ICCID2: 512}
    sent = operator.params("query/sim-data-usage-monthly/batch")[0]
    assert (sent["msisdns"], sent["queryDate"]) == (f"{MSISDN}_{MSISDN2}", "202611")
    assert await client.cycle_bytes([CARD], date(2026, 11, 27), date(2026, 12, 26)) is None


async def test_onelink_token_refused_once_is_renewed() -> None:
    client, operator = onelink({"query/sim-status": [
        onelink_answer([], "12021", "TOKEN不存在或已过期，请重新获取"),
        onelink_answer([{"cardStatus": "4"}]),
    ]})
    assert (await client.status(CARD)).network == "stopped"
    assert len(operator.params("get/token")) == 2


# --- Jasper / Unicom --------------------------------------------------------------------

DEVICE = f"/rws/api/v1/devices/{ICCID}"


def jasper_routes(**answers: httpx.Response) -> dict[str, Any]:
    return {f"{method} {DEVICE}{suffix}": answer for (method, suffix), answer in
            {("PUT", ""): answers.get("put"), ("GET", ""): answers.get("get"),
             ("GET", "/ctdUsages"): answers.get("usage")}.items() if answer is not None}


class JasperOperator(Operator):
    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes[f"{request.method} {request.url.path}"]
        assert isinstance(answer, httpx.Response)
        return answer


def jasper_client(**answers: httpx.Response) -> tuple[JasperClient, Operator]:
    operator = JasperOperator(jasper_routes(**answers))
    return JasperClient(http(operator), BASE, "user", "key"), operator


@pytest.mark.parametrize(("answer", "result"), [
    (httpx.Response(200, json={"iccid": ICCID}), Result.CHANGED),
    (httpx.Response(202, json={"iccid": ICCID}), Result.SUBMITTED),  # [S12]
    (httpx.Response(202), Result.SUBMITTED),  # the generated client types no body
    (httpx.Response(401, json={"errorCode": "10000001", "errorMessage": "Invalid credentials"}),
     Result.TRANSIENT),  # [S10]
    (httpx.Response(429, json={"errorCode": "40000029"}), Result.RATE_LIMITED),  # [S10, S11]
    (httpx.Response(400, json={"errorCode": "40000029"}), Result.RATE_LIMITED),
    (httpx.Response(400, json={"errorCode": "10000037", "errorMessage": "blocked"}),
     Result.HELD),
    (httpx.Response(400, json={"errorCode": "10000024"}), Result.COOLDOWN),
    (httpx.Response(500, json={"errorCode": "10000099"}), Result.TRANSIENT),
    (httpx.Response(400, json={"errorCode": "20000001"}), Result.REJECTED),
])
async def test_jasper_edit_device_answers(answer: httpx.Response, result: Result) -> None:
    client, operator = jasper_client(put=answer)
    [found] = await client.set_status([CARD], "stopped")
    assert found.result is result
    assert json.loads(operator.requests[0].content) == {"status": "DEACTIVATED"}
    assert operator.requests[0].headers["authorization"].startswith("Basic ")
    if result is Result.TRANSIENT and answer.status_code == 401:
        assert "invalid credentials" in found.detail


@pytest.mark.parametrize(("status", "network", "held"), [
    ("ACTIVATED", "active", False), ("DEACTIVATED", "stopped", False),
    ("ACTIVATION_READY", "stopped", False), ("TEST_READY", "stopped", False),
    ("INVENTORY", "stopped", False), ("RETIRED", "stopped", True), ("PURGED", "stopped", True),
    ("REPLACED", "stopped", True), ("SOMETHING_NEW", "unknown", False),
])
async def test_jasper_every_sim_status(status: str, network: str, held: bool) -> None:
    client, _ = jasper_client(get=httpx.Response(200, json={
        "iccid": ICCID, "status": status, "ratePlan": "RP", "dateActivated": "2026-01-01"}))
    reading = await client.status(CARD)
    assert (reading.network, reading.held) == (network, held)


async def test_jasper_202_is_confirmed_by_reading_the_device() -> None:
    client, _ = jasper_client(get=httpx.Response(200, json={"iccid": ICCID,
                                                            "status": "DEACTIVATED"}))
    assert (await client.confirm(CARD, "stopped", None)).result is Result.CHANGED
    assert (await client.confirm(CARD, "active", None)).result is Result.SUBMITTED
    client, _ = jasper_client(get=httpx.Response(200, json={"iccid": ICCID, "status": "RETIRED"}))
    assert (await client.confirm(CARD, "active", None)).result is Result.HELD


async def test_jasper_cycle_to_date_bytes() -> None:
    client, _ = jasper_client(usage=httpx.Response(200, json={
        "iccid": ICCID, "ctdDataUsage": 123456789, "ctdSMSUsage": 3, "ctdVoiceUsage": 0,
        "ctdSessionCount": 2, "overageLimitReached": False,
        "overageLimitOverride": "DEFAULT"}))
    assert await client.usage_bytes(CARD) == 123456789
    client, _ = jasper_client(usage=httpx.Response(200, json={"ctdDataUsage": "12"}))
    with pytest.raises(OperatorError):
        await client.usage_bytes(CARD)


# --- China Telecom -------------------------------------------------------------------------

KEY = "yak5485Yc"
ACCESS = "1410028214051"  # an access number as in [S21]
CT_CARD = CardRef(ICCID, ACCESS)


def xml(body: str) -> httpx.Response:
    return httpx.Response(200, content=body.encode(),
                          headers={"content-type": "text/xml; charset=utf-8"})


def text(body: str) -> httpx.Response:
    return httpx.Response(200, content=body.encode(),
                          headers={"content-type": "text/plain; charset=utf-8"})


def order_xml(result: str, message: str) -> httpx.Response:  # [S18]
    return xml(f'<?xml version="1.0" encoding="UTF-8"?><businessServiceResponse><RspType>0'
               f"</RspType><result>{result}</result><resultMsg>{message}</resultMsg>"
               "<GROUP_TRANSACTIONID>1000000252202611300000000001</GROUP_TRANSACTIONID>"
               "</businessServiceResponse>")


def traffic_xml(total: str) -> httpx.Response:  # [S21], wrapped in <root> as served
    return xml('<root><web:NEW_DATA_TICKET_QRsp xmlns:web="http://www.example.org/webservice">'
               "<CHARGE_CNT_CH>0元</CHARGE_CNT_CH><DURATION_CNT_CH></DURATION_CNT_CH>"
               f"<IRESULT>0</IRESULT><TOTALCOUNT></TOTALCOUNT><TOTAL_BYTES_CNT>{total}"
               f"</TOTAL_BYTES_CNT><number>{ACCESS}</number></web:NEW_DATA_TICKET_QRsp></root>")


def main_status(code: str) -> httpx.Response:  # [S18, S22]
    return httpx.Response(200, json={
        "resultCode": "0", "resultMsg": "处理成功！", "servCreateDate": "2025-01-01 00:00:00",
        "productInfo": [{"productMainStatusCd": code, "productMainStatusName": "x"}]})


def ctcc(routes: dict[str, Any]) -> tuple[CtccClient, Operator]:
    operator = Operator(routes)
    return CtccClient(http(operator), BASE, "user32", "secret-pw", KEY), operator


async def test_ctcc_stop_is_an_order_signed_with_des_and_acctcd_sent_empty() -> None:
    client, operator = ctcc({"disabledNumber": order_xml("0", "成功")})
    [result] = await client.set_status([CT_CARD], "stopped")
    assert result.result is Result.SUBMITTED, "completed later (竣工) [S23]"
    sent = operator.params("disabledNumber")[0]
    assert (sent["access_number"], sent["orderTypeId"], sent["acctCd"]) == (ACCESS, "19", "")
    assert sent["passWord"] == password_field("secret-pw", KEY) != "secret-pw"
    assert str_dec(sent["passWord"], *split_key(KEY)) == "secret-pw"
    assert sent["sign"] == sign_field([ACCESS, "user32", "secret-pw", "disabledNumber", "",
                                       "19"], KEY)


@pytest.mark.parametrize(("answer", "result"), [
    (text("已存在相关停机记录，无需再次办理停机"), Result.ALREADY),  # [S18]
    (order_xml("-9", "不能重复订购"), Result.ALREADY),  # [S20]: -9 is a repeat, not a rate
    (order_xml("-5", "操作过于频繁，请稍后再试"), Result.COOLDOWN),
    (order_xml("-6", "运营商管理停机，不允许复机（欠费停机）"), Result.HELD),
    (order_xml("-1", "系统繁忙"), Result.TRANSIENT),
    (order_xml("100008", "号码状态不正确"), Result.REJECTED),
    (text("some other failure"), Result.REJECTED),
    (xml('<!DOCTYPE x [<!ENTITY a "aaaa">]><r><result>0</result></r>'), Result.TRANSIENT),
])
async def test_ctcc_change_answers_in_every_format(answer: httpx.Response,
                                                  result: Result) -> None:
    client, _ = ctcc({"disabledNumber": answer})
    assert (await client.set_status([CT_CARD], "active"))[0].result is result


async def test_ctcc_a_card_without_access_number_goes_by_iccid() -> None:
    client, operator = ctcc({"queryCardMainStatus": main_status("4")})
    assert (await client.status(CardRef(ICCID))).network == "active"
    sent = operator.params("queryCardMainStatus")[0]
    assert sent["iccid"] == ICCID and "access_number" not in sent


@pytest.mark.parametrize(("code", "network", "held"), [
    ("1", "stopped", False), ("2", "active", False), ("3", "stopped", False),
    ("4", "active", False), ("5", "stopped", False), ("6", "stopped", True),
    ("7", "stopped", True), ("8", "unknown", False),
])
async def test_ctcc_main_status_is_nested_in_product_info(code: str, network: str,
                                                          held: bool) -> None:
    client, _ = ctcc({"queryCardMainStatus": main_status(code)})
    reading = await client.status(CT_CARD)
    assert (reading.network, reading.held) == (network, held)


async def test_ctcc_main_status_without_product_info_is_an_error() -> None:
    client, _ = ctcc({"queryCardMainStatus": httpx.Response(200, json={
        "resultCode": "0", "productMainStatusCd": "1"})})  # the old, wrong shape
    with pytest.raises(OperatorError):
        await client.status(CT_CARD)


async def test_ctcc_traffic_is_xml_megabytes_and_the_close_by_date() -> None:
    client, operator = ctcc({"queryTraffic": traffic_xml("12.34MB"),
                             "queryTrafficByDate": traffic_xml("0.01MB")})
    assert await client.usage_bytes(CT_CARD) == 12939428  # 12.34 × 1048576, rounded
    totals = await client.cycle_bytes([CT_CARD], date(2026, 11, 1), date(2026, 11, 30))
    assert totals == {ICCID: 10486}
    sent = operator.params("queryTrafficByDate")[0]
    assert (sent["startDate"], sent["endDate"]) == ("20261101", "20261130")
    assert sent["sign"] == sign_field([ACCESS, "user32", "secret-pw", "queryTrafficByDate",
                                       "20261101", "20261130"], KEY)


async def test_ctcc_traffic_without_the_root_wrapper_reads_the_same() -> None:
    client, _ = ctcc({"queryTraffic": xml(
        "<NEW_DATA_TICKET_QRsp><IRESULT>0</IRESULT><TOTAL_BYTES_CNT>0.50MB</TOTAL_BYTES_CNT>"
        "</NEW_DATA_TICKET_QRsp>")})
    assert await client.usage_bytes(CT_CARD) == 524288


async def test_ctcc_a_failed_query_says_why() -> None:
    client, _ = ctcc({"queryTraffic": xml(
        "<NEW_DATA_TICKET_QRsp><IRESULT>-2</IRESULT></NEW_DATA_TICKET_QRsp>")})
    with pytest.raises(OperatorError):
        await client.usage_bytes(CT_CARD)
