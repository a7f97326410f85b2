"""`cardpulse up` as a user runs it: a subprocess, driven over HTTP, stopped with SIGTERM."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cardpulse.supervisor.children import free_port
from core.signing import sign
from tests.support.dates import MovedClock, mid_cycle, move_clock_sync
from tests.support.stack import Up, launch, still_running, stop, wait_up
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
SECRET = "e2e-push-secret-0123456789"
CARD = "89860012345678901234"
# The test clock is on so that the pushes and the reads of the card's current cycle fall in
# one cycle whatever the date (`configure` moves it to mid-month).
CLOCK_ON = {"CARDPULSE_TEST_CLOCK": "true"}


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def up(state_dir: Path) -> Iterator[Up]:
    running = launch(state_dir, env=CLOCK_ON)
    wait_up(running)
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


def push(up: Up, records: list[dict[str, Any]], secret: str = SECRET) -> httpx.Response:
    raw = orjson.dumps({"records": records})
    stamp = str(int(time.time()))
    return httpx.post(f"{up.api}/v1/upstream/onelink/usage", content=raw, headers={
        "X-Cardpulse-Timestamp": stamp, "X-Cardpulse-Signature": sign(secret, stamp, raw),
        "Content-Type": "application/json"}, timeout=10)


def record(record_id: str, nbytes: int, clock: MovedClock, iccid: str = CARD
           ) -> dict[str, Any]:
    """A usage record of the minute before a minute ago on the platform clock."""
    end = clock.now().replace(microsecond=0) - timedelta(seconds=60)
    return {"record_id": record_id, "iccid": iccid, "bytes": nbytes,
            "start": (end - timedelta(seconds=60)).isoformat(), "end": end.isoformat()}


def usage_of(up: Up) -> int:
    answer = httpx.get(f"{up.api}/v1/cards/{CARD}",
                       headers={"Authorization": f"Bearer {up.token()}"}, timeout=5)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["cycle_usage_bytes"])


def configure(up: Up) -> MovedClock:
    """An enterprise, the push secret and the card; the platform clock in mid-month."""
    admin = {"Authorization": f"Bearer {up.token()}"}
    with httpx.Client(base_url=up.api, headers=admin, timeout=10) as client:
        moved = move_clock_sync(client, mid_cycle())
        assert client.post("/v1/enterprises", json={"enterprise_id": "acme",
                                                    "name": "Acme"}).status_code == 201
        assert client.put("/v1/operators/onelink/push-secret",
                          json={"secret": SECRET}).status_code == 204
        assert client.post("/v1/cards", json={"iccid": CARD, "enterprise_id": "acme",
                                              "operator": "onelink"}).status_code == 201
    return moved


def test_push_twice_counted_once_then_clean_stop_and_restart(up: Up, state_dir: Path) -> None:
    # "warnings" (e.g. a work calendar ending within 60 days) do not make the API unready
    assert httpx.get(f"{up.api}/healthz").json()["status"] == "ok"
    assert "# TYPE" in httpx.get(f"{up.api}/metrics").text
    assert f"  Console      {up.api}/console\n" in up.text()
    login = httpx.get(f"{up.api}/console", follow_redirects=True)
    assert login.status_code == 200 and 'action="/console/login' in login.text
    card = httpx.get(f"{up.sim}/_sim/cards/{CARD}").json()
    check_payment_channel(up)
    assert (card["iccid"], card["status"], card["status_changes"]) == (CARD, "active", 0)
    clock = configure(up)
    batch = [record("a", 1000, clock), record("b", 234, clock)]
    assert push(up, batch).json() == {"accepted": 2}
    assert push(up, batch).json() == {"accepted": 2}
    # Same card, same partition: once the marker is counted the repeat has been processed.
    assert push(up, [record("marker", 1, clock)]).status_code == 202
    eventually(lambda: usage_of(up) == 1235, timeout=30, what="usage counted once",
               show=lambda: usage_of(up))

    check_metrics_endpoints(up)

    bad = push(up, [record("bad", 1, clock, iccid="8986-not-an-iccid")])
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "records", 0, "iccid"]
    assert push(up, batch, secret="not-the-secret-at-all").status_code == 401

    children, names = stop(up)
    assert "postgres" in names and any(name.startswith("tansu") for name in names), names
    assert still_running(children) == []

    again = launch(state_dir, env=CLOCK_ON)  # the stored clock offset survives too
    try:
        wait_up(again)
        assert usage_of(again) == 1235
        assert push(again, batch).status_code == 202
        assert push(again, [record("marker-2", 1, clock)]).status_code == 202
        eventually(lambda: usage_of(again) == 1236, timeout=30, what="restart still dedupes",
                   show=lambda: usage_of(again))
        assert still_running(stop(again)[0]) == []
    finally:
        if again.proc.poll() is None:
            again.proc.kill()


def check_payment_channel(up: Up) -> None:
    """The simulator serves the payment channel, signing with the secret `up` generated."""
    assert f"  Payments     {up.sim}/_pay   (" in up.text()
    assert (up.state_dir / "payment-secret").read_text().strip()
    created = httpx.post(f"{up.sim}/_pay/payments", timeout=5, json={
        "merchant_order_id": "e2e-1", "amount_fen": 100, "subject": "e2e",
        "notify_url": f"{up.api}/nowhere"})
    assert created.status_code == 201, created.text
    assert httpx.get(f"{up.sim}/_pay/stats").json()["payments"]["created"] == 1


def check_metrics_endpoints(up: Up) -> None:
    """Every process `up` started serves /metrics that promtool accepts."""
    line = next(x for x in up.text().splitlines() if x.strip().startswith("Metrics"))
    urls = re.findall(r"http://\S+/metrics", line)
    assert len(urls) == 3, line
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install the Debian package prometheus"
    for url in urls:
        text = httpx.get(url, timeout=5).content
        assert b"cardpulse_" in text, url
        checked = subprocess.run([promtool, "check", "metrics"], input=text,
                                 capture_output=True, check=False)
        assert checked.returncode == 0, (url, checked.stdout, checked.stderr)


def test_taken_port_fails_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        failed = launch(tmp_path / "state", api_port=port)
        assert failed.proc.wait(timeout=30) == 1
    assert f"api: port {port} on 127.0.0.1 is not available" in failed.text()
    assert "--api-port" in failed.text()


def test_broken_database_url_fails_with_a_clear_message(tmp_path: Path) -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"
    failed = launch(tmp_path / "state", env={"CARDPULSE_DATABASE_URL": url})
    assert failed.proc.wait(timeout=30) == 1
    assert "postgres: cannot connect to CARDPULSE_DATABASE_URL" in failed.text()
