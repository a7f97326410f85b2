"""The simulated operator's card events (simulators/card_events.py): valid for the push
endpoint, seeded, each card verified, then activated, then recharged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.routers.upstream import parse_card_events
from simulators.card_events import card_events
from simulators.fleet import FleetSpec, fleet_iccids

START = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)  # any fixed instant: nothing reads the date


@pytest.mark.req("G2-09")
def test_generated_events_are_what_the_push_endpoint_accepts() -> None:
    spec = FleetSpec(cards=3, seed=5)
    events = list(card_events(spec, 10, START))
    parsed = parse_card_events({"events": events}, 10_000)
    assert [e.type for e in parsed] == ["real_name_verified"] * 3 + ["activated"] * 3 + [
        "recharged"] * 4
    assert [e.iccid for e in parsed[:3]] == fleet_iccids(spec)
    assert all(e.amount_fen and e.amount_fen % 100 == 0 for e in parsed[6:])
    assert len({e.event_id for e in parsed}) == 10
    assert list(card_events(spec, 10, START)) == events  # the seed repeats them
