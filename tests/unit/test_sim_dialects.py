"""The operator simulator over (in-process) HTTP: each dialect's answers per connectors/DIALECTS.md.

A fake clock drives cooldowns, token expiry, batch jobs, rate limits and the usage lag, so no
test sleeps (except the in-flight test, which needs a few ms of real latency).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from simulators.fleet_state import DAY_S
from simulators.knobs import SimKnobs, knobs_from_env
from tests.support.simulator import Sim

CARD = "8986001234567890123"
OTHER = "8986001234567890124"
APPID = "app1"
JASPER_AUTH = ("acct", "api-key")
CTCC_AUTH = {"user_id": "u", "passWord": "p", "sign": "s"}


# --- OneLink ---------------------------------------------------------------------------------

def transid(appid: str = APPID, seq: int = 1) -> str:
    return f"{appid}20250101120000{seq:08d}"


async def get_token(sim: Sim, appid: str = APPID) -> str:
    answer = await onelink(sim, "get/token", appid=appid, password="pw", transid=transid(appid))
    assert answer["status"] == "0", answer
    token: str = answer["result"][0]["token"]
    return token


async def onelink(sim: Sim, call: str, **params: Any) -> dict[str, Any]:
    response = await sim.client.get(f"/v5/ec/{call}", params=params)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert set(answer) == {"status", "message", "result"}
    return answer


async def ol(sim: Sim, call: str, token: str, **params: Any) -> dict[str, Any]:
    return await onelink(sim, call, token=token, transid=transid(), **params)


async def test_onelink_token_and_its_errors(sim: Sim) -> None:
    answer = await onelink(sim, "get/token", appid=APPID, password="pw", transid=transid())
    assert answer["status"] == "0" and answer["result"][0]["ttl"] == 3600
    assert answer["result"][0]["token"]
    bad_login = await onelink(sim, "get/token", appid=APPID, transid=transid())
    assert (bad_login["status"], bad_login["result"]) == ("12001", [])
    bad = [await onelink(sim, "get/token", appid=APPID, password="pw", transid=t)
           for t in ("other20250101120000" + "00000001", APPID + "2025", None)]
    assert [b["status"] for b in bad] == ["12009"] * 3


async def test_onelink_token_expires_and_must_match_the_transid(sim: Sim) -> None:
    await sim.knobs(token_ttl_s=60)
    token = await get_token(sim)
    ok = await ol(sim, "query/sim-status", token, iccid=CARD)
    assert ok["status"] == "0"
    wrong_app = await onelink(sim, "query/sim-status", token=token, transid=transid("app2"),
                              iccid=CARD)
    assert wrong_app["status"] == "12009"
    assert (await ol(sim, "query/sim-status", "nope", iccid=CARD))["status"] == "12021"
    assert (await onelink(sim, "query/sim-status", transid=transid(), iccid=CARD))["status"] \
        == "12021"
    sim.clock.advance(60)
    assert (await ol(sim, "query/sim-status", token, iccid=CARD))["status"] == "12021"
    fresh = await get_token(sim)
    assert (await ol(sim, "query/sim-status", fresh, iccid=CARD))["status"] == "0"


async def test_onelink_change_repeat_cooldown_and_queries(sim: Sim) -> None:
    token = await get_token(sim)
    stop = await ol(sim, "change/sim-status", token, iccid=CARD, operType=0)
    assert (stop["status"], stop["result"]) == ("0", [{"iccid": CARD}])
    repeat = await ol(sim, "change/sim-status", token, iccid=CARD, operType=0)
    assert (repeat["status"], repeat["result"]) == ("12107", [{"iccid": CARD}])
    assert (await ol(sim, "query/sim-status", token, iccid=CARD))["result"] == [
        {"cardStatus": "4"}]
    sim.clock.advance(179)
    too_soon = await ol(sim, "change/sim-status", token, iccid=CARD, operType=1)
    assert (too_soon["status"], too_soon["result"]) == ("12108", [])
    sim.clock.advance(1)
    assert (await ol(sim, "change/sim-status", token, iccid=CARD, operType=1))["status"] == "0"
    assert await sim.card(CARD) == {"iccid": CARD, "status": "active", "status_changes": 2}
    assert (await sim.stats())["requests"]["onelink"] == {
        "accepted": 4, "repeat": 1, "cooldown": 1}


async def test_onelink_bad_parameters(sim: Sim) -> None:
    token = await get_token(sim)
    for params in ({"iccid": "8986-bad", "operType": 0}, {"iccid": CARD, "operType": 2},
                   {"operType": 0}):
        answer = await ol(sim, "change/sim-status", token, **params)
        assert (answer["status"], answer["result"]) == ("12002", [])
    assert (await ol(sim, "query/sim-data-usage", token, iccid="123"))["status"] == "12002"
    assert (await sim.stats())["requests"]["onelink"]["bad_request"] == 4


async def test_onelink_usage_is_month_to_date_kb_as_a_string(sim: Sim) -> None:
    token = await get_token(sim)
    assert (await ol(sim, "query/sim-data-usage", token, iccid=CARD))["result"] == [
        {"dataAmount": "0"}]
    await sim.usage(CARD, 3000)
    await sim.usage(CARD, 2000)
    answer = await ol(sim, "query/sim-data-usage", token, iccid=CARD)
    assert answer["result"] == [{"dataAmount": "4"}]  # 5000 bytes = 4 whole KB


async def test_onelink_batch_job_lifecycle(sim: Sim) -> None:
    token = await get_token(sim)
    await ol(sim, "change/sim-status", token, iccid=OTHER, operType=0)  # OTHER now in cooldown
    submitted = await ol(sim, "change/sim-status/batch", token, iccids=f"{CARD}_{OTHER}",
                         operType=1)
    assert submitted["status"] == "0"
    job_id = submitted["result"][0]["jobId"]
    await ol(sim, "change/sim-status/batch", token, iccids=CARD, operType=1)
    sim.clock.advance(0.1)
    processing = await ol(sim, "query/sim-batch-result", token, jobId=job_id)
    assert processing["result"] == [{"jobId": job_id, "state": "0", "results": []}]
    sim.clock.advance(0.1)  # batch_delay_ms defaults to 200
    done = (await ol(sim, "query/sim-batch-result", token, jobId=job_id))["result"][0]
    assert done["state"] == "1"
    assert [(r["iccid"], r["status"]) for r in done["results"]] == [
        (CARD, "12107"), (OTHER, "12108")]
    assert (await sim.card(OTHER))["status"] == "stopped"
    unknown = await ol(sim, "query/sim-batch-result", token, jobId="nope")
    assert (unknown["status"], unknown["result"]) == ("12404", [])


async def test_onelink_batch_applies_changes_when_due(sim: Sim) -> None:
    token = await get_token(sim)
    await sim.knobs(batch_delay_ms=1000)
    await ol(sim, "change/sim-status/batch", token, iccids=f"{CARD}_{OTHER}", operType=0)
    assert (await sim.card(CARD))["status"] == "active"
    sim.clock.advance(1)
    assert (await sim.card(CARD))["status"] == "stopped"  # no result query needed
    assert (await sim.card(OTHER))["status_changes"] == 1


async def test_onelink_batch_limits(sim: Sim) -> None:
    token = await get_token(sim)
    cards = [f"89860012345678{n:05d}" for n in range(101)]
    too_many = await ol(sim, "change/sim-status/batch", token, iccids="_".join(cards),
                        operType=0)
    assert (too_many["status"], too_many["result"]) == ("12010", [])
    full = await ol(sim, "change/sim-status/batch", token, iccids="_".join(cards[:100]),
                    operType=0)
    assert full["status"] == "0"
    bad = await ol(sim, "change/sim-status/batch", token, iccids=f"{CARD}_bad", operType=0)
    assert bad["status"] == "12002"


async def test_onelink_injected_faults(sim: Sim) -> None:
    token = await get_token(sim)
    await sim.knobs(error_rate=1)
    busy = await ol(sim, "change/sim-status", token, iccid=CARD, operType=0)
    assert (busy["status"], busy["result"]) == ("12500", [])
    await sim.knobs(error_rate=0, limit_rate=1)
    assert (await ol(sim, "query/sim-status", token, iccid=CARD))["status"] == "12029"
    assert (await sim.card(CARD))["status_changes"] == 0
    assert (await sim.stats())["requests"]["onelink"] == {
        "accepted": 1, "error": 1, "rate_limited": 1}


# --- Jasper ----------------------------------------------------------------------------------

async def jasper(sim: Sim, method: str, path: str, body: Any = None,
                 auth: tuple[str, str] | None = JASPER_AUTH) -> httpx.Response:
    return await sim.client.request(method, f"/rws/api/v1/devices/{path}", json=body, auth=auth)


async def test_jasper_change_repeat_cooldown_and_queries(sim: Sim) -> None:
    stop = await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})
    assert (stop.status_code, stop.json()) == (200, {"iccid": CARD, "status": "DEACTIVATED"})
    repeat = await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})
    assert (repeat.status_code, repeat.json()) == (200, {"iccid": CARD, "status": "DEACTIVATED"})
    sim.clock.advance(1)
    too_soon = await jasper(sim, "PUT", CARD, {"status": "ACTIVATED"})
    assert too_soon.status_code == 400 and too_soon.json()["errorCode"] == "10000024"
    device = await jasper(sim, "GET", CARD)
    assert device.json() == {"iccid": CARD, "status": "DEACTIVATED"}
    sim.clock.advance(180)
    assert (await jasper(sim, "PUT", CARD, {"status": "ACTIVATED"})).status_code == 200
    assert (await jasper(sim, "GET", CARD)).json()["status"] == "ACTIVATED"
    assert (await sim.stats())["requests"]["jasper"] == {
        "accepted": 4, "cooldown": 1, "repeat": 1}


async def test_jasper_bad_requests_and_auth(sim: Sim) -> None:
    for body in ({"status": "SUSPENDED"}, {}, [1], {"status": ["ACTIVATED"]}):
        bad = await jasper(sim, "PUT", CARD, body)
        assert (bad.status_code, bad.json()["errorCode"]) == (400, "10000003")
    assert (await jasper(sim, "GET", "8986-nope")).json()["errorCode"] == "10000003"
    assert (await jasper(sim, "GET", CARD, auth=None)).status_code == 401
    assert (await jasper(sim, "GET", CARD, auth=("acct", ""))).status_code == 401
    garbled = await sim.client.get(f"/rws/api/v1/devices/{CARD}",
                                   headers={"Authorization": "Basic !!!"})
    assert garbled.status_code == 401
    assert (await sim.stats())["requests"]["jasper"] == {"bad_request": 5, "unauthorized": 3}


async def test_jasper_usage_in_bytes_cycle_to_date(sim: Sim) -> None:
    await sim.usage(CARD, 1234)
    usage = await jasper(sim, "GET", f"{CARD}/ctdUsages")
    assert usage.json() == {"iccid": CARD, "ctdDataUsage": 1234, "overageLimitReached": False}


async def test_jasper_rate_limit_per_account(sim: Sim) -> None:
    for _ in range(5):
        assert (await jasper(sim, "GET", CARD)).status_code == 200
    limited = await jasper(sim, "GET", CARD)
    assert limited.status_code == 429
    assert limited.json() == {"errorCode": "40000029", "errorMessage": "Rate limit exceeded"}
    assert (await jasper(sim, "GET", CARD, auth=("other", "key"))).status_code == 200
    sim.clock.advance(0.2)  # one call's worth at 5 per second
    assert (await jasper(sim, "GET", CARD)).status_code == 200
    assert (await jasper(sim, "GET", CARD)).status_code == 429
    assert (await sim.stats())["requests"]["jasper"] == {"accepted": 7, "rate_limited": 2}


async def test_jasper_one_call_in_flight_per_account(sim: Sim) -> None:
    await sim.knobs(latency_ms=30)
    answers = await asyncio.gather(jasper(sim, "GET", CARD), jasper(sim, "GET", CARD))
    assert sorted(a.status_code for a in answers) == [200, 429]
    sim.clock.advance(1)
    assert (await jasper(sim, "GET", CARD)).status_code == 200  # the slot was released


async def test_jasper_injected_faults(sim: Sim) -> None:
    await sim.knobs(error_rate=1)
    failed = await jasper(sim, "PUT", CARD, {"status": "DEACTIVATED"})
    assert (failed.status_code, failed.json()["errorCode"]) == (500, "10000001")
    await sim.knobs(error_rate=0, limit_rate=1)
    assert (await jasper(sim, "GET", CARD)).json()["errorCode"] == "40000029"
    assert (await sim.card(CARD))["status"] == "active"


# --- China Telecom ---------------------------------------------------------------------------

async def ctcc(sim: Sim, method: str, auth: dict[str, str] | None = None,
               **params: Any) -> dict[str, Any]:
    query = {**(CTCC_AUTH if auth is None else auth), "method": method, **params}
    response = await sim.client.get("/m2m_ec/query.do", params=query)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def test_ctcc_change_repeat_cooldown_and_queries(sim: Sim) -> None:
    stop = await ctcc(sim, "disabledNumber", access_number=CARD, orderTypeId=19)
    assert stop["resultCode"] == "0"
    repeat = await ctcc(sim, "disabledNumber", access_number=CARD, orderTypeId=19)
    assert repeat["resultCode"] == "0" and "already" in repeat["resultMsg"]
    main = await ctcc(sim, "queryCardMainStatus", access_number=CARD)
    assert (main["resultCode"], main["productMainStatusCd"]) == ("0", "2")
    too_soon = await ctcc(sim, "disabledNumber", access_number=CARD, orderTypeId=20)
    assert too_soon["resultCode"] == "-5"
    sim.clock.advance(180)
    assert (await ctcc(sim, "disabledNumber", access_number=CARD, orderTypeId=20))[
        "resultCode"] == "0"
    assert (await ctcc(sim, "queryCardMainStatus", access_number=CARD))[
        "productMainStatusCd"] == "1"
    assert (await sim.stats())["requests"]["ctcc"] == {
        "accepted": 4, "cooldown": 1, "repeat": 1}


async def test_ctcc_traffic_in_kb(sim: Sim) -> None:
    await sim.usage(CARD, 10 * 1024 + 1)
    traffic = await ctcc(sim, "queryTraffic", access_number=CARD)
    assert traffic == {"resultCode": "0", "resultMsg": "success", "usedKB": 10}


async def test_ctcc_errors(sim: Sim) -> None:
    assert (await ctcc(sim, "queryTraffic", auth={"user_id": "u", "passWord": "p"},
                       access_number=CARD))["resultCode"] == "-2"
    assert (await ctcc(sim, "noSuchMethod", access_number=CARD))["resultCode"] == "-3"
    assert (await ctcc(sim, "queryTraffic", access_number="89"))["resultCode"] == "-3"
    assert (await ctcc(sim, "disabledNumber", access_number=CARD, orderTypeId=7))[
        "resultCode"] == "-3"
    await sim.knobs(limit_rate=1)
    assert (await ctcc(sim, "queryTraffic", access_number=CARD))["resultCode"] == "-9"
    await sim.knobs(limit_rate=0, error_rate=1)
    assert (await ctcc(sim, "queryTraffic", access_number=CARD))["resultCode"] == "-1"
    assert (await sim.stats())["requests"]["ctcc"] == {
        "bad_request": 3, "error": 1, "rate_limited": 1, "unauthorized": 1}


# --- Simulator extras ------------------------------------------------------------------------

async def test_t1_lag_hides_todays_usage_until_tomorrow(sim: Sim) -> None:
    await sim.knobs(usage_lag="t-1")
    await sim.usage(CARD, 4096)
    assert (await ctcc(sim, "queryTraffic", access_number=CARD))["usedKB"] == 0
    assert (await jasper(sim, "GET", f"{CARD}/ctdUsages")).json()["ctdDataUsage"] == 0
    sim.clock.advance(DAY_S)
    assert (await ctcc(sim, "queryTraffic", access_number=CARD))["usedKB"] == 4
    await sim.knobs(usage_lag="none")
    await sim.usage(CARD, 1024)
    assert (await ctcc(sim, "queryTraffic", access_number=CARD))["usedKB"] == 5


async def test_sim_card_stats_and_usage_shapes(sim: Sim) -> None:
    assert await sim.card(CARD) == {"iccid": CARD, "status": "active", "status_changes": 0}
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
                          "usage_lag", "batch_delay_ms", "token_ttl_s", "seed"}
    await ctcc(sim, "disabledNumber", access_number=CARD, orderTypeId=19)
    resumed = await ctcc(sim, "disabledNumber", access_number=CARD, orderTypeId=20)
    assert resumed["resultCode"] == "0"  # no cooldown any more
    for bad in ({"error_rate": 2}, {"usage_lag": "t-2"}, {"nope": 1}, {"rate_per_s": 0}):
        response = await sim.client.put("/_sim/knobs", json=bad)
        assert response.status_code == 422, bad
    assert (await sim.client.get("/_sim/knobs")).json() == knobs


async def test_seed_makes_injected_faults_reproducible(sim: Sim) -> None:
    async def run() -> list[str]:
        return [(await ctcc(sim, "queryTraffic", access_number=CARD))["resultCode"]
                for _ in range(30)]

    await sim.knobs(error_rate=0.5, seed=42)
    first = await run()
    await sim.knobs(seed=42)
    assert await run() == first
    assert set(first) == {"0", "-1"}


def test_knobs_from_env_reads_every_variable() -> None:
    env = {"CARDPULSE_SIM_LATENCY_MS": "25", "CARDPULSE_SIM_ERROR_RATE": "0.1",
           "CARDPULSE_SIM_LIMIT_RATE": "0.2", "CARDPULSE_SIM_COOLDOWN_S": "3",
           "CARDPULSE_SIM_RATE_PER_S": "10", "CARDPULSE_SIM_USAGE_LAG": "t-1",
           "CARDPULSE_SIM_BATCH_DELAY_MS": "50", "CARDPULSE_SIM_TOKEN_TTL_S": "120",
           "CARDPULSE_SIM_SEED": "9", "CARDPULSE_SIM_PORT": "8100"}
    assert knobs_from_env(env) == SimKnobs(
        latency_ms=25, error_rate=0.1, limit_rate=0.2, cooldown_s=3, rate_per_s=10,
        usage_lag="t-1", batch_delay_ms=50, token_ttl_s=120, seed=9)
    assert knobs_from_env({"CARDPULSE_SIM_SEED": " "}) == SimKnobs()


@pytest.mark.parametrize(("variable", "value"), [
    ("CARDPULSE_SIM_ERROR_RATE", "1.5"), ("CARDPULSE_SIM_LIMIT_RATE", "-0.1"),
    ("CARDPULSE_SIM_LATENCY_MS", "fast"), ("CARDPULSE_SIM_USAGE_LAG", "t-2"),
    ("CARDPULSE_SIM_SEED", "1.5"), ("CARDPULSE_SIM_RATE_PER_S", "0"),
    ("CARDPULSE_SIM_TOKEN_TTL_S", "nan"), ("CARDPULSE_SIM_COOLDOWN_S", "-1"),
    ("CARDPULSE_SIM_BATCH_DELAY_MS", "-5"),
])
def test_knobs_from_env_names_the_bad_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        knobs_from_env({variable: value})


async def test_accepted_changes_are_logged_with_unix_time(sim: Sim) -> None:
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
