"""The bottom floor: money in fen, the platform clock, the list of operators."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.clock import PlatformClock
from core.money import BasisPoints, Fen, fen, parse_yuan, share, yuan
from core.operators import OPERATORS, is_operator

amounts = st.integers(min_value=-(10**12), max_value=10**12).map(Fen)
rates = st.integers(min_value=0, max_value=10_000).map(BasisPoints)


def test_share_rounds_half_up_to_the_fen() -> None:
    assert share(Fen(5999), BasisPoints(500)) == 300  # 299.95
    assert share(Fen(5989), BasisPoints(500)) == 299  # 299.45
    assert share(Fen(10), BasisPoints(5000)) == 5
    assert share(Fen(1), BasisPoints(5000)) == 1  # 0.5 rounds up
    assert share(Fen(-1), BasisPoints(5000)) == -1  # away from zero, symmetric


@given(amounts, rates)
def test_share_is_exact_decimal_half_up(amount: Fen, rate: BasisPoints) -> None:
    exact = Decimal(amount) * Decimal(rate) / Decimal(10_000)
    assert share(amount, rate) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(amounts)
def test_yuan_round_trips(amount: Fen) -> None:
    assert parse_yuan(yuan(amount)) == amount


def test_yuan_text() -> None:
    assert yuan(Fen(5000)) == "50.00"
    assert yuan(Fen(-1205)) == "-12.05"
    assert parse_yuan("12.5") == 1250
    assert parse_yuan(" 0.05 ") == 5


@pytest.mark.parametrize("bad", ["1.005", "1e3", "", "12,00", "¥5", "--1", "0x10", "١٢", "１２"])
def test_parse_yuan_refuses_what_is_not_an_amount(bad: str) -> None:
    with pytest.raises(ValueError, match="not an amount in yuan"):
        parse_yuan(bad)


def test_fen_refuses_floats_and_bools() -> None:
    assert fen(7) == 7
    for bad in (7.0, True):
        with pytest.raises(TypeError):
            fen(bad)  # type: ignore[arg-type]


def test_platform_clock_is_the_wall_clock_plus_its_offset() -> None:
    clock = PlatformClock(wall=lambda: 1_800_000_000.0)
    assert clock.now() == datetime.fromtimestamp(1_800_000_000, UTC)
    clock.set_offset(86_400)
    assert clock.time() == 1_800_086_400.0
    assert clock.now().tzinfo is UTC


def test_the_one_list_of_operators() -> None:
    assert OPERATORS == ("onelink", "jasper", "ctcc")
    assert is_operator("jasper") and not is_operator("JASPER")
