"""The simulator's calendar: usage per Beijing date, T-1 for PB numbers at Beijing midnight,
cycle resets (the 1st for OneLink and CTCC, the 27th for Jasper), the OneLink monthly batch
and CTCC's `queryTrafficByDate`."""

from __future__ import annotations

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

PB_CARD, CT_CARD = "8986001234567890123", "8986001234567890124"
PB_NUMBER, CT_NUMBER = "14812345678", "14812345679"
KB, MB = 1024, 1024 * 1024

pytestmark = pytest.mark.req("OPS-SIM")


async def register(sim: Sim) -> str:
    """A PB and a CT number; returns a OneLink token."""
    await sim.register({"iccid": PB_CARD, "msisdn": PB_NUMBER, "platform": "pb"},
                       {"iccid": CT_CARD, "msisdn": CT_NUMBER})
    return await onelink_token(sim)


async def kb(sim: Sim, token: str, number: str) -> str:
    """OneLink month-to-date `dataAmount` of `number`."""
    answer = await onelink_call(sim, "query/sim-data-usage", token, msisdn=number)
    amount: str = answer["result"][0]["dataAmount"]
    return amount


async def ctcc_mb(sim: Sim, **params: Any) -> str:
    """CTCC `TOTAL_BYTES_CNT` of `queryTraffic`, or of `queryTrafficByDate` given dates."""
    method = "queryTrafficByDate" if "startDate" in params else "queryTraffic"
    return xml_fields(await ctcc(sim, method, iccid=CT_CARD, **params))["TOTAL_BYTES_CNT"]


async def test_a_pb_number_lags_to_beijing_midnight_a_ct_number_does_not(sim: Sim) -> None:
    sim.clock.set(beijing(2025, 3, 14, 23, 59, 30))
    token = await register(sim)
    await sim.usage(PB_CARD, 10 * KB)
    await sim.usage(CT_CARD, 10 * KB)
    assert (await kb(sim, token, PB_NUMBER), await kb(sim, token, CT_NUMBER)) == (
        "0.00", "10.00")
    sim.clock.set(beijing(2025, 3, 15, 0, 0, 30))
    assert (await kb(sim, token, PB_NUMBER), await kb(sim, token, CT_NUMBER)) == (
        "10.00", "10.00")
    await sim.usage(PB_CARD, 5 * KB)  # counted on the 15th: seen on the 16th
    await sim.usage(CT_CARD, 5 * KB)
    assert (await kb(sim, token, PB_NUMBER), await kb(sim, token, CT_NUMBER)) == (
        "10.00", "15.00")


async def test_onelink_and_ctcc_cycles_reset_on_the_1st(sim: Sim) -> None:
    sim.clock.set(beijing(2025, 3, 31, 23, 59, 30))
    token = await register(sim)
    await sim.usage(CT_CARD, 3 * MB)
    assert await kb(sim, token, CT_NUMBER) == "3072.00"
    assert await ctcc_mb(sim) == "3.00MB"
    sim.clock.set(beijing(2025, 4, 1, 0, 0, 30))
    assert await kb(sim, token, CT_NUMBER) == "0.00"
    assert await ctcc_mb(sim) == "0.00MB"
    await sim.usage(CT_CARD, MB // 2)
    assert (await kb(sim, token, CT_NUMBER), await ctcc_mb(sim)) == ("512.00", "0.50MB")


async def test_jasper_cycle_resets_on_the_27th(sim: Sim) -> None:
    sim.clock.set(beijing(2025, 3, 26, 23, 59, 30))
    await sim.usage(CT_CARD, 1000)
    sim.clock.advance(-86_400)
    await sim.usage(CT_CARD, 234)  # the 25th
    sim.clock.advance(86_400)

    async def ctd() -> tuple[int, int]:
        usage = (await jasper(sim, "GET", f"{CT_CARD}/ctdUsages")).json()
        return usage["ctdDataUsage"], usage["ctdSessionCount"]

    assert await ctd() == (1234, 2)
    sim.clock.set(beijing(2025, 3, 27, 0, 0, 30))
    assert await ctd() == (0, 0)
    await sim.usage(CT_CARD, 7)
    assert await ctd() == (7, 1)
    sim.clock.set(beijing(2025, 4, 1, 12))  # the 1st is no boundary for Jasper
    assert await ctd() == (7, 1)
    await sim.knobs(jasper_cycle_day=1)  # ... unless its cycle day says so
    assert await ctd() == (0, 0)


async def test_monthly_batch_returns_the_previous_months_last_day(sim: Sim) -> None:
    sim.clock.set(beijing(2025, 3, 31, 23, 0))
    await register(sim)
    await sim.usage(PB_CARD, 2 * KB)
    await sim.usage(CT_CARD, 3 * KB)
    sim.clock.set(beijing(2025, 4, 1, 0, 0, 30))
    token = await onelink_token(sim)  # the first one has expired
    await sim.usage(PB_CARD, 100 * KB)
    assert await kb(sim, token, PB_NUMBER) == "0.00"  # the new month, up to yesterday

    async def monthly(query_date: str) -> dict[str, Any]:
        return await onelink_call(sim, "query/sim-data-usage-monthly/batch", token,
                                  msisdns=f"{PB_NUMBER}_{CT_NUMBER}", queryDate=query_date)

    assert (await monthly("202503"))["result"] == [
        {"msisdn": PB_NUMBER, "dataAmount": "2.00"}, {"msisdn": CT_NUMBER, "dataAmount": "3.00"}]
    assert (await monthly("202504"))["result"] == [  # this month: up to yesterday
        {"msisdn": PB_NUMBER, "dataAmount": "0.00"}, {"msisdn": CT_NUMBER, "dataAmount": "0.00"}]
    assert (await monthly("202411"))["status"] == "0"  # the 6th month back, counting April
    for refused in ("202410", "202505", "2025-03", "202513", ""):
        answer = await monthly(refused)
        assert (answer["status"], answer["result"]) == ("12002", []), refused
    unknown = await onelink_call(sim, "query/sim-data-usage-monthly/batch", token,
                                 msisdns="14800000000", queryDate="202503")
    assert unknown["status"] == "12404"


async def test_query_traffic_by_date_sums_the_days_given(sim: Sim) -> None:
    for day, megabytes in ((28, 1), (1, 2), (2, 4)):
        sim.clock.set(beijing(2025, 2 if day == 28 else 3, day, 12))
        await sim.usage(CT_CARD, megabytes * MB)
    assert await ctcc_mb(sim, startDate="20250228", endDate="20250302") == "7.00MB"
    assert await ctcc_mb(sim, startDate="20250301", endDate="20250301") == "2.00MB"
    assert await ctcc_mb(sim, startDate="20250201", endDate="20250228") == "1.00MB"
    assert await ctcc_mb(sim, startDate="20250201", endDate="20250303") == "7.00MB"  # 31 days
    for start, end in (("20250302", "20250301"), ("20250201", "20250304"),
                       ("2025031", "20250302"), ("20250230", "20250302")):
        answer = (await ctcc(sim, "queryTrafficByDate", iccid=CT_CARD, startDate=start,
                             endDate=end)).json()
        assert answer["resultCode"] == "-3", (start, end)


async def test_query_traffic_is_month_to_date_real_time_in_mb(sim: Sim) -> None:
    sim.clock.set(beijing(2025, 3, 14, 9))
    await sim.usage(CT_CARD, 1_234_567)  # 1.1773 MB
    assert await ctcc_mb(sim) == "1.17MB"
    sim.clock.set(beijing(2025, 3, 1, 9))  # earlier this month: no usage yet
    assert await ctcc_mb(sim) == "0.00MB"
