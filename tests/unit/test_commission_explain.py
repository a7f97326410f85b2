"""H-39 explanations, pure: the stored explanation read defensively, the percent formula with
its exact product and half-up rounding (C-03), and a sentence in Chinese and English."""

from __future__ import annotations

import pytest

from domain.commission.explain import explain, percent_formula


@pytest.mark.req("H-39", "C-03")
def test_the_percent_formula_shows_the_exact_product_and_its_rounding() -> None:
    assert percent_formula(6000, 500, 300) == "6000 × 500 bp = 300.00 → 300 (half-up)"
    assert percent_formula(5999, 500, 300) == "5999 × 500 bp = 299.95 → 300 (half-up)"
    assert percent_formula(5989, 500, 299) == "5989 × 500 bp = 299.45 → 299 (half-up)"
    assert percent_formula(123, 333, 4) == "123 × 333 bp = 4.0959 → 4 (half-up)"


@pytest.mark.req("H-39")
def test_a_stored_formula_wins_and_fixed_amounts_explain_themselves() -> None:
    fixed = explain("r1", 2, "one_time", "one_time", 500,
                    {"amount": {"mode": "fixed", "value": 500}})
    assert fixed.formula == "fixed 500 fen" and "fixed 500 fen" in fixed.sentence_en
    assert "固定 500 分" in fixed.sentence_zh and "第 2 版" in fixed.sentence_zh
    stored = explain("r1", 1, "per_order", "per_order", 300,
                     {"formula": "as the evaluation wrote it",
                      "amount": {"mode": "percent", "value": 500}})
    assert stored.formula == "as the evaluation wrote it"


@pytest.mark.req("H-39")
@pytest.mark.parametrize("stored", [None, {}, {"base": "x", "amount": {"mode": "odd"},
                                               "tier": 3, "conditions": ["x", {"no": 1}],
                                               "cap": {"recharge_fen": "many"}}])
def test_missing_or_malformed_keys_are_left_out(stored: object) -> None:
    made = explain("r1", 1, "long_term", "long_term", 0, stored)  # type: ignore[arg-type]
    assert (made.base, made.amount, made.tier, made.cap, made.formula) == (
        None, None, None, None, None)
    assert all(c.name in ("?",) for c in made.conditions)
    assert made.sentence_en.endswith("0 fen, rounded half-up to the fen (C-03).")
    assert made.sentence_zh.endswith("佣金 0 分（四舍五入到分）。")


@pytest.mark.req("H-39", "H-32")
def test_a_settlement_line_names_its_batch_and_line() -> None:
    made = explain("rN", 1, "number_card_settlement", "number_card", 1500, {
        "base": {"source": "settlement_line", "batch_id": "S1", "line_no": 7,
                 "amount_fen": 3000},
        "rule": {"rule_id": "rN", "version": 1, "mode": "percent", "value": 5000}})
    assert made.base is not None and made.base.ref == "S1#7"
    assert made.formula == "3000 × 5000 bp = 1500.00 → 1500 (half-up)"
    assert "结算明细 3000 分的 50%" in made.sentence_zh
