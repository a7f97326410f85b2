"""A realistic big fleet for the cards-page benchmark, generated from a seed (pure: no I/O).

ICCIDs carry the issuer code of their operator (China Mobile 00, Unicom 01, Telecom 03), as
real ones do, so the cards of one operator are one long run in ICCID order. Most cards are in
one of the pools, a few pools are used up, a few per cent of the cards have their own stop
reasons, and the stopped ones have a reconciler command behind them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate

from domain.usage.partitioning import partition_for
from simulators.fleet import NUMBER_PREFIX
from store.fleet_load import HourlyUsage, LoadedCard, LoadedPool

ISSUER = {"onelink": "00", "jasper": "01", "ctcc": "03"}
OPERATOR_SHARE = (("onelink", 0.5), ("jasper", 0.3), ("ctcc", 0.2))
# Each own stop reason and the share of the cards that have it.
OWN_REASONS = (("package_quota", 0.03), ("pool_card_cap", 0.01), ("manual", 0.003))
PACKAGES = (1 << 30, 100 << 20, 5 << 30, None)
POOLED_SHARE = 0.9
EXHAUSTED_POOLS = 4
GIB = 1 << 30


@dataclass(frozen=True)
class FleetPlan:
    run: int
    cards: int
    pools: int
    partitions: int
    seed: int = 7

    def pool_ids(self) -> list[str]:
        return [f"pool-{self.run}-{k:03d}" for k in range(self.pools)]

    def exhausted(self) -> set[str]:
        return set(self.pool_ids()[:min(EXHAUSTED_POOLS, self.pools)])


def iccid(plan: FleetPlan, operator: str, index: int) -> str:
    """20 digits: 8986, the issuer, the run, a serial."""
    return f"8986{ISSUER[operator]}{plan.run % 10_000:04d}{index:010d}"


def msisdn(plan: FleetPlan, operator: str, index: int) -> str:
    """13 digits in the operator's IoT range, unique per (run % 10, index)."""
    return f"{NUMBER_PREFIX[operator]}{plan.run % 10}{index:08d}"


def plan_pools(plan: FleetPlan) -> list[LoadedPool]:
    exhausted = plan.exhausted()
    return [LoadedPool(p, 500 * GIB, 500 * GIB if p in exhausted else 120 * GIB, p in exhausted)
            for p in plan.pool_ids()]


def _reasons(rng: random.Random, pooled: bool) -> list[str]:
    return [r for r, share in OWN_REASONS
            if rng.random() < share and (pooled or r != "pool_card_cap")]


_OPERATORS = [o for o, _ in OPERATOR_SHARE]
_WEIGHTS = list(accumulate(s for _, s in OPERATOR_SHARE))


def _card(plan: FleetPlan, rng: random.Random, index: int, now: datetime, pools: list[str],
          exhausted: set[str]) -> LoadedCard:
    operator = rng.choices(_OPERATORS, cum_weights=_WEIGHTS)[0]
    pool = rng.choice(pools) if pools and rng.random() < POOLED_SHARE else None
    reasons = _reasons(rng, pool is not None)
    stopped = bool(reasons) or pool in exhausted
    package = rng.choice(PACKAGES)
    used = int((package or GIB) * min(1.2, rng.random() ** 2 * (1.1 if reasons else 0.95)))
    number = iccid(plan, operator, index)
    return LoadedCard(
        number, operator, msisdn(plan, operator, index), pool, package, reasons,
        "stopped" if stopped else rng.choice(("active",) * 30 + ("unknown",)),
        partition_for(number, plan.partitions), used,
        now - timedelta(minutes=rng.randrange(5, 3000)) if stopped else None,
        "failed" if stopped and rng.random() < 0.02 else "done")


def plan_cards(plan: FleetPlan, now: datetime) -> Iterator[LoadedCard]:
    """The fleet, card after card (the same for the same plan)."""
    rng = random.Random(plan.seed)  # noqa: S311 - a reproducible fleet, not a secret
    pools, exhausted = plan.pool_ids(), plan.exhausted()
    for index in range(plan.cards):
        yield _card(plan, rng, index, now, pools, exhausted)


def plan_hourly(cards: list[str], now: datetime, hours: int = 48) -> Iterator[HourlyUsage]:
    """Hourly usage over the last `hours` hours for a sample of cards (the card page's
    chart)."""
    rng = random.Random(len(cards))  # noqa: S311 - a reproducible fleet, not a secret
    top = now.replace(minute=0, second=0, microsecond=0)
    for number in cards:
        for back in range(hours):
            yield HourlyUsage(number, top - timedelta(hours=back), rng.randrange(0, 8 << 20))


def cycle_start(now: datetime) -> date:
    """The first day of the month of `now` (as given: in the enterprise's zone)."""
    return now.date().replace(day=1)
