"""Simulated operator card events (G2-09): real-name checks, activations and recharges for a
fleet's cards, as `POST /v1/upstream/{operator}/card-events` takes them (a pure, seeded
generator; `simulators.fleet_push.push_card_events` sends them)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from simulators.fleet import FleetSpec, fleet_iccids

# A card's life as its operator reports it: verified, then activated, then recharged (again).
STAGES = ("real_name_verified", "activated", "recharged")


def card_events(spec: FleetSpec, count: int, start: datetime) -> Iterator[dict[str, Any]]:
    """`count` card events (contract JSON), the fleet's cards in round-robin: each card's
    first event verifies its real name, the second activates it, every later one recharges
    it by 10–100 yuan (whole yuan, in fen). Event ids are unique per seed and position, so
    sending the same events again is a harmless repeat."""
    iccids = fleet_iccids(spec)
    rng = random.Random(spec.seed * 47)
    for n in range(count):
        stage = STAGES[min(n // spec.cards, len(STAGES) - 1)]
        event: dict[str, Any] = {
            "event_id": f"fleet-{spec.seed}-card-event-{n}", "iccid": iccids[n % spec.cards],
            "type": stage, "at": (start + timedelta(seconds=n)).isoformat()}
        if stage == "recharged":
            event["amount_fen"] = rng.randint(10, 100) * 100
        yield event
