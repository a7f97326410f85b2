"""A simulated fleet of cards: seeded, realistic usage records (pure generators).

Each card gets a usage profile drawn once from its seed: most IoT cards send little (meters,
trackers), a few send a lot (cameras, routers): bytes per record follow a log-normal law. Usage
follows the time of day (more by day than at night). The same seed gives the same ICCIDs,
profiles and records, so demos and load tests are repeatable.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

OPERATOR_PREFIX = {"onelink": "898600", "jasper": "898601", "ctcc": "898603"}
# 13-digit numbers in each operator's IoT ranges: China Mobile 1440…, China Unicom 1460…,
# China Telecom's 1410… access numbers (as in the evidence's samples).
NUMBER_PREFIX = {"onelink": "1440", "jasper": "1460", "ctcc": "1410"}


@dataclass(frozen=True)
class FleetSpec:
    cards: int
    operator: str = "onelink"
    seed: int = 1
    session_s: int = 300  # one record covers five minutes of a data session


def fleet_iccids(spec: FleetSpec) -> list[str]:
    """Deterministic, valid 20-character ICCIDs for the fleet (the seed picks the range)."""
    prefix = OPERATOR_PREFIX[spec.operator]
    base = (spec.seed * 7_919) % 10**8
    return [f"{prefix}{base:08d}{n:06d}" for n in range(spec.cards)]


def fleet_numbers(spec: FleetSpec) -> list[str]:
    """The number of each card of `fleet_iccids` (same order): how its operator knows it."""
    base = spec.seed % 100
    return [f"{NUMBER_PREFIX[spec.operator]}{base:02d}{n:07d}" for n in range(spec.cards)]


def profiles(spec: FleetSpec) -> list[float]:
    """Mean bytes per record for each card: log-normal around 200 KB, a heavy tail."""
    rng = random.Random(spec.seed)
    return [rng.lognormvariate(math.log(200_000), 1.2) for _ in range(spec.cards)]


def diurnal(hour: float) -> float:
    """Relative traffic by local hour: low at 4 am, high in the evening."""
    return 0.55 + 0.45 * math.sin((hour - 10) / 24 * 2 * math.pi)


def records(spec: FleetSpec, count: int, start: datetime, *, first: int = 0
            ) -> Iterator[dict[str, Any]]:
    """`count` push records (contract JSON), cards in round-robin, time advancing per round."""
    iccids = fleet_iccids(spec)
    means = profiles(spec)
    rng = random.Random(spec.seed * 31 + first)
    for n in range(first, first + count):
        card = n % spec.cards
        end = start + timedelta(seconds=spec.session_s * (n // spec.cards + 1))
        factor = diurnal(end.hour + end.minute / 60)
        nbytes = int(rng.expovariate(1 / (means[card] * factor)))
        yield {"record_id": f"fleet-{spec.seed}-{n}", "iccid": iccids[card], "bytes": nbytes,
               "start": (end - timedelta(seconds=spec.session_s)).isoformat(),
               "end": end.isoformat()}
