"""Polling an operator's cumulative counters through the real simulator and broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from connectors.factory import build_clients
from controls.poller import poll_operator
from controls.reconciler import OperatorLane
from core.settings import Settings
from store.db import Reconnecting
from streams.publish import Publisher
from tests.support.cards import add_cards, iccids
from tests.support.controls import published_usage
from tests.support.dates import mid_cycle, store_clock

pytestmark = pytest.mark.integration
MB = 1024 * 1024  # China Telecom counts in MB with two decimals




@pytest.mark.parametrize("operator", ["onelink", "jasper", "ctcc"])
async def test_snapshots_become_deltas_once(
    settings: Settings, sim_factory: Any, operator: str, tmp_path: Path,
) -> None:
    # The polls count per cycle of the platform clock (in this process): all in one cycle.
    moved = await store_clock(settings.require_database(), mid_cycle())
    sim = sim_factory(cooldown_s=0, time_offset_s=moved.offset_s)  # the operator's calendar too
    one, two = iccids(2, "8986400000")
    add_cards(settings, [one, two], operator)
    configured = settings.model_copy(update={"operator_base_url": sim.url})
    db = Reconnecting(settings.require_database())
    publisher = Publisher(settings)
    async with httpx.AsyncClient(timeout=10) as http:
        lane = OperatorLane(build_clients(configured, http)[operator])
        partitions = list(range(settings.usage_partitions))

        async def feed(iccid: str, nbytes: int) -> None:
            answer = await http.post(f"{sim.url}/_sim/usage",
                                     json={"records": [{"iccid": iccid, "bytes": nbytes}]})
            assert answer.is_success, answer.text

        await feed(one, 10 * MB)
        assert await poll_operator(db, lane, publisher, partitions) == 1
        assert await poll_operator(db, lane, publisher, partitions) == 0, "repeat: nothing new"
        await feed(one, 5 * MB)
        await feed(two, 2 * MB)
        assert await poll_operator(db, lane, publisher, partitions) == 2
    await publisher.stop()
    await db.close()
    records = await published_usage(settings, 3)
    assert sorted((r.iccid, r.bytes) for r in records) == sorted(
        [(one, 10 * MB), (one, 5 * MB), (two, 2 * MB)])
    with psycopg.connect(settings.require_database()) as conn:
        rows = conn.execute("SELECT iccid, high_bytes FROM usage_snapshots"
                            " WHERE high_bytes > 0").fetchall()  # not the closed last cycle
    marks: dict[str, int] = dict(rows)
    assert marks == {one: 15 * MB, two: 2 * MB}
