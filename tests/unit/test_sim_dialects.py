"""The operator simulator over (in-process) HTTP: each dialect's answers per connectors/DIALECTS.md.

A fake clock drives cooldowns, token expiry, orders, batch jobs, rate limits and the usage lag,
so no test sleeps (except the in-flight test, which needs a few ms of real latency). Time-,
order- and CTCC-specific behaviour has its own modules (`test_sim_time`, `test_sim_orders`,
`test_sim_ctcc`, `test_sim_cards`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from simulators.beijing import ONE_DAY
from simulators.knobs import SimKnobs, knobs_from_env
from tests.support.simulator import (
    APPID,
    Sim,
    ctcc,
    ctcc_params,
    jasper,
    onelink,
    onelink_call,
    onelink_token,
    transid,
    xml_fields,
)

CARD = "8986001234567890123"
OTHER = "8986001234567890124"
NUMBER, OTHER_NUMBER = "14812345678", "14812345679"


def card_view(iccid: str = CARD, **fields: Any) -> dict[str, Any]:
    """`GET /_sim/cards/{iccid}` of an untouched card, with `fields` changed."""
    return {"iccid": iccid, "msisdn": None, "platform": "ct", "status": "active",
            "status_changes": 0, "stop_reason": None, "frozen": False, "held": False,
            "stage": None, **fields}


# --- OneLink ---------------------------------------------------------------------------------

async def test_onelink_token_and_its_errors(sim: Sim) -> None:
    answer = await onelink(sim, "get/token", appid=APPID, password="pw", transid=transid())
    assert answer["status"] == "0" and answer["result"][0]["ttl"] == "3600"  # a string
    assert answer["result"][0]["token"]
    bad_login = await onelink(sim, "get/token", appid=APPID, transid=transid())
    assert (bad_login["status"], bad_login["result"]) == ("12001", [])
    bad = [await onelink(sim, "get/token", appid=APPID, password="pw", transid=t)
           for t in ("other20250101120000" + "00000001", APPID + "2025", None)]
    assert [b["status"] for b in bad] == ["12009"] * 3


async def test_onelink_token_expires_and_must_match_the_transid(sim: Sim) -> None:
    await sim.knobs(token_ttl_s=60)
    token = await onelink_token(sim)
    ok = await onelink_call(sim, "query/sim-status", token, iccid=CARD)
    assert ok["status"] == "0"
    wrong_app = await onelink(sim, "query/sim-status", token=token, transid=transid("app2"),
                              iccid=CARD)
    assert wrong_app["status"] == "12009"
    assert (await onelink_call(sim, "query/sim-status", "nope", iccid=CARD))["status"] == "12021"
    assert (await onelink(sim, "query/sim-status", transid=transid(), iccid=CARD))["status"] \
        == "12021"
    sim.clock.advance(60)
    assert (await onelink_call(sim, "query/sim-status", token, iccid=CARD))["status"] == "12021"
    fresh = await onelink_token(sim)
    assert (await onelink_call(sim, "query/sim-status", fresh, iccid=CARD))["status"] == "0"


async def test_onelink_change_repeat_cooldown_and_queries(sim: Sim) -> None:
    token = await onelink_token(sim)
    stop = await onelink_call(sim, "change/sim-status", token, iccid=CARD, operType=0)
    assert stop["status"] == "0"
    assert stop["result"] == [{"orderNum": stop["result"][0]["orderNum"], "msisdn": ""}]
    repeat = await onelink_call(sim, "change/sim-status", token, iccid=CARD, operType=0)
    assert (repeat["status"], repeat["result"]) == ("12107", [])
    status = (await onelink_call(sim, "query/sim-status", token, iccid=CARD))["result"]
    assert [s["cardStatus"] for s in status] == ["4"]
    sim.clock.advance(179)
    too_soon = await onelink_call(sim, "change/sim-status", token, iccid=CARD, operType=1)
    assert (too_soon["status"], too_soon["result"]) == ("12108", [])
    sim.clock.advance(1)
    assert (await onelink_call(sim, "change/sim-status", token, iccid=CARD, operType=1))[
        "status"] == "0"
    assert await sim.card(CARD) == card_view(status_changes=2)
    assert (await sim.stats())["requests"]["onelink"] == {
        "accepted": 4, "repeat": 1, "cooldown": 1}


async def test_onelink_addresses_a_card_by_msisdn_or_iccid(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    token = await onelink_token(sim)
    stop = await onelink_call(sim, "change/sim-status", token, msisdn=NUMBER, operType=0)
    assert stop["result"][0]["msisdn"] == NUMBER
    by_iccid = await onelink_call(sim, "query/sim-status", token, iccid=CARD)
    assert by_iccid["result"][0]["cardStatus"] == "4"
    unknown = await onelink_call(sim, "query/sim-status", token, msisdn=OTHER_NUMBER)
    assert (unknown["status"], unknown["result"]) == ("12404", [])


async def test_onelink_bad_parameters(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    token = await onelink_token(sim)
    for params in ({"iccid": "8986-bad", "operType": 0}, {"iccid": CARD, "operType": 3},
                   {"operType": 0}, {"iccid": CARD, "msisdn": NUMBER, "operType": 0},
                   {"msisdn": "1481234", "operType": 0}):
        answer = await onelink_call(sim, "change/sim-status", token, **params)
        assert (answer["status"], answer["result"]) == ("12002", []), params
    assert (await onelink_call(sim, "query/sim-data-usage", token, iccid="123"))[
        "status"] == "12002"
    assert (await sim.stats())["requests"]["onelink"]["bad_request"] == 6


async def test_onelink_usage_is_month_to_date_kb_as_a_string(sim: Sim) -> None:
    token = await onelink_token(sim)
    assert (await onelink_call(sim, "query/sim-data-usage", token, iccid=CARD))["result"] == [
        {"dataAmount": "0.00", "apnUseAmountList": [{"apnName": "CMIOT",
                                                      "apnUseAmount": "0.00"}]}]
    await sim.usage(CARD, 3000)
    await sim.usage(CARD, 2000)
    answer = await onelink_call(sim, "query/sim-data-usage", token, iccid=CARD)
    usage = answer["result"][0]
    assert usage["dataAmount"] == "4.88"  # 5000 bytes = 4.8828 KB, rounded down
    assert usage["apnUseAmountList"] == [{"apnName": "CMIOT", "apnUseAmount": "4.88"}]


async def test_onelink_batch_job_lifecycle(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER}, {"iccid": OTHER, "msisdn": OTHER_NUMBER})
    token = await onelink_token(sim)
    await sim.knobs(batch_delay_ms=1000)
    await onelink_call(sim, "change/sim-status", token, iccid=OTHER, operType=0)
    sim.clock.advance(180)  # OTHER is stopped and out of its cooldown
    submitted = await onelink_call(sim, "change/sim-status/batch", token,
                                   msisdns=f"{NUMBER}_{OTHER_NUMBER}", operType=9, reason="01")
    assert submitted["status"] == "0"
    job_id = submitted["result"][0]["jobId"]
    assert (await onelink_call(sim, "query/sim-batch-result", token, jobId=job_id))[
        "result"] == [{"jobId": job_id, "jobStatus": "0"}]
    sim.clock.advance(0.5)  # pending for half of batch_delay_ms, then processing
    processing = await onelink_call(sim, "query/sim-batch-result", token, jobId=job_id)
    assert processing["result"] == [{"jobId": job_id, "jobStatus": "1"}]
    sim.clock.advance(0.5)
    done = (await onelink_call(sim, "query/sim-batch-result", token, jobId=job_id))["result"][0]
    assert done["jobStatus"] == "3"  # not every card answered 0: OTHER was already stopped
    assert done["resultList"] == [
        {"resultType": "1", "resultId": NUMBER, "status": "0", "message": "正确"},
        {"resultType": "1", "resultId": OTHER_NUMBER, "status": "12107",
         "message": "repeat operation: card already in that state"}]
    assert (await sim.card(CARD))["status"] == "stopped"
    unknown = await onelink_call(sim, "query/sim-batch-result", token, jobId="nope")
    assert (unknown["status"], unknown["result"]) == ("12404", [])


async def test_onelink_batch_applies_changes_when_due(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER}, {"iccid": OTHER, "msisdn": OTHER_NUMBER})
    token = await onelink_token(sim)
    await sim.knobs(batch_delay_ms=1000)
    job = await onelink_call(sim, "change/sim-status/batch", token,
                             msisdns=f"{NUMBER}_{OTHER_NUMBER}", operType=9, reason="01")
    assert (await sim.card(CARD))["status"] == "active"
    sim.clock.advance(1)
    assert (await sim.card(CARD))["status"] == "stopped"  # no result query needed
    assert (await sim.card(OTHER))["status_changes"] == 1
    result = await onelink_call(sim, "query/sim-batch-result", token,
                                jobId=job["result"][0]["jobId"])
    assert result["result"][0]["jobStatus"] == "2"  # every card 0


async def test_onelink_batch_limits_and_parameters(sim: Sim) -> None:
    cards = [f"89860012345678{n:05d}" for n in range(101)]
    numbers = [f"148000{n:05d}" for n in range(101)]
    await sim.register(*({"iccid": c, "msisdn": m} for c, m in zip(cards, numbers, strict=True)))
    token = await onelink_token(sim)

    async def batch(**params: Any) -> dict[str, Any]:
        return await onelink_call(sim, "change/sim-status/batch", token, **params)

    too_many = await batch(msisdns="_".join(numbers), operType=9, reason="01")
    assert (too_many["status"], too_many["result"]) == ("12010", [])
    assert (await batch(msisdns="_".join(numbers[:100]), operType=9, reason="01"))[
        "status"] == "0"
    for params in ({"msisdns": f"{numbers[0]}_bad", "operType": 11, "reason": "01"},
                   {"msisdns": numbers[0], "operType": 0, "reason": "01"},
                   {"msisdns": numbers[0], "operType": 1, "reason": "01"},
                   {"msisdns": numbers[0], "operType": 11},
                   {"msisdns": numbers[0], "operType": 11, "reason": "02"},
                   {"iccids": cards[0], "operType": 11, "reason": "01"}):
        assert (await batch(**params))["status"] == "12002", params
    wrong_type = await batch(msisdns=numbers[0], operType=1, reason="01")
    assert wrong_type["message"] == "operType must be 9 (stop) or 11 (resume) for batches"
    unknown = await batch(msisdns=f"{numbers[0]}_14899999999", operType=11, reason="01")
    assert unknown["status"] == "12404"


async def test_onelink_injected_faults(sim: Sim) -> None:
    token = await onelink_token(sim)
    await sim.knobs(error_rate=1)
    busy = await onelink_call(sim, "change/sim-status", token, iccid=CARD, operType=0)
    assert (busy["status"], busy["result"]) == ("12500", [])
    await sim.knobs(error_rate=0, limit_rate=1)
    assert (await onelink_call(sim, "query/sim-status", token, iccid=CARD))["status"] == "12029"
    assert (await sim.card(CARD))["status_changes"] == 0
    assert (await sim.stats())["requests"]["onelink"] == {
        "accepted": 1, "error": 1, "rate_limited": 1}


async def test_onelink_stop_reason_and_management_status(sim: Sim) -> None:
    token = await onelink_token(sim)

    async def query(call: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = (await onelink_call(sim, call, token, iccid=CARD))[
            "result"]
        return result

    assert await query("query/sim-stop-reason") == [{"platformType": "CT", "stopReason": ""}]
    assert await query("query/sim-manage-stop-restart-status") == [
        {"manageStopRestartStatus": "0", "reason": ""}]
    await onelink_call(sim, "change/sim-status", token, iccid=CARD, operType=0)
    assert await query("query/sim-stop-reason") == [
        {"platformType": "CT", "stopReason": "主动停机"}]
    await sim.edit_card(CARD, platform="pb", stop_reason="欠费停机", frozen=True)
    assert await query("query/sim-stop-reason") == [
        {"platformType": "PB", "stopReason": "欠费停机"}]
    assert await query("query/sim-manage-stop-restart-status") == [
        {"manageStopRestartStatus": "1", "reason": "管理停机冻结"}]
    assert [s["cardStatus"] for s in await query("query/sim-status")] == ["02"]


async def test_onelink_status_codes_by_platform(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER, "platform": "pb"},
                       {"iccid": OTHER, "msisdn": OTHER_NUMBER})
    token = await onelink_token(sim)

    async def codes() -> list[str]:
        return [(await onelink_call(sim, "query/sim-status", token, msisdn=number))[
            "result"][0]["cardStatus"] for number in (NUMBER, OTHER_NUMBER)]

    assert await codes() == ["00", "2"]
    await sim.edit_card(CARD, status="stopped")
    await sim.edit_card(OTHER, status="stopped")
    assert await codes() == ["02", "4"]


# --- Jasper ----------------------------------------------------------------------------------

async def test_jasper_change_repeat_cooldown_and_queries(sim: Sim) -> None:
    stop = await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})
    assert (stop.status_code, stop.json()) == (200, {"iccid": CARD})
    repeat = await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})
    assert (repeat.status_code, repeat.json()) == (200, {"iccid": CARD})
    sim.clock.advance(1)
    too_soon = await jasper(sim, "PUT", CARD, {"status": "ACTIVATED"})
    assert too_soon.status_code == 400 and too_soon.json()["errorCode"] == "10000024"
    device = (await jasper(sim, "GET", CARD)).json()
    assert (device["iccid"], device["status"], device["ratePlan"]) == (
        CARD, "DEACTIVATED", "CARDPULSE-SIM")
    sim.clock.advance(180)
    assert (await jasper(sim, "PUT", CARD, {"status": "ACTIVATED"})).status_code == 200
    assert (await jasper(sim, "GET", CARD)).json()["status"] == "ACTIVATED"
    assert (await sim.stats())["requests"]["jasper"] == {
        "accepted": 4, "cooldown": 1, "repeat": 1}


async def test_jasper_device_dates_are_iso(sim: Sim) -> None:
    sim.clock.set(1_735_700_000.0)  # 2025-01-01T02:53:20Z
    await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})
    sim.clock.advance(60)
    device = (await jasper(sim, "GET", CARD)).json()
    assert device == {"iccid": CARD, "status": "DEACTIVATED", "ratePlan": "CARDPULSE-SIM",
                      "dateActivated": "2025-01-01T02:53:20.000+00:00",
                      "dateUpdated": "2025-01-01T02:53:20.000+00:00"}


async def test_jasper_bad_requests_and_auth(sim: Sim) -> None:
    for body in ({"status": "SUSPENDED"}, {}, [1], {"status": ["ACTIVATED"]}):
        bad = await jasper(sim, "PUT", CARD, body)
        assert (bad.status_code, bad.json()["errorCode"]) == (400, "10000003")
    assert (await jasper(sim, "GET", "8986-nope")).json()["errorCode"] == "10000003"
    unauthorized = await jasper(sim, "GET", CARD, auth=None)
    assert (unauthorized.status_code, unauthorized.json()) == (
        401, {"errorCode": "10000001", "errorMessage": "Invalid credentials"})
    assert (await jasper(sim, "GET", CARD, auth=("acct", ""))).status_code == 401
    garbled = await sim.client.get(f"/rws/api/v1/devices/{CARD}",
                                   headers={"Authorization": "Basic !!!"})
    assert garbled.status_code == 401
    assert (await sim.stats())["requests"]["jasper"] == {"bad_request": 5, "unauthorized": 3}


async def test_jasper_usage_in_bytes_cycle_to_date(sim: Sim) -> None:
    await sim.usage(CARD, 1234)
    usage = await jasper(sim, "GET", f"{CARD}/ctdUsages")
    assert usage.json() == {"iccid": CARD, "ctdDataUsage": 1234, "ctdSMSUsage": 0,
                            "ctdVoiceUsage": 0, "ctdSessionCount": 1,
                            "overageLimitReached": False, "overageLimitOverride": "DEFAULT"}


async def test_jasper_rate_limit_is_the_accounts_shared_by_every_user(sim: Sim) -> None:
    for _ in range(5):
        assert (await jasper(sim, "GET", CARD)).status_code == 200
    limited = await jasper(sim, "GET", CARD)
    assert limited.status_code == 429
    assert limited.json() == {"errorCode": "40000029", "errorMessage": "Rate limit exceeded"}
    assert (await jasper(sim, "GET", CARD, auth=("other", "key"))).status_code == 429
    sim.clock.advance(0.2)  # one call's worth at 5 per second
    assert (await jasper(sim, "GET", CARD, auth=("other", "key"))).status_code == 200
    assert (await jasper(sim, "GET", CARD)).status_code == 429
    assert (await sim.stats())["requests"]["jasper"] == {"accepted": 6, "rate_limited": 3}


async def test_jasper_one_call_in_flight_per_account(sim: Sim) -> None:
    await sim.knobs(latency_ms=30)
    answers = await asyncio.gather(jasper(sim, "GET", CARD),
                                   jasper(sim, "GET", CARD, auth=("other", "key")))
    assert sorted(a.status_code for a in answers) == [200, 429]
    sim.clock.advance(1)
    assert (await jasper(sim, "GET", CARD)).status_code == 200  # the slot was released


async def test_jasper_injected_faults(sim: Sim) -> None:
    await sim.knobs(error_rate=1)
    failed = await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})
    assert (failed.status_code, failed.json()["errorCode"]) == (500, "10000099")
    await sim.knobs(error_rate=0, limit_rate=1)
    assert (await jasper(sim, "GET", CARD)).json()["errorCode"] == "40000029"
    assert (await sim.card(CARD))["status"] == "active"


# --- China Telecom ---------------------------------------------------------------------------

async def test_ctcc_change_repeat_cooldown_and_queries(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    stop = await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="", orderTypeId=19)
    assert xml_fields(stop)["result"] == "0"
    repeat = await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="", orderTypeId=19)
    assert repeat.text == "已存在相关停机记录，无需再次办理停机"
    main = (await ctcc(sim, "queryCardMainStatus", access_number=NUMBER)).json()
    assert (main["resultCode"], main["productInfo"]) == (
        "0", [{"productMainStatusCd": "5", "productMainStatusName": "停机"}])
    too_soon = await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="",
                          orderTypeId=20)
    assert xml_fields(too_soon)["result"] == "-5"
    sim.clock.advance(180)
    resumed = await ctcc(sim, "disabledNumber", iccid=CARD, acctCd="", orderTypeId=20)
    assert xml_fields(resumed)["result"] == "0"
    main = (await ctcc(sim, "queryCardMainStatus", iccid=CARD)).json()
    assert main["productInfo"][0]["productMainStatusCd"] == "4"
    again = await ctcc(sim, "disabledNumber", iccid=CARD, acctCd="", orderTypeId=20)
    assert again.text == "号码已是在用状态，无需办理复机"
    assert (await sim.stats())["requests"]["ctcc"] == {
        "accepted": 4, "cooldown": 1, "repeat": 2}


async def test_ctcc_traffic_in_mb(sim: Sim) -> None:
    await sim.usage(CARD, 10 * 1024 * 1024 + 99 * 1024)  # 10.0967 MB
    traffic = xml_fields(await ctcc(sim, "queryTraffic", iccid=CARD, needDtl=0))
    assert (traffic["IRESULT"], traffic["TOTAL_BYTES_CNT"], traffic["number"]) == (
        "0", "10.09MB", "")


async def test_ctcc_errors(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER})

    async def code(method: str, **params: Any) -> str:
        answer: str = (await ctcc(sim, method, **params)).json()["resultCode"]
        return answer

    assert await code("noSuchMethod", access_number=NUMBER) == "-3"
    assert await code("queryTraffic", access_number="89") == "-3"
    assert await code("queryTraffic", access_number=OTHER_NUMBER) == "-3"  # unknown number
    assert await code("queryTraffic", access_number=NUMBER, iccid=CARD) == "-3"
    assert await code("queryTraffic", iccid=CARD, needDtl=1) == "-3"
    wrong_order = await ctcc(sim, "disabledNumber", iccid=CARD, acctCd="", orderTypeId=7)
    assert xml_fields(wrong_order)["result"] == "-3"
    await sim.knobs(limit_rate=1)
    assert await code("queryTraffic", iccid=CARD) == "-1"  # no known rate-limit code
    await sim.knobs(limit_rate=0, error_rate=1)
    assert await code("queryTraffic", iccid=CARD) == "-1"
    busy = await ctcc(sim, "disabledNumber", iccid=CARD, acctCd="", orderTypeId=19)
    assert (xml_fields(busy)["result"], xml_fields(busy)["resultMsg"]) == ("-1", "系统繁忙")
    assert (await sim.stats())["requests"]["ctcc"] == {
        "bad_request": 5, "error": 2, "rate_limited": 1, "unknown": 1}


# --- Simulator extras ------------------------------------------------------------------------

async def test_t1_lag_hides_todays_usage_until_tomorrow(sim: Sim) -> None:
    await sim.knobs(usage_lag="t-1")
    await sim.usage(CARD, 4 * 1024 * 1024)

    async def ctcc_mb() -> str:
        return xml_fields(await ctcc(sim, "queryTraffic", iccid=CARD))["TOTAL_BYTES_CNT"]

    assert await ctcc_mb() == "0.00MB"
    assert (await jasper(sim, "GET", f"{CARD}/ctdUsages")).json()["ctdDataUsage"] == 0
    sim.clock.advance(ONE_DAY.total_seconds())
    assert await ctcc_mb() == "4.00MB"
    await sim.knobs(usage_lag="none")
    await sim.usage(CARD, 1024 * 1024)
    assert await ctcc_mb() == "5.00MB"


async def test_sim_card_stats_and_usage_shapes(sim: Sim) -> None:
    assert await sim.card(CARD) == card_view()
    assert await sim.stats() == {"requests": {}, "cards": 0}  # looking creates no card
    assert (await sim.client.get("/_sim/cards/not-an-iccid")).status_code == 422
    bad = {"records": [{"iccid": CARD, "bytes": 1}, {"iccid": "89x", "bytes": 1}]}
    assert (await sim.client.post("/_sim/usage", json=bad)).status_code == 422
    negative = {"records": [{"iccid": CARD, "bytes": -1}]}
    assert (await sim.client.post("/_sim/usage", json=negative)).status_code == 422
    assert await sim.stats() == {"requests": {}, "cards": 0}  # nothing was added
    await sim.usage(CARD, 1)
    assert (await sim.stats())["cards"] == 1


async def test_put_knobs_returns_all_and_takes_effect(sim: Sim) -> None:
    knobs = await sim.knobs(cooldown_s=0, latency_ms=0)
    assert knobs == {**SimKnobs().model_dump(), "cooldown_s": 0}
    assert set(knobs) == {"latency_ms", "error_rate", "limit_rate", "cooldown_s", "rate_per_s",
                          "usage_lag", "batch_delay_ms", "token_ttl_s", "seed",
                          "completion_ms", "activation_ms", "jasper_cycle_day",
                          "time_offset_s",
                          "ctcc_password", "ctcc_key"}
    await ctcc(sim, "disabledNumber", iccid=CARD, acctCd="", orderTypeId=19)
    resumed = await ctcc(sim, "disabledNumber", iccid=CARD, acctCd="", orderTypeId=20)
    assert xml_fields(resumed)["result"] == "0"  # no cooldown any more
    for bad in ({"error_rate": 2}, {"usage_lag": "t-2"}, {"nope": 1}, {"rate_per_s": 0},
                {"jasper_cycle_day": 29}, {"jasper_cycle_day": 0}, {"ctcc_key": "short"},
                {"ctcc_password": ""}, {"completion_ms": -1}):
        response = await sim.client.put("/_sim/knobs", json=bad)
        assert response.status_code == 422, bad
    assert (await sim.client.get("/_sim/knobs")).json() == knobs


async def test_seed_makes_injected_faults_reproducible(sim: Sim) -> None:
    token = await onelink_token(sim)

    async def run() -> list[str]:
        return [(await onelink_call(sim, "query/sim-status", token, iccid=CARD))["status"]
                for _ in range(30)]

    await sim.knobs(error_rate=0.5, seed=42)
    first = await run()
    await sim.knobs(seed=42)
    assert await run() == first
    assert set(first) == {"0", "12500"}


def test_knobs_from_env_reads_every_variable() -> None:
    env = {"CARDPULSE_SIM_LATENCY_MS": "25", "CARDPULSE_SIM_ERROR_RATE": "0.1",
           "CARDPULSE_SIM_LIMIT_RATE": "0.2", "CARDPULSE_SIM_COOLDOWN_S": "3",
           "CARDPULSE_SIM_RATE_PER_S": "10", "CARDPULSE_SIM_USAGE_LAG": "t-1",
           "CARDPULSE_SIM_BATCH_DELAY_MS": "50", "CARDPULSE_SIM_TOKEN_TTL_S": "120",
           "CARDPULSE_SIM_SEED": "9", "CARDPULSE_SIM_PORT": "8100",
           "CARDPULSE_SIM_COMPLETION_MS": "1500", "CARDPULSE_SIM_JASPER_CYCLE_DAY": "1",
           "CARDPULSE_SIM_TIME_OFFSET_S": "-86400.5", "CARDPULSE_SIM_CTCC_PASSWORD": "pw",
           "CARDPULSE_SIM_CTCC_KEY": "abcdefghi"}
    assert knobs_from_env(env) == SimKnobs(
        latency_ms=25, error_rate=0.1, limit_rate=0.2, cooldown_s=3, rate_per_s=10,
        usage_lag="t-1", batch_delay_ms=50, token_ttl_s=120, seed=9, completion_ms=1500,
        jasper_cycle_day=1, time_offset_s=-86400.5, ctcc_password="pw", ctcc_key="abcdefghi")
    assert knobs_from_env({"CARDPULSE_SIM_SEED": " "}) == SimKnobs()


@pytest.mark.parametrize(("variable", "value"), [
    ("CARDPULSE_SIM_ERROR_RATE", "1.5"), ("CARDPULSE_SIM_LIMIT_RATE", "-0.1"),
    ("CARDPULSE_SIM_LATENCY_MS", "fast"), ("CARDPULSE_SIM_USAGE_LAG", "t-2"),
    ("CARDPULSE_SIM_SEED", "1.5"), ("CARDPULSE_SIM_RATE_PER_S", "0"),
    ("CARDPULSE_SIM_TOKEN_TTL_S", "nan"), ("CARDPULSE_SIM_COOLDOWN_S", "-1"),
    ("CARDPULSE_SIM_BATCH_DELAY_MS", "-5"), ("CARDPULSE_SIM_COMPLETION_MS", "-1"),
    ("CARDPULSE_SIM_JASPER_CYCLE_DAY", "31"), ("CARDPULSE_SIM_TIME_OFFSET_S", "inf"),
    ("CARDPULSE_SIM_CTCC_KEY", "0123456789"),
])
def test_knobs_from_env_names_the_bad_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        knobs_from_env({variable: value})


async def test_changes_are_logged_with_unix_time(sim: Sim) -> None:
    assert (await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})).status_code == 200
    await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})  # a repeat is no change
    sim.clock.advance(200)
    await jasper(sim, "PUT", CARD, {"status": "ACTIVATED"})
    changes = (await sim.client.get("/_sim/changes")).json()
    assert [(c["seq"], c["iccid"], c["status"]) for c in changes] == [
        (1, CARD, "stopped"), (2, CARD, "active")]
    # times on the simulator's clock, told as unix time: the last change happened "now"
    assert changes[1]["at"] == pytest.approx(time.time(), abs=2)
    assert changes[1]["at"] - changes[0]["at"] == pytest.approx(200)
    later = (await sim.client.get("/_sim/changes", params={"after": 1})).json()
    assert [c["seq"] for c in later] == [2]
    assert (await sim.client.get("/_sim/changes", params={"after": -1})).status_code == 422


async def test_time_offset_moves_the_calendar_not_the_change_log(sim: Sim) -> None:
    await sim.knobs(time_offset_s=10 * 86_400)
    token = await onelink_token(sim)
    await onelink_call(sim, "change/sim-status", token, iccid=CARD, operType=0)
    status = (await onelink_call(sim, "query/sim-status", token, iccid=CARD))["result"][0]
    assert status["lastChangeDate"] == "1970-01-11 08:16:40"  # the clock's 1000 s + 10 days
    changes = (await sim.client.get("/_sim/changes")).json()
    assert changes[0]["at"] == pytest.approx(time.time(), abs=2)  # still real unix time


async def test_ctcc_params_helper_signs_what_the_simulator_checks() -> None:
    params = ctcc_params("queryTraffic", iccid=CARD, needDtl=0)
    assert set(params) == {"method", "user_id", "passWord", "sign", "iccid", "needDtl"}
    assert params["passWord"] != SimKnobs().ctcc_password
