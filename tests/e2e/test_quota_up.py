"""Quota enforcement on `cardpulse up`, driven only through the public API and signed pushes."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from core.signing import sign
from tests.support.dates import MovedClock, mid_cycle, move_clock_sync
from tests.support.stack import Up, launch, wait_up
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
SECRET = "e2e-quota-secret-0123456789"
A, B, C = "89860000000000000101", "89860000000000000202", "89860000000000000303"
_ids = itertools.count()


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = launch(tmp_path / "state", env={
        "CARDPULSE_TEST_CLOCK": "true", "CARDPULSE_ROLLOVER_CHECK_S": "1",
        "CARDPULSE_SIM_COOLDOWN_S": "0", "CARDPULSE_CONTROLS_CARD_COOLDOWN_S": "0"})
    wait_up(running)
    yield running
    if running.proc.poll() is None:
        running.proc.terminate()
        running.proc.wait(30)


class Api:
    def __init__(self, up: Up) -> None:
        self.up = up
        self.http = httpx.Client(base_url=up.api, timeout=10,
                                 headers={"Authorization": f"Bearer {up.token()}"})
        # Pushes and reads in one cycle whatever the date: the platform clock in mid-month.
        self.clock: MovedClock = move_clock_sync(self.http, mid_cycle())

    def call(self, method: str, path: str, code: int = 200, **body: Any) -> dict[str, Any]:
        answer = self.http.request(method, path, json=body or None)
        assert answer.status_code == code, answer.text
        return answer.json() if answer.content else {}

    def push(self, iccid: str, nbytes: int) -> None:
        end = self.clock.now() - timedelta(seconds=2)
        record = {"record_id": f"e2e-{next(_ids)}", "iccid": iccid, "bytes": nbytes,
                  "start": (end - timedelta(minutes=1)).isoformat(), "end": end.isoformat()}
        raw = orjson.dumps({"records": [record]})
        stamp = str(int(time.time()))
        answer = httpx.post(f"{self.up.api}/v1/upstream/onelink/usage", content=raw, headers={
            "X-Cardpulse-Timestamp": stamp, "X-Cardpulse-Signature": sign(SECRET, stamp, raw)})
        assert answer.status_code == 202, answer.text

    def reasons(self, iccid: str, expected: list[str]) -> None:
        eventually(lambda: self.call("GET", f"/v1/cards/{iccid}")["stop_reasons"] == expected,
                   timeout=30, what=f"{iccid} → {expected}",
                   show=lambda: self.call("GET", f"/v1/cards/{iccid}"))

    def network(self, iccid: str, status: str, changes: int | None) -> None:
        """The operator (simulator) executed the change (`changes` in all, when every
        transition had time to be sent), and the card view follows."""
        def sim() -> dict[str, Any]:
            body: dict[str, Any] = httpx.get(f"{self.up.sim}/_sim/cards/{iccid}").json()
            return body

        def done() -> bool:
            now = sim()
            counted = changes is None or now["status_changes"] == changes
            view = self.call("GET", f"/v1/cards/{iccid}")
            return bool(now["status"] == status and counted and view["network_status"] == status)

        eventually(done, timeout=30, what=f"{iccid} {status} on the network", show=sim)


def test_quota_rules_on_the_running_platform(up: Up) -> None:
    api = Api(up)
    api.call("POST", "/v1/enterprises", 201, enterprise_id="acme", name="Acme")
    api.call("PUT", "/v1/operators/onelink/push-secret", 204, secret=SECRET)
    api.call("POST", "/v1/pools", 201, pool_id="fleet", enterprise_id="acme", limit_bytes=1000)
    api.call("POST", "/v1/cards", 201, iccid=A, enterprise_id="acme", operator="onelink",
             package_bytes=1000)
    for iccid in (B, C):
        api.call("POST", "/v1/cards", 201, iccid=iccid, enterprise_id="acme",
                 operator="onelink", pool_id="fleet")

    api.push(A, 1200)  # crosses the package
    api.reasons(A, ["package_quota"])
    api.network(A, "stopped", 1)
    view = api.call("GET", f"/v1/cards/{A}")
    assert view["control"]["last_command"] == "stop"
    assert view["control"]["last_outcome"] == "accepted"
    api.call("PATCH", f"/v1/cards/{A}", package_bytes=5000)
    api.reasons(A, [])
    api.network(A, "active", 2)

    api.push(B, 700)
    api.push(C, 300)  # the pool reaches its limit: every member stops
    api.reasons(B, ["pool_exhausted"])
    api.reasons(C, ["pool_exhausted"])
    api.network(B, "stopped", 1)
    api.network(C, "stopped", 1)
    pool = api.call("GET", "/v1/pools/fleet")
    assert (pool["used_bytes"], pool["card_count"], pool["status"]) == (1000, 2, "exhausted")
    api.call("PATCH", "/v1/pools/fleet", limit_bytes=5000)
    api.reasons(B, [])
    api.reasons(C, [])

    api.call("PATCH", "/v1/pools/fleet", per_card_limit_bytes=500)  # only B is over it
    api.reasons(B, ["pool_card_cap"])
    api.reasons(C, [])

    api.call("POST", f"/v1/cards/{C}/stop")
    api.call("PATCH", "/v1/pools/fleet", limit_bytes=100)
    api.reasons(C, ["manual", "pool_exhausted"])
    api.call("PATCH", "/v1/pools/fleet", limit_bytes=5000)
    api.reasons(C, ["manual"])  # a manual stop survives every automatic change
    api.call("POST", f"/v1/cards/{C}/resume")
    api.reasons(C, [])

    api.call("PATCH", f"/v1/cards/{B}", pool_id=None)  # leaving the pool clears pool reasons
    api.reasons(B, [])

    api.call("PATCH", f"/v1/cards/{A}", package_bytes=100)
    api.reasons(A, ["package_quota"])
    api.call("PUT", "/v1/admin/clock", 204, offset_seconds=api.clock.offset_s + 32 * 86400)
    api.reasons(A, [])  # the new cycle resumes it with no new usage
    assert api.call("GET", f"/v1/cards/{A}")["cycle_usage_bytes"] == 0
    # Transitions reversed before they were sent are never sent: only the end state is fixed.
    api.network(A, "active", None)
    api.network(C, "active", None)
