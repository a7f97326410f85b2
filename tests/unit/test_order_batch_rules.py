"""The batch create's affordability rule, pure (G2-04 per item): in the batch's order, each
Flow-2 item is paid if what is left covers it; the ones taken never exceed the balance."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import Fen
from domain.orders.batch import afford


@pytest.mark.req("G2-04")
def test_items_are_taken_in_order_while_the_balance_lasts() -> None:
    assert afford(Fen(18000), [Fen(6000)] * 4) == [True, True, True, False]
    # a cheaper item after a refused one still fits
    assert afford(Fen(10000), [Fen(6000), Fen(6000), Fen(4000)]) == [True, False, True]
    assert afford(Fen(-1), [Fen(1)]) == [False]  # a negative balance affords nothing
    assert afford(Fen(0), []) == []


@pytest.mark.req("G2-04", "G2-16")
@given(st.integers(-10_000, 100_000), st.lists(st.integers(1, 20_000), max_size=40))
def test_what_is_taken_never_exceeds_the_balance(available: int, costs: list[int]) -> None:
    taken = afford(Fen(available), [Fen(c) for c in costs])
    spent = sum(c for c, ok in zip(costs, taken, strict=True) if ok)
    assert spent <= max(available, 0)
    left = available
    for cost, ok in zip(costs, taken, strict=True):  # refused only when it did not fit
        assert ok == (cost <= left)
        left -= cost if ok else 0
