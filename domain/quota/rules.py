"""The quota rules as pure functions: which stop reasons a card and a pool should carry.

A card's stop reasons are a set; each automatic rule adds or removes only its own reason, and
`manual` and `not_opened` are never touched by them. A card is wanted `stopped` exactly when its
set (its own reasons plus `pool_exhausted` from its pool) is non-empty. Usage here is always
the usage of the current billing cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.operators import CardStatus

PACKAGE_QUOTA = "package_quota"
POOL_EXHAUSTED = "pool_exhausted"
POOL_CARD_CAP = "pool_card_cap"
MANUAL = "manual"
# A card registered as bought but never opened (operator inventory, test-ready, activation-ready)
# carries NOT_OPENED until it is activated; like MANUAL, no automatic rule ever clears it.
NOT_OPENED = "not_opened"
CARD_RULES = frozenset({PACKAGE_QUOTA, POOL_CARD_CAP})
REASON_ORDER = (NOT_OPENED, MANUAL, PACKAGE_QUOTA, POOL_EXHAUSTED, POOL_CARD_CAP)


@dataclass(frozen=True)
class PoolQuota:
    pool_id: str
    limit_bytes: int
    per_card_limit_bytes: int | None
    used_bytes: int


@dataclass(frozen=True)
class CardQuota:
    iccid: str
    package_bytes: int | None
    pool_id: str | None
    usage_bytes: int
    reasons: frozenset[str]


def pool_exhausted(pool: PoolQuota) -> bool:
    """A pool is exhausted while its members' cycle usage has reached its limit."""
    return pool.used_bytes >= pool.limit_bytes


def card_rule_reasons(card: CardQuota, pool: PoolQuota | None) -> frozenset[str]:
    """The card-level automatic reasons the card should carry now."""
    reasons = set()
    if card.package_bytes is not None and card.usage_bytes >= card.package_bytes:
        reasons.add(PACKAGE_QUOTA)
    cap = pool.per_card_limit_bytes if pool is not None else None
    if cap is not None and card.usage_bytes >= cap:
        reasons.add(POOL_CARD_CAP)
    return frozenset(reasons)


def next_card_reasons(card: CardQuota, pool: PoolQuota | None) -> frozenset[str]:
    """The card's own reasons after the automatic rules ran: non-rule reasons are kept."""
    return (card.reasons - CARD_RULES) | card_rule_reasons(card, pool)


def effective_reasons(own: Iterable[str], pool_is_exhausted: bool) -> list[str]:
    """All reasons of a card, in a stable order, as the API shows them."""
    reasons = set(own) | ({POOL_EXHAUSTED} if pool_is_exhausted else set())
    return sorted(reasons, key=lambda r: (REASON_ORDER.index(r) if r in REASON_ORDER else 99, r))


def desired_status(reasons: Iterable[str]) -> CardStatus:
    """A card runs only while it has no stop reason at all."""
    return "stopped" if any(True for _ in reasons) else "active"


@dataclass(frozen=True)
class Decision:
    """What changed: new own-reason sets of cards, new exhausted flags of pools."""

    cards: Mapping[str, frozenset[str]]
    pools: Mapping[str, bool]


def decide(
    cards: Iterable[CardQuota], pools: Mapping[str, PoolQuota], exhausted: Mapping[str, bool]
) -> Decision:
    """Re-run the rules for these cards and pools; report only what differs from now."""
    pool_changes = {
        pool_id: pool_exhausted(pool)
        for pool_id, pool in pools.items()
        if pool_exhausted(pool) != exhausted.get(pool_id, False)
    }
    card_changes = {}
    for card in cards:
        pool = pools.get(card.pool_id) if card.pool_id else None
        reasons = next_card_reasons(card, pool)
        if reasons != card.reasons:
            card_changes[card.iccid] = reasons
    return Decision(card_changes, pool_changes)


def next_check(card: CardQuota, pool: PoolQuota | None, warn_percents: Iterable[int]
               ) -> int | None:
    """The smallest cycle usage above the card's current usage at which its own rules or its
    package warnings can give another answer (package, warning thresholds, pool per-card cap);
    None when all of them are already reached. Below it, new usage needs no evaluation."""
    points: list[int] = []
    if card.package_bytes is not None:
        points.append(card.package_bytes)
        points += [-(-percent * card.package_bytes // 100) for percent in warn_percents]
    cap = pool.per_card_limit_bytes if pool is not None else None
    if cap is not None:
        points.append(cap)
    ahead = [point for point in points if point > card.usage_bytes]
    return min(ahead) if ahead else None


def reached(used: int, limit: int, percents: Iterable[int]) -> list[int]:
    """Warning thresholds (percent of `limit`) that `used` has reached."""
    return sorted(p for p in set(percents) if used * 100 >= p * limit)
