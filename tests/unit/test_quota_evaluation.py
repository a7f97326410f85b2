"""One evaluation of the quota rules returns everything it decides: what the store writes,
the next checks, the warnings due and the desired-state changes to publish."""

from __future__ import annotations

from datetime import date

from domain.quota import (
    MANUAL,
    PACKAGE_QUOTA,
    POOL_EXHAUSTED,
    AlertDue,
    CardInput,
    CardQuota,
    CardWrite,
    Check,
    DesiredChange,
    PoolInput,
    PoolQuota,
    PoolWrite,
    evaluate,
)

CYCLE = date(2030, 5, 1)


def card(iccid: str, used: int, package: int | None = 100, pool: str | None = None,
         reasons: frozenset[str] = frozenset(), stale: bool = False) -> CardInput:
    return CardInput(CardQuota(iccid, package, pool, used, reasons), [80, 90], "e", CYCLE,
                     stale)


def pool(pool_id: str, used: int, limit: int = 1000, exhausted: bool = False,
         stale: bool = False) -> PoolInput:
    return PoolInput(PoolQuota(pool_id, limit, None, used), exhausted, [50], "e", CYCLE, stale)


def test_a_card_over_its_package_is_stopped_and_told_why() -> None:
    result = evaluate([card("c1", 120, reasons=frozenset({MANUAL}))], {}, cause="usage")
    assert result.cards == [CardWrite("c1", frozenset({MANUAL, PACKAGE_QUOTA}), CYCLE)]
    assert result.changes == [DesiredChange("c1", "stopped", [MANUAL, PACKAGE_QUOTA], "usage")]
    assert result.checks == [Check("c1", CYCLE, None)]  # every threshold is behind it
    assert [a.percent for a in result.alerts] == [80, 90]


def test_nothing_changes_below_the_thresholds_but_the_next_check_is_set() -> None:
    result = evaluate([card("c1", 10)], {}, cause="usage")
    assert result.cards == [] and result.changes == [] and result.alerts == []
    assert result.checks == [Check("c1", CYCLE, 80)]


def test_a_stale_card_is_rewritten_into_the_current_cycle_even_unchanged() -> None:
    result = evaluate([card("c1", 0, stale=True)], {}, cause="cycle_rollover")
    assert result.cards == [CardWrite("c1", None, CYCLE)] and result.changes == []


def test_a_pool_running_dry_flips_once_and_its_loaded_members_follow() -> None:
    members = [card("c1", 600, package=None, pool="p"), card("c2", 500, package=None, pool="p")]
    result = evaluate(members, {"p": pool("p", 1100)}, cause="usage")
    assert result.pools == [PoolWrite("p", True, CYCLE, flipped=True)]
    assert result.flipped_pools == {"p": True}
    assert result.cards == []  # pool_exhausted comes from the pool row, not the cards
    assert result.changes == []  # the store reads every member's change back (SQL)
    assert result.alerts == [AlertDue("e", "pool", "p", CYCLE, 50, 1100, 1000)]


def test_an_exhausted_pool_stays_exhausted_without_a_write_unless_stale() -> None:
    assert evaluate([], {"p": pool("p", 1100, exhausted=True)}, cause="usage").pools == []
    stale = evaluate([], {"p": pool("p", 0, exhausted=True, stale=True)}, cause="cycle_rollover")
    assert stale.pools == [PoolWrite("p", False, CYCLE, flipped=True)]


def test_a_card_changing_in_an_exhausted_pool_shows_the_pool_reason() -> None:
    result = evaluate([card("c1", 150, pool="p")], {"p": pool("p", 2000, exhausted=True)},
                      cause="usage")
    assert result.changes == [DesiredChange("c1", "stopped", [PACKAGE_QUOTA, POOL_EXHAUSTED],
                                            "usage")]
