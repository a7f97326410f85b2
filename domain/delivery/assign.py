"""Who gets a project (I-29, I-31, AMB-43, AMB-47): pure picks over candidates with their live
loads, drawing from an injected `random.Random` so that tests seed it.

Provider: among providers with spare capacity (load < max load), weight ÷ the sum of the
eligible weights. Staff: the smallest load ÷ max load, compared as exact fractions; ties are
broken uniformly at random among the tied only. Candidates are sorted by id before drawing, so
one seed gives one answer whatever order the database returned them in.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class ProviderSlot:
    provider_id: str
    weight: int
    max_load: int
    load: int


@dataclass(frozen=True)
class StaffSlot:
    user_id: str
    max_load: int
    load: int
    accepting: bool = True


def rng_from_settings(seed: int | None) -> random.Random:
    """The process's random source: seeded in tests (`CARDPULSE_TEST_RANDOM_SEED`)."""
    return random.Random(seed)  # noqa: S311 - a fair draw, not a secret


def eligible_providers(slots: Sequence[ProviderSlot]) -> list[ProviderSlot]:
    return sorted((s for s in slots if s.load < s.max_load), key=lambda s: s.provider_id)


def pick_provider(slots: Sequence[ProviderSlot], rng: random.Random) -> str | None:
    """I-29: a provider with spare capacity, with probability weight ÷ Σ eligible weights."""
    eligible = eligible_providers(slots)
    if not eligible:
        return None
    draw = rng.randrange(sum(s.weight for s in eligible))
    for slot in eligible:
        if draw < slot.weight:
            return slot.provider_id
        draw -= slot.weight
    raise AssertionError("unreachable: the draw is below the total weight")


def tied_staff(slots: Sequence[StaffSlot]) -> list[str]:
    """I-31: the eligible staff sharing the smallest load ÷ max load (exact fractions)."""
    eligible = [s for s in slots if s.accepting and s.max_load > 0 and s.load < s.max_load]
    if not eligible:
        return []
    best = min(Fraction(s.load, s.max_load) for s in eligible)
    return sorted(s.user_id for s in eligible if Fraction(s.load, s.max_load) == best)


def pick_staff(slots: Sequence[StaffSlot], rng: random.Random) -> str | None:
    """I-31: uniformly among the tied least-loaded staff; None when nobody is eligible."""
    tied = tied_staff(slots)
    return rng.choice(tied) if tied else None
