"""The pure questions asked of a card's facts (domain/commission/facts.py): first vs
cumulative recharge at exactly the threshold and 1 fen short (H-12), refunds never counting,
the package count in completion order (G2-19, H-23/H-24), the activation predicate with each
conjunct false once (H-26), and the month boundary of the activation snapshots (H-30, C-04)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.commission import facts as f
from domain.commission.months import month_bounds, month_of, months_between, snapshot_due

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


def recharge(ref: str, amount: int, minutes: int, refunded: bool = False) -> f.Recharge:
    return f.Recharge(ref, amount, T0 + timedelta(minutes=minutes), refunded, "order")


def package(order_id: str, minutes: int, state: str = "completed",
            units_refunded: int = 0, quantity: int = 1) -> f.PackageOrder:
    return f.PackageOrder(order_id, "A", "p90", "traffic_card", quantity, units_refunded,
                          state, T0 + timedelta(minutes=minutes), 6000, 9000)


def card(*recharges: f.Recharge, packages: tuple[f.PackageOrder, ...] = (),
         real_name: bool = True, status: str = "active") -> f.CardFacts:
    return f.CardFacts("8986", T0 if real_name else None, "onelink:rn" if real_name else None,
                       f.sort_recharges(recharges), f.sort_package_orders(packages), status,
                       T0, True, "A")


@dataclass(frozen=True)
class Condition:
    mode: f.RechargeMode
    threshold_fen: int


@pytest.mark.req("H-12")
def test_first_mode_compares_only_the_first_recharge_equal_qualifies() -> None:
    exact = card(recharge("r1", 10000, 1), recharge("r2", 50000, 2))
    assert f.recharge_condition_met(exact, "first", 10000) == (True, 10000, ("r1",),
                                                                 T0 + timedelta(minutes=1))
    short = card(recharge("r1", 9999, 1), recharge("r2", 50000, 2))
    verdict = f.recharge_condition_met(short, "first", 10000)
    assert (verdict.met, verdict.qualifying_fen, verdict.refs, verdict.at) == (
        False, 9999, ("r1",), None)  # lower: never, whatever comes later
    refunded = card(recharge("r1", 10000, 1, refunded=True), recharge("r2", 10000, 2))
    assert not f.recharge_condition_met(refunded, "first", 10000).met
    assert f.recharge_condition_met(card(), "first", 1) == (False, 0, (), None)


@pytest.mark.req("H-12")
def test_cumulative_mode_qualifies_the_moment_the_sum_reaches_the_threshold() -> None:
    facts = card(recharge("r1", 4000, 1), recharge("r2", 3000, 2, refunded=True),
                 recharge("r3", 6000, 3), recharge("r4", 100, 4))
    assert f.recharge_condition_met(facts, "cumulative", 10000) == (
        True, 10000, ("r1", "r3"), T0 + timedelta(minutes=3))
    short = f.recharge_condition_met(facts, "cumulative", 10101)
    assert (short.met, short.qualifying_fen, short.refs) == (False, 10100, ("r1", "r3", "r4"))
    assert f.recharge_condition_met(facts, "cumulative", 10100).met
    assert f.cumulative_recharge(facts) == 10100  # the refunded recharge never counts
    assert f.cumulative_recharge(facts, until=T0 + timedelta(minutes=2)) == 4000


@pytest.mark.req("H-12")
def test_recharges_are_ordered_by_time_then_ref() -> None:
    facts = card(recharge("b", 1, 5), recharge("a", 2, 5), recharge("c", 3, 1))
    assert [r.ref for r in facts.recharges] == ["c", "a", "b"]
    assert f.first_recharge(facts) == facts.recharges[0]


@pytest.mark.req("G2-19", "H-23", "H-24")
def test_packages_count_in_completion_order_without_the_fully_refunded() -> None:
    facts = card(packages=(package("o3", 3), package("o1", 1, "refunded", 1),
                           package("o2", 2, "partially_refunded"),
                           package("o4", 4, "partially_refunded", 2, quantity=2)))
    assert [o.order_id for o in facts.package_orders] == ["o1", "o2", "o3", "o4"]
    assert f.package_count(facts) == 2
    assert [f.nth_package(facts, o) for o in ("o1", "o2", "o3", "o4")] == [None, 1, 2, None]


@pytest.mark.req("H-26", "H-27")
def test_an_activation_needs_every_conjunct() -> None:
    cond = Condition("first", 5000)
    full = card(recharge("r1", 5000, 1), packages=(package("o1", 2),))
    assert f.is_activation(full) and f.is_activation(full, cond)
    assert not f.is_activation(replace(full, real_name_at=None), cond)
    assert not f.is_activation(replace(full, package_orders=(package("o1", 2, "refunded", 1),)),
                               cond)
    assert not f.is_activation(full, Condition("first", 5001))
    assert f.is_activation(full, Condition("cumulative", 5000))
    for other in ("stopped", "unknown"):
        assert not f.is_activation(replace(full, network_status=other), cond)
    no_recharge = card(packages=(package("o1", 2),))
    assert f.is_activation(no_recharge) and not f.is_activation(no_recharge, cond)


@pytest.mark.req("H-30", "C-04")
def test_the_snapshot_month_ends_at_midnight_shanghai() -> None:
    start, end = month_bounds("2026-01")
    assert start == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 1, 31, 16, 0, tzinfo=UTC)
    assert snapshot_due(end - timedelta(seconds=1)) == "2025-12"
    assert snapshot_due(end) == "2026-01"
    assert month_of(end - timedelta(seconds=1)) == "2026-01" and month_of(end) == "2026-02"
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months_between("2026-02", "2026-01") == []
    with pytest.raises(ValueError):
        month_bounds("2026-13")
