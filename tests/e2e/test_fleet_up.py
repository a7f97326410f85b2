"""`cardpulse fleet` against `cardpulse up`: registered cards, signed pushes, usage counted."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from simulators.fleet import FleetSpec, fleet_iccids
from tests.support.dates import cycle_of
from tests.support.stack import launch, stop, wait_up
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def test_fleet_registers_pushes_and_everything_is_counted(tmp_path: Path) -> None:
    up = launch(tmp_path / "state")
    try:
        wait_up(up)
        api_port = up.api.rsplit(":", 1)[1]
        sim_port = up.sim.rsplit(":", 1)[1]
        run = subprocess.run(
            [sys.executable, "-m", "cardpulse.cli", "fleet", "--cards", "20", "--records", "400",
             "--batch", "50", "--register", "--seed", "5", "--api-port", api_port,
             "--sim-port", sim_port, "--state-dir", str(up.state_dir)],
            capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr
        assert "pushing usage: 400/400" in run.stderr

        headers = {"Authorization": f"Bearer {up.token()}"}

        def counted() -> int:
            """Cards with usage in the cycles of their records: `fleet` dates them over the
            last two hours by this machine's clock, so they may straddle a month's start."""
            now, used = datetime.now(UTC), dict[str, int]()
            for cycle in {cycle_of(now - timedelta(days=1)), cycle_of(now)}:
                answer = httpx.get(f"{up.api}/v1/enterprises/fleet/cards.csv",
                                   params={"cycle": cycle}, headers=headers)
                assert answer.status_code == 200, answer.text
                for row in csv.DictReader(io.StringIO(answer.text)):
                    used[row["iccid"]] = used.get(row["iccid"], 0) + int(row["usage_bytes"])
            return sum(used.get(iccid, 0) > 0 for iccid in fleet_iccids(FleetSpec(20, seed=5)))

        eventually(lambda: counted() == 20, timeout=30, what="usage on all 20 cards",
                   show=counted)
        alerts = httpx.get(f"{up.api}/v1/enterprises/fleet/alerts", headers=headers)
        assert alerts.status_code == 200
    finally:
        if up.proc.poll() is None:
            stop(up)
