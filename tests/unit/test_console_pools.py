"""The pool pages' pure parts: amounts typed in MB or GB and shown back, and the chart of a
cycle with the forecast's dashed line stopping at the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.console.amounts import (
    BAD_UNIT,
    MAX_BYTES,
    NEGATIVE,
    NOT_A_NUMBER,
    REQUIRED,
    TOO_LARGE,
    Amount,
    Refused,
    shown,
    to_bytes,
)
from api.console.pages.pool_chart import outlook_chart
from api.forecasts import PoolOutlook
from domain.quota.forecast import forecast, hourly_points
from store.pools import PoolView
from store.series import Utilisation

pytestmark = pytest.mark.req("CONSOLE")
GiB, MiB = 1 << 30, 1 << 20
H = timedelta(hours=1)


@pytest.mark.parametrize(("number", "unit", "expected"), [
    ("1.5", "GB", 3 * GiB // 2), ("300", "MB", 300 * MiB), (" 0 ", "GB", 0),
    ("1,024", "MB", GiB), ("", "GB", None)])
def test_typed_amounts(number: str, unit: str, expected: int | None) -> None:
    assert to_bytes(Amount(number, unit), required=False) == expected


@pytest.mark.parametrize(("number", "unit", "problem"), [
    ("-1", "GB", NEGATIVE), ("lots", "GB", NOT_A_NUMBER), ("NaN", "MB", NOT_A_NUMBER),
    ("Infinity", "GB", NOT_A_NUMBER), ("1e30", "GB", TOO_LARGE), ("1", "TB", BAD_UNIT),
    ("", "GB", REQUIRED)])
def test_refused_amounts(number: str, unit: str, problem: str) -> None:
    with pytest.raises(Refused) as refused:
        to_bytes(Amount(number, unit), required=True)
    assert refused.value.message == problem


def test_shown_amounts() -> None:
    assert shown(10 * GiB) == Amount("10", "GB")
    assert shown(512 * MiB) == Amount("512", "MB")
    assert shown(3 * GiB // 2) == Amount("1.5", "GB")
    assert shown(0) == Amount("0", "MB") and shown(None) == Amount("", "GB")


@given(st.integers(min_value=0, max_value=MAX_BYTES))
def test_a_shown_amount_reads_back_within_its_rounding(value: int) -> None:
    amount = shown(value)
    back = to_bytes(amount, required=True)
    unit = GiB if amount.unit == "GB" else MiB
    assert back is not None and abs(back - value) <= unit // 1000 + 1


def test_the_chart_draws_the_cycle_and_the_forecast_up_to_the_limit() -> None:
    start = datetime(2026, 11, 30, 16, tzinfo=UTC)
    end, now = start + 31 * 24 * H, start + 10 * 24 * H
    hours = [Utilisation(now - (24 - i) * H, (i + 1) * GiB // 4, None) for i in range(24)]
    pool = PoolView("fleet", "acme", 10 * GiB, None, "2026-12", 6 * GiB, 3, "ok", [80, 90])
    points = hourly_points(((h.time, h.used_bytes) for h in hours), now)
    result = forecast(pool.limit_bytes, points, cycle_start=start, cycle_end=end, now=now,
                      used_bytes=pool.used_bytes)
    option = outlook_chart(PoolOutlook(pool, "Asia/Shanghai", start, end, hours, result), str)
    used, projected = (s["data"] for s in option["series"])
    assert option["xAxis"]["data"][0] == "12-01 00:00" and len(used) == 31 * 24 + 1
    assert option["yAxis"]["name"] == "GB" and used[240] == 6  # the last measured hour
    assert option["series"][0]["markLine"]["data"][0]["yAxis"] == 10
    drawn = [v for v in projected if v is not None]
    assert drawn[0] == 6 and drawn[-1] >= 10 > drawn[-2]  # stops once it reaches the limit
    assert option["series"][1]["lineStyle"] == {"type": "dashed"}
