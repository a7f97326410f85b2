"""The simulated fleet: valid, repeatable records with a realistic spread of usage."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.usage.validation import parse_record
from simulators.fleet import FleetSpec, diurnal, fleet_iccids, profiles, records

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_records_are_valid_and_repeatable() -> None:
    spec = FleetSpec(cards=50, operator="jasper", seed=4)
    start = datetime(2026, 11, 22, 0, tzinfo=UTC)
    batch = list(records(spec, 400, start))
    assert batch == list(records(spec, 400, start))
    assert len({r["record_id"] for r in batch}) == 400
    assert {r["iccid"] for r in batch} == set(fleet_iccids(spec))
    for record in batch:
        assert not isinstance(parse_record(record, NOW), list), record


def test_seeds_give_different_fleets_and_a_heavy_tail() -> None:
    assert fleet_iccids(FleetSpec(10, seed=1)) != fleet_iccids(FleetSpec(10, seed=2))
    means = sorted(profiles(FleetSpec(2000, seed=9)))
    median, top = means[1000], means[-20]
    assert 100_000 < median < 400_000
    assert top > 5 * median, "a few cards use far more than most"


def test_more_traffic_by_day_than_at_night() -> None:
    assert diurnal(16) > diurnal(4)
    assert all(0.05 < diurnal(h) <= 1.0 for h in range(24))
