"""The money report's months (G2-06): Asia/Shanghai boundaries, and a month outside the
years an instant can be reported in is a refusal (found by schemathesis: `0000-01` was a 500)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.orders.report import BadMonth, month_bounds


@pytest.mark.req("G2-06")
def test_a_month_is_cut_at_midnight_in_shanghai() -> None:
    assert month_bounds("2026-12") == (datetime(2026, 11, 30, 16, tzinfo=UTC),
                                       datetime(2026, 12, 31, 16, tzinfo=UTC))


@pytest.mark.parametrize("month", ["0000-01", "0001-01", "1969-12", "9999-12", "2026-13",
                                   "2026-1", "26-12"])
def test_a_month_out_of_range_or_badly_written_is_refused(month: str) -> None:
    with pytest.raises(BadMonth):
        month_bounds(month)
