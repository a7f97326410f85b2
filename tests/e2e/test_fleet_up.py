"""`cardpulse fleet` against `cardpulse up`: registered cards, signed pushes, usage counted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from simulators.fleet import FleetSpec, fleet_iccids
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
            return sum(httpx.get(f"{up.api}/v1/cards/{iccid}", headers=headers)
                       .json()["cycle_usage_bytes"] > 0
                       for iccid in fleet_iccids(FleetSpec(20, seed=5)))

        eventually(lambda: counted() == 20, timeout=30, what="usage on all 20 cards",
                   show=counted)
        alerts = httpx.get(f"{up.api}/v1/enterprises/fleet/alerts", headers=headers)
        assert alerts.status_code == 200
    finally:
        if up.proc.poll() is None:
            stop(up)
