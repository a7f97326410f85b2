"""Status changes that take time or are refused, in every dialect: orders due `completion_ms`
after acceptance, OneLink batch jobs (whole-batch cooldown, results by MSISDN) and the
operator's holds that refuse our resume."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.simulator import (
    Sim,
    beijing,
    ctcc,
    jasper,
    onelink_call,
    onelink_token,
    xml_fields,
)

CARD = "8986001234567890123"
OTHER = "8986001234567890124"
THIRD = "8986001234567890125"
NUMBER, OTHER_NUMBER, THIRD_NUMBER = "14812345678", "14812345679", "14812345670"

pytestmark = pytest.mark.req("OPS-SIM")


async def register_three(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER}, {"iccid": OTHER, "msisdn": OTHER_NUMBER},
                       {"iccid": THIRD, "msisdn": THIRD_NUMBER})


async def test_onelink_order_lifecycle(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    await sim.knobs(completion_ms=2000)
    sim.clock.set(beijing(2025, 3, 14, 10, 0, 0))
    token = await onelink_token(sim)

    async def call(name: str, **params: Any) -> dict[str, Any]:
        return await onelink_call(sim, name, token, **params)

    accepted = await call("change/sim-status", msisdn=NUMBER, operType=0)
    assert accepted["status"] == "0"
    order = accepted["result"][0]["orderNum"]
    assert accepted["result"] == [{"orderNum": order, "msisdn": NUMBER}]
    assert (await call("query/order-info", orderNum=order))["result"] == [
        {"orderNum": order, "orderStatus": "inProgress", "msisdn": NUMBER}]
    pending = (await call("query/sim-status", msisdn=NUMBER))["result"][0]
    assert pending["cardStatus"] == "2"  # the old status until the order is done
    assert (await call("change/sim-status", msisdn=NUMBER, operType=0))["status"] == "12107"
    assert (await call("change/sim-status", msisdn=NUMBER, operType=1))["status"] == "12108"
    sim.clock.advance(2)
    assert (await call("query/order-info", orderNum=order))["result"][0][
        "orderStatus"] == "completed"
    assert (await call("query/sim-status", msisdn=NUMBER))["result"] == [
        {"cardStatus": "4", "lastChangeDate": "2025-03-14 10:00:02"}]  # when it took effect
    changes = (await sim.client.get("/_sim/changes")).json()
    assert changes[0]["at"] == pytest.approx(time.time(), abs=2)
    sim.clock.advance(177)  # the cooldown counts from acceptance: 179 s now
    assert (await call("change/sim-status", msisdn=NUMBER, operType=1))["status"] == "12108"
    sim.clock.advance(1)
    assert (await call("change/sim-status", msisdn=NUMBER, operType=1))["status"] == "0"
    unknown = await call("query/order-info", orderNum="nope")
    assert (unknown["status"], unknown["result"]) == ("12404", [])


async def test_jasper_answers_202_then_the_status_flips_when_due(sim: Sim) -> None:
    await sim.knobs(completion_ms=1500)
    accepted = await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})
    assert (accepted.status_code, accepted.json()) == (202, {"iccid": CARD})
    assert (await jasper(sim, "GET", CARD)).json()["status"] == "ACTIVATED"
    repeat = await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})
    assert (repeat.status_code, repeat.json()) == (200, {"iccid": CARD})
    sim.clock.advance(1.5)
    assert (await jasper(sim, "GET", CARD)).json()["status"] == "DEACTIVATED"
    assert (await sim.card(CARD))["status_changes"] == 1


async def test_ctcc_order_completes_later(sim: Sim) -> None:
    await sim.knobs(completion_ms=60_000)
    accepted = await ctcc(sim, "disabledNumber", iccid=CARD, acctCd="", orderTypeId=19)
    assert xml_fields(accepted)["result"] == "0"
    main = (await ctcc(sim, "queryCardMainStatus", iccid=CARD)).json()
    assert main["productInfo"][0]["productMainStatusCd"] == "4"
    repeat = await ctcc(sim, "disabledNumber", iccid=CARD, acctCd="", orderTypeId=19)
    assert repeat.text == "已存在相关停机记录，无需再次办理停机"
    sim.clock.advance(60)
    main = (await ctcc(sim, "queryCardMainStatus", iccid=CARD)).json()
    assert main["productInfo"][0]["productMainStatusCd"] == "5"


async def test_a_batch_with_one_card_in_cooldown_is_refused_whole(sim: Sim) -> None:
    await register_three(sim)
    token = await onelink_token(sim)
    await onelink_call(sim, "change/sim-status", token, msisdn=OTHER_NUMBER, operType=0)
    sim.clock.advance(100)
    batch = f"{NUMBER}_{OTHER_NUMBER}_{THIRD_NUMBER}"
    refused = await onelink_call(sim, "change/sim-status/batch", token, msisdns=batch,
                                 operType=9, reason="01")
    assert (refused["status"], refused["result"]) == ("12108", [])
    sim.clock.advance(10)  # well past batch_delay_ms: no job ran
    assert [(await sim.card(c))["status"] for c in (CARD, OTHER, THIRD)] == [
        "active", "stopped", "active"]
    assert (await sim.card(CARD))["status_changes"] == 0
    sim.clock.advance(70)  # OTHER's cooldown is over
    accepted = await onelink_call(sim, "change/sim-status/batch", token, msisdns=batch,
                                  operType=9, reason="01")
    assert accepted["status"] == "0"


async def test_batch_results_are_keyed_by_msisdn_card_by_card(sim: Sim) -> None:
    await register_three(sim)
    for iccid, reason in ((CARD, None), (OTHER, "违规停机"), (THIRD, None)):
        await sim.edit_card(iccid, status="stopped", stop_reason=reason)
    sim.clock.advance(180)  # the operator's own changes start the cooldown too
    token = await onelink_token(sim)

    async def resume(msisdns: str) -> str:
        submitted = await onelink_call(sim, "change/sim-status/batch", token, msisdns=msisdns,
                                       operType=11, reason="01")
        job_id: str = submitted["result"][0]["jobId"]
        return job_id

    async def results(job_id: str) -> tuple[str, list[tuple[str, str, str, str]]]:
        job = (await onelink_call(sim, "query/sim-batch-result", token, jobId=job_id))[
            "result"][0]
        return job["jobStatus"], [(r["resultType"], r["resultId"], r["status"], r["message"])
                                  for r in job["resultList"]]

    mixed = await resume(f"{THIRD_NUMBER}_{OTHER_NUMBER}")
    sim.clock.advance(1)
    assert await results(mixed) == ("3", [
        ("1", THIRD_NUMBER, "0", "正确"),
        ("1", OTHER_NUMBER, "12098", "非主动停机号码不允许主动复机（违规停机）")])
    failing = await resume(NUMBER)
    await sim.knobs(error_rate=1)  # errors are injected card by card when the job runs
    sim.clock.advance(1)
    await sim.card(CARD)  # the job runs now
    await sim.knobs(error_rate=0)
    assert await results(failing) == ("3", [("1", NUMBER, "12500", "system busy")])
    assert (await sim.card(CARD))["status"] == "stopped"


async def test_batch_of_repeats_and_changes(sim: Sim) -> None:
    await register_three(sim)
    await sim.knobs(cooldown_s=0)
    await sim.edit_card(THIRD, status="stopped")
    token = await onelink_token(sim)
    submitted = await onelink_call(sim, "change/sim-status/batch", token,
                                   msisdns=f"{NUMBER}_{THIRD_NUMBER}", operType=11,
                                   reason="01")
    sim.clock.advance(1)
    job = (await onelink_call(sim, "query/sim-batch-result", token,
                              jobId=submitted["result"][0]["jobId"]))["result"][0]
    assert [(r["resultId"], r["status"]) for r in job["resultList"]] == [
        (NUMBER, "12107"), (THIRD_NUMBER, "0")]  # a repeat is success for the client
    assert (await sim.card(THIRD))["status"] == "active"


@pytest.mark.parametrize("hold", [{"stop_reason": "欠费停机"}, {"frozen": True}])
async def test_held_resume_in_each_dialect(sim: Sim, hold: dict[str, Any]) -> None:
    reason = hold.get("stop_reason", "管理停机冻结")
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    view = await sim.edit_card(CARD, status="stopped", **hold)
    assert view["held"] is True
    token = await onelink_token(sim)
    onelink = await onelink_call(sim, "change/sim-status", token, msisdn=NUMBER, operType=1)
    assert (onelink["status"], onelink["message"], onelink["result"]) == (
        "12098", f"非主动停机号码不允许主动复机（{reason}）", [])
    device = await jasper(sim, "PUT", CARD, {"status": "ACTIVATED"})
    assert (device.status_code, device.json()) == (400, {
        "errorCode": "10000037",
        "errorMessage": f"Device status change blocked by the operator: {reason}"})
    telecom = xml_fields(await ctcc(sim, "disabledNumber", access_number=NUMBER, acctCd="",
                                    orderTypeId=20))
    assert (telecom["result"], telecom["resultMsg"]) == (
        "-6", f"运营商管理停机，不允许复机（{reason}）")
    stop = await onelink_call(sim, "change/sim-status", token, msisdn=NUMBER, operType=0)
    assert stop["status"] == "12107"  # stopping a held card: already stopped
    assert (await sim.card(CARD))["status"] == "stopped"
    assert (await sim.stats())["requests"] == {
        "ctcc": {"held": 1}, "jasper": {"held": 1}, "onelink": {"accepted": 1, "held": 1,
                                                                 "repeat": 1}}


async def test_our_own_stop_is_not_a_hold(sim: Sim) -> None:
    token = await onelink_token(sim)
    await onelink_call(sim, "change/sim-status", token, iccid=CARD, operType=0)
    view = await sim.card(CARD)
    assert (view["stop_reason"], view["held"]) == ("主动停机", False)
    sim.clock.advance(180)
    assert (await onelink_call(sim, "change/sim-status", token, iccid=CARD, operType=1))[
        "status"] == "0"
    assert (await sim.card(CARD))["stop_reason"] is None
