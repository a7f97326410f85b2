"""Pure decisions of package-order fulfilment: how a package maps to the card's package_bytes,
how a refund reverts it, and the order of the steps (G2-17…G2-20, SM-G2-ORDER)."""

from __future__ import annotations

import pytest

from domain.orders.fulfilment import Progress, applied, next_step, reverted


@pytest.mark.req("G2-18")
def test_a_package_adds_its_bytes_to_the_card_package() -> None:
    assert applied(None, 1000) == 1000
    assert applied(500, 1000) == 1500
    assert applied(0, 0) == 0


@pytest.mark.req("G2-20")
def test_a_refund_restores_exactly_what_the_card_had_when_nothing_else_changed() -> None:
    assert reverted(1000, None, 1000) is None
    assert reverted(1500, 500, 1000) == 500


@pytest.mark.req("G2-20")
def test_a_refund_takes_only_its_own_bytes_out_after_other_changes() -> None:
    # a second order added 2000 after this one: only this order's 1000 come out
    assert reverted(3500, 500, 1000) == 2500
    # a person lowered the package meanwhile: never below 0
    assert reverted(300, 500, 1000) == 0
    assert reverted(None, 500, 1000) == 0


@pytest.mark.req("G2-17", "G2-18", "SM-G2-ORDER")
@pytest.mark.parametrize(("progress", "step"), [
    (Progress(False, False, False, False), "apply"),
    (Progress(False, True, False, False), "apply"),
    (Progress(True, True, False, False), "complete"),
    (Progress(True, True, True, False), "complete"),
    (Progress(True, False, False, False), "activate"),
    (Progress(True, False, False, True), "activate"),  # an old failure: asked again first
    (Progress(True, False, True, False), "wait"),
    (Progress(True, False, True, True), "fail"),
])
def test_the_next_fulfilment_step(progress: Progress, step: str) -> None:
    assert next_step(progress) == step
