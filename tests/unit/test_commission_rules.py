"""The pure commission rule model (specs/business.md §5.1, H-05…H-08, H-14, H-16, H-25, H-28,
C-03): kinds and defaults, validation refusals, amounts, tiers and the row mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.commission.amounts import amount_for, capped, percent_of, tier_value
from domain.commission.rules import (
    Amount,
    CombinedRule,
    CountGate,
    InvalidTiers,
    InvalidTierValue,
    LongTermRule,
    NumberCardRule,
    OneTimeExceedsRecharge,
    OneTimePart,
    OneTimeRule,
    PercentOutOfRange,
    PerOrderRule,
    RechargeCondition,
    Rule,
    RulePeriodEmpty,
    Scope,
    TierMetricUnsupported,
    Tiers,
    TimeGate,
    from_row,
    to_row,
    validate,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TRAFFIC = frozenset({"traffic_card"})
NUMBER = frozenset({"number_card"})


def one_time(value: int, mode: str = "fixed", threshold: int = 10000,
             tiers: Tiers | None = None) -> OneTimeRule:
    return OneTimeRule(rule_id="r1", agent_id="a1", scope=Scope(("p1",)),
                       amount=Amount(mode, value),  # type: ignore[arg-type]
                       recharge=RechargeCondition("first", threshold), tiers=tiers,
                       effective_from=T0)


@pytest.mark.req("C-03")
@pytest.mark.parametrize(("base", "bp", "expected"), [
    (5999, 500, 300), (5989, 500, 299), (6000, 500, 300), (0, 500, 0), (1, 5000, 1),
    (1, 4999, 0), (10000, 10000, 10000)])
def test_percent_rounds_half_up_once(base: int, bp: int, expected: int) -> None:
    assert percent_of(base, bp) == expected


@pytest.mark.req("C-03")
@given(st.integers(0, 10**12), st.integers(0, 10000))
def test_percent_is_the_nearest_fen(base: int, bp: int) -> None:
    got = percent_of(base, bp)
    exact_times_2 = 2 * base * bp  # 2 × 10000 × exact value
    assert 2 * 10000 * got - 10000 < exact_times_2 <= 2 * 10000 * got + 10000


@pytest.mark.req("H-02")
def test_amounts_fixed_and_percent_of_cost() -> None:
    assert amount_for(Amount("fixed", 500), 6000) == 500
    assert amount_for(Amount("percent", 500), 6000) == 300
    assert amount_for(Amount("percent", 500), 6000, tier=1000) == 600
    assert amount_for(Amount("fixed", 500), 6000, tier=800) == 800


@pytest.mark.req("H-14")
def test_cap_is_the_recharge() -> None:
    assert capped(1500, 1000) == 1000
    assert capped(800, 1000) == 800


@pytest.mark.req("H-28")
def test_tier_threshold_is_inclusive() -> None:
    tiers = Tiers("activation_count", ((0, 100), (10, 200), (50, 300)))
    assert [tier_value(tiers, m) for m in (0, 9, 10, 11, 49, 50, 10**6)] == [
        100, 100, 200, 200, 200, 300, 300]


@pytest.mark.req("H-28")
@pytest.mark.parametrize("rows", [(), ((1, 100),), ((0, 100), (10, 200), (10, 300)),
                                  ((0, 100), (20, 200), (10, 300))])
def test_invalid_tiers_refused(rows: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(InvalidTiers):
        validate(one_time(100, tiers=Tiers("pickup_volume", rows)), NUMBER)


@pytest.mark.req("H-28")
def test_percent_tier_value_within_range() -> None:
    rule = LongTermRule(rule_id="r", agent_id="a", scope=Scope(("p",)),
                        amount=Amount("percent", 500), effective_from=T0,
                        tiers=Tiers("pickup_volume", ((0, 500), (10, 10001))))
    with pytest.raises(InvalidTierValue):
        validate(rule, TRAFFIC)


@pytest.mark.req("H-25")
def test_deposit_metric_refused() -> None:
    with pytest.raises(TierMetricUnsupported) as e:
        validate(one_time(100, tiers=Tiers("deposit", ((0, 100),))), TRAFFIC)
    assert e.value.code == "tier_metric_unsupported"
    assert e.value.message_zh == "暂不支持该阶梯条件"


@pytest.mark.req("H-14")
def test_traffic_one_time_fixed_above_threshold_refused() -> None:
    validate(one_time(10000), TRAFFIC)  # equal is allowed
    with pytest.raises(OneTimeExceedsRecharge) as e:
        validate(one_time(10001), TRAFFIC)
    assert e.value.message_zh == "一次性佣金不能大于充值金额"
    assert e.value.message_en == "A one-time commission must not exceed the recharge amount"
    validate(one_time(10001), NUMBER)  # number cards may exceed (H-14)
    with pytest.raises(OneTimeExceedsRecharge):  # a tier value above it too
        validate(one_time(100, tiers=Tiers("pickup_volume", ((0, 100), (5, 20000)))), TRAFFIC)


@pytest.mark.req("H-16")
def test_one_time_percent_of_recharge_never_capped_at_config() -> None:
    validate(one_time(10000, mode="percent"), TRAFFIC)
    with pytest.raises(PercentOutOfRange):
        validate(one_time(10001, mode="percent"), TRAFFIC)


@pytest.mark.req("H-08")
def test_per_order_defaults() -> None:
    rule = PerOrderRule(rule_id="r", agent_id="a", scope=Scope(business_line="traffic_card"),
                        amount=Amount("fixed", 500), effective_from=T0)
    assert (rule.kind, rule.freeze_days, rule.requires_approval) == ("per_order", 0, False)
    assert (one_time(1).freeze_days, one_time(1).requires_approval) == (7, True)


def test_period_must_not_be_empty() -> None:
    rule = PerOrderRule(rule_id="r", agent_id="a", scope=Scope(("p",)),
                        amount=Amount("fixed", 1), effective_from=T0, effective_to=T0)
    with pytest.raises(RulePeriodEmpty):
        validate(rule, TRAFFIC)


@pytest.mark.req("H-05")
@pytest.mark.req("H-06")
def test_every_kind_round_trips_through_its_row() -> None:
    rules: list[Rule] = [
        PerOrderRule(rule_id="r", agent_id="a", scope=Scope(("p", "q")),
                     amount=Amount("percent", 500), effective_from=T0,
                     effective_to=T0 + timedelta(days=1)),
        one_time(900, tiers=Tiers("activation_count", ((0, 900), (3, 1000)))),
        LongTermRule(rule_id="r", version=3, agent_id="a",
                     scope=Scope(business_line="traffic_card"), amount=Amount("fixed", 100),
                     recharge=RechargeCondition("cumulative", 5000), effective_from=T0),
        CombinedRule(rule_id="r", agent_id="a", scope=Scope(("p",)),
                     amount=Amount("fixed", 100), effective_from=T0, gate=CountGate(10),
                     one_time=OneTimePart(Amount("fixed", 500),
                                          RechargeCondition("first", 5000))),
        CombinedRule(rule_id="r", agent_id="a", scope=Scope(("p",)),
                     amount=Amount("fixed", 100), effective_from=T0, gate=TimeGate(T0),
                     recharge=RechargeCondition("first", 1),
                     one_time=OneTimePart(Amount("percent", 500),
                                          RechargeCondition("cumulative", 5000))),
        NumberCardRule(rule_id="r", agent_id="a", scope=Scope(business_line="number_card"),
                       amount=Amount("percent", 3000), effective_from=T0,
                       first_recharge_fen=5000, min_tenure_days=30, status="draft"),
    ]
    for rule in rules:
        assert from_row(to_row(rule)) == rule
