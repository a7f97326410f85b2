"""One evaluation of the quota rules: everything they decide for a set of cards and pools.

`evaluate` is what `store.quota.evaluate` calls, once per transaction, between loading the
rows it locked and saving what changed: new reason sets and pool flags, the cycle marks to
refresh, each card's next check, the warning thresholds reached and the desired-state changes
to publish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from core.operators import CardStatus
from domain.quota.rules import (
    CardQuota,
    PoolQuota,
    decide,
    desired_status,
    effective_reasons,
    next_check,
    reached,
)


@dataclass(frozen=True)
class CardInput:
    """A locked card: its rule inputs, and where its reasons and warnings belong."""

    quota: CardQuota
    warn_percents: Sequence[int]
    enterprise_id: str
    cycle: date  # the card's current cycle (its enterprise's time zone)
    stale: bool  # its reasons were decided in an earlier cycle


@dataclass(frozen=True)
class PoolInput:
    """A locked pool: its rule inputs, its stored flag, and where its state belongs."""

    quota: PoolQuota
    exhausted: bool
    warn_percents: Sequence[int]
    enterprise_id: str
    cycle: date
    stale: bool


@dataclass(frozen=True)
class CardWrite:
    """A card row to write: its new reasons (None: unchanged) and the cycle they belong to."""

    iccid: str
    reasons: frozenset[str] | None
    cycle: date


@dataclass(frozen=True)
class PoolWrite:
    """A pool row to write: its flag, the cycle it belongs to, and whether it flipped."""

    pool_id: str
    exhausted: bool
    cycle: date
    flipped: bool


@dataclass(frozen=True)
class Check:
    """The usage of its cycle at which a card must next be evaluated (None: never again)."""

    iccid: str
    cycle: date
    next_check: int | None


@dataclass(frozen=True)
class AlertDue:
    """A warning threshold reached (the store raises each at most once per cycle)."""

    enterprise_id: str
    kind: str  # "card_package" | "pool"
    subject: str
    cycle: date
    percent: int
    used_bytes: int
    limit_bytes: int


@dataclass(frozen=True)
class DesiredChange:
    """A card's desired state changed (or was re-stated): what it is now and why."""

    iccid: str
    desired_status: CardStatus
    stop_reasons: list[str]
    cause: str


@dataclass(frozen=True)
class Evaluation:
    """Everything one run of the rules decided.

    `changes` covers the evaluated cards; members of a pool in `pools` that `flipped` change
    too, and the store reads them back with the SQL copy of `effective_reasons`
    (`cp_effective_reasons`, property-tested against it)."""

    cards: list[CardWrite]
    pools: list[PoolWrite]
    checks: list[Check]
    alerts: list[AlertDue]
    changes: list[DesiredChange]

    @property
    def flipped_pools(self) -> dict[str, bool]:
        return {p.pool_id: p.exhausted for p in self.pools if p.flipped}


def evaluate(cards: Sequence[CardInput], pools: Mapping[str, PoolInput], cause: str
             ) -> Evaluation:
    """Run every quota rule for these cards and pools (pure)."""
    decision = decide([c.quota for c in cards], {k: p.quota for k, p in pools.items()},
                      {k: p.exhausted for k, p in pools.items()})
    exhausted = {k: decision.pools.get(k, p.exhausted) for k, p in pools.items()}
    card_writes = [CardWrite(c.quota.iccid, decision.cards.get(c.quota.iccid), c.cycle)
                   for c in cards if c.quota.iccid in decision.cards or c.stale]
    pool_writes = [PoolWrite(k, exhausted[k], p.cycle, k in decision.pools)
                   for k, p in pools.items() if k in decision.pools or p.stale]
    checks = [Check(c.quota.iccid, c.cycle,
                    next_check(c.quota, _pool_of(c, pools), c.warn_percents)) for c in cards]
    changes = []
    for c in cards:
        own = decision.cards.get(c.quota.iccid)
        if own is not None:
            reasons = effective_reasons(own, exhausted.get(c.quota.pool_id or "", False))
            changes.append(DesiredChange(c.quota.iccid, desired_status(reasons), reasons, cause))
    return Evaluation(card_writes, pool_writes, checks, _alerts(cards, pools), changes)


def _pool_of(card: CardInput, pools: Mapping[str, PoolInput]) -> PoolQuota | None:
    pool = pools.get(card.quota.pool_id) if card.quota.pool_id else None
    return pool.quota if pool is not None else None


def _alerts(cards: Sequence[CardInput], pools: Mapping[str, PoolInput]) -> list[AlertDue]:
    """Every warning threshold each card's package and each pool's limit has reached."""
    due = [AlertDue(c.enterprise_id, "card_package", c.quota.iccid, c.cycle, pct,
                    c.quota.usage_bytes, c.quota.package_bytes)
           for c in cards if c.quota.package_bytes
           for pct in reached(c.quota.usage_bytes, c.quota.package_bytes, c.warn_percents)]
    due += [AlertDue(p.enterprise_id, "pool", k, p.cycle, pct, p.quota.used_bytes,
                     p.quota.limit_bytes)
            for k, p in pools.items() if p.quota.limit_bytes
            for pct in reached(p.quota.used_bytes, p.quota.limit_bytes, p.warn_percents)]
    return due
