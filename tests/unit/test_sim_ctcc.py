"""The simulated China Telecom CMP: the account's DES `passWord` and `sign`, and the exact
answers of each method (XML, plain text, JSON) with their media types."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from core.ctcc_des import password_field, sign_field
from tests.support.simulator import CTCC_USER, Sim, beijing, ctcc, ctcc_params, xml_fields

CARD = "8986031234567890123"
NUMBER = "1064912345678"

pytestmark = pytest.mark.req("OPS-SIM")

XML, TEXT = "text/xml; charset=utf-8", "text/plain; charset=utf-8"
TRANSACTION = r"1000000252\d{18}"
REFUSED = {"resultCode": "-2", "resultMsg": "用户名、密码或签名错误"}


async def raw(sim: Sim, params: dict[str, str]) -> httpx.Response:
    response = await sim.client.get("/m2m_ec/query.do", params=params)
    assert response.status_code == 200
    return response


async def test_des_credentials_are_accepted(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    for method, params in (("queryCardMainStatus", {"access_number": NUMBER}),
                           ("queryTraffic", {"iccid": CARD, "needDtl": "0"}),
                           ("queryTrafficByDate", {"iccid": CARD, "startDate": "19700101",
                                                   "endDate": "19700101"}),
                           ("disabledNumber", {"access_number": NUMBER, "acctCd": "",
                                               "orderTypeId": "19"})):
        response = await ctcc(sim, method, **params)
        assert "-2" not in response.text, method
    assert (await sim.stats())["requests"]["ctcc"] == {"accepted": 4}


async def test_des_credentials_are_refused(sim: Sim) -> None:
    good = ctcc_params("queryTraffic", iccid=CARD, needDtl=0)
    refusals = [
        {**good, "user_id": ""},
        {k: v for k, v in good.items() if k != "passWord"},
        {**good, "passWord": "simulator"},  # the plain password
        ctcc_params("queryTraffic", password="wrong", iccid=CARD, needDtl=0),
        ctcc_params("queryTraffic", key="cardpulsX", iccid=CARD, needDtl=0),
        {**good, "sign": good["sign"][:-1] + ("0" if good["sign"][-1] != "0" else "1")},
        {**good, "iccid": "8986031234567890124"},  # the card changed after signing
        {**good, "needDtl": "1"},  # a signed extra changed after signing
        {**good, "method": "queryCardMainStatus"},
    ]
    for params in refusals:
        response = await raw(sim, params)
        assert (response.headers["content-type"], response.json()) == (
            "application/json", REFUSED), params
    sign_without_extras = sign_field([CARD, CTCC_USER, "simulator", "queryTraffic"],
                                     "cardpulse")
    assert (await raw(sim, {**good, "sign": sign_without_extras})).json() == REFUSED
    assert (await sim.stats())["requests"]["ctcc"] == {"unauthorized": len(refusals) + 1}


async def test_the_account_follows_the_knobs(sim: Sim) -> None:
    await sim.knobs(ctcc_password="s3cret", ctcc_key="abcdefghi")
    assert (await raw(sim, ctcc_params("queryTraffic", iccid=CARD))).json() == REFUSED
    params = ctcc_params("queryTraffic", password="s3cret", key="abcdefghi", iccid=CARD)
    assert params["passWord"] == password_field("s3cret", "abcdefghi")
    assert xml_fields(await raw(sim, params))["IRESULT"] == "0"


async def test_disabled_number_answers_xml_orders_and_plain_text_repeats(sim: Sim) -> None:
    sim.clock.set(beijing(2025, 3, 14, 10))
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    stop = await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="", orderTypeId=19)
    assert stop.headers["content-type"] == XML
    assert re.fullmatch(
        '<\\?xml version="1.0" encoding="UTF-8"\\?><businessServiceResponse>'
        "<RspType>0</RspType><result>0</result><resultMsg>成功接收消息</resultMsg>"
        f"<GROUP_TRANSACTIONID>{TRANSACTION}</GROUP_TRANSACTIONID>"
        "</businessServiceResponse>", stop.text), stop.text
    assert xml_fields(stop)["GROUP_TRANSACTIONID"][10:18] == "20250314"
    repeat = await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="", orderTypeId=19)
    assert (repeat.headers["content-type"], repeat.text) == (
        TEXT, "已存在相关停机记录，无需再次办理停机")
    too_soon = await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="",
                          orderTypeId=20)
    assert too_soon.headers["content-type"] == XML
    fields = xml_fields(too_soon)
    assert (fields["RspType"], fields["result"], fields["resultMsg"]) == (
        "0", "-5", "操作过于频繁，请稍后再试")
    sim.clock.advance(300)
    await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="", orderTypeId=20)
    again = await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="", orderTypeId=20)
    assert (again.headers["content-type"], again.text) == (TEXT, "号码已是在用状态，无需办理复机")


async def test_disabled_number_wants_acct_cd_and_a_known_number(sim: Sim) -> None:
    no_acct = xml_fields(await ctcc(sim, "disabledNumber", iccid=CARD, orderTypeId=19))
    assert (no_acct["result"], no_acct["resultMsg"]) == ("-3", "acctCd 必传")
    unknown = xml_fields(await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="",
                                    orderTypeId=19))
    assert (unknown["result"], unknown["resultMsg"]) == ("-3", "未找到接入号码")
    assert (await sim.card(CARD))["status"] == "active"


async def test_query_traffic_xml_is_wrapped_as_the_real_cmp_answers(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    await sim.usage(CARD, 12 * 1024 * 1024 + 360_000)  # 12.3433 MB
    answer = await ctcc(sim, "queryTraffic", access_number=NUMBER, needDtl=0)
    assert answer.headers["content-type"] == XML
    assert re.fullmatch(
        '<root><web:NEW_DATA_TICKET_QRsp xmlns:web="http://www.example.org/webservice">'
        "<CHARGE_CNT_CH>0元</CHARGE_CNT_CH><DURATION_CNT_CH></DURATION_CNT_CH>"
        "<IRESULT>0</IRESULT><TOTALCOUNT></TOTALCOUNT><TOTALPAGE></TOTALPAGE>"
        "<TOTAL_BYTES_CNT>12.34MB</TOTAL_BYTES_CNT>"
        f"<GROUP_TRANSACTIONID>{TRANSACTION}</GROUP_TRANSACTIONID>"
        f"<number>{NUMBER}</number></web:NEW_DATA_TICKET_QRsp></root>", answer.text), answer.text
    by_iccid = xml_fields(await ctcc(sim, "queryTraffic", iccid=CARD))
    assert (by_iccid["TOTAL_BYTES_CNT"], by_iccid["number"]) == ("12.34MB", NUMBER)


async def test_main_status_json(sim: Sim) -> None:
    sim.clock.set(beijing(2025, 3, 14, 10))
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    answer = await ctcc(sim, "queryCardMainStatus", access_number=NUMBER)
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    assert re.fullmatch(TRANSACTION, body.pop("GROUP_TRANSACTIONID"))
    assert body == {"resultCode": "0", "resultMsg": "处理成功！", "number": NUMBER,
                    "servCreateDate": "20250314", "productInfo": [
                        {"productMainStatusCd": "4", "productMainStatusName": "在用"}]}


@pytest.mark.parametrize(("hold", "code", "name"), [
    ({"stop_reason": "欠费停机"}, "5", "停机"),
    ({"stop_reason": "管理停机"}, "6", "运营商管理状态"),
    ({"frozen": True}, "6", "运营商管理状态"),
])
async def test_main_status_of_operator_stops(sim: Sim, hold: dict[str, Any], code: str,
                                             name: str) -> None:
    await sim.edit_card(CARD, status="stopped", **hold)
    body = (await ctcc(sim, "queryCardMainStatus", iccid=CARD)).json()
    assert body["productInfo"] == [{"productMainStatusCd": code, "productMainStatusName": name}]
