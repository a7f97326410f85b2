"""Metrics, dashboards and alert rules checked by the real tools: promtool and Prometheus."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from api.metrics import ApiMetrics
from cardpulse.supervisor.children import free_port
from controls.metrics import ControlsMetrics
from dashboards import build
from dashboards.push import push
from streams.metrics import WorkerMetrics
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
RULES = Path(build.__file__).parent / "prometheus" / "alerts.yml"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: install the Debian package prometheus "
                    "(`make test` does it)")
    return found


def populated() -> dict[str, CollectorRegistry]:
    """The three processes' metric containers, with a value in every series family."""
    api = ApiMetrics.create(CollectorRegistry())
    api.requests.labels("GET", "/healthz", "200").observe(0.01)
    api.usage_records.labels("onelink").inc(5)
    api.usage_pushes.labels("onelink", "accepted").inc()
    api.calendar_left.set(300 * 86_400)
    worker = WorkerMetrics.create(CollectorRegistry())
    worker.ingested.labels("new").inc(10)
    worker.batch_records.observe(500)
    worker.batch_seconds.observe(0.02)
    worker.dead_letters.labels("usage").inc()
    worker.desired_changes.labels("usage").inc()
    worker.decision_seconds.observe(0.03)
    worker.consumer_lag.labels("cardpulse-usage").set(3)
    worker.pool_utilisation.labels("fleet").set(0.5)
    controls = ControlsMetrics.create(CollectorRegistry())
    controls.calls.labels("onelink", "accepted").inc(3)
    controls.call_seconds.labels("onelink").observe(0.1)
    controls.queue_depth.labels("onelink").set(7)
    controls.failed_cards.set(0)
    controls.enforcement_seconds.observe(0.08)
    return {"api": api.registry, "worker": worker.registry, "controls": controls.registry}


@pytest.mark.parametrize("process", ["api", "worker", "controls"])
def test_metrics_of_every_process_pass_promtool(process: str) -> None:
    text = generate_latest(populated()[process])
    checked = subprocess.run([tool("promtool"), "check", "metrics"], input=text,
                             capture_output=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_alert_rules_pass_promtool() -> None:
    checked = subprocess.run([tool("promtool"), "check", "rules", str(RULES)],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "6 rules found" in checked.stdout


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    """A real Prometheus scraping the three processes' metrics (served over HTTP)."""
    targets = []
    for registry in populated().values():
        port = free_port()
        start_http_server(port, addr="127.0.0.1", registry=registry)
        targets.append(f"127.0.0.1:{port}")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "cardpulse", "static_configs": [{"targets": targets}]}],
    }))
    proc = subprocess.Popen(
        [tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp_path}/tsdb",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    try:
        # Prometheus answers 503 "Service Unavailable" until its storage is open.
        eventually(lambda: _ready(url), timeout=30, what="Prometheus /-/ready")
        eventually(lambda: _query(url, "up") and all(
            r["value"][1] == "1" for r in _query(url, "up")) and len(_query(url, "up")) == 3,
                   timeout=30, what="Prometheus scraping the three targets")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _query(url: str, expr: str) -> list[dict[str, Any]]:
    try:
        response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
    except httpx.HTTPError:
        return []
    if response.status_code == 503:  # still starting (or restarting) its storage
        return []
    answer = response.json()
    if answer.get("status") != "success":
        raise AssertionError(f"{expr!r}: {answer}")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_every_promql_expression_runs_on_prometheus(prometheus: str) -> None:
    exprs = [e for board in build.all_dashboards() for e in build.promql_exprs(board)]
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    exprs += [(r["alert"], str(r["expr"])) for r in rules]
    assert len(exprs) >= 15
    for title, expr in exprs:  # _query raises on a parse or evaluation error
        assert isinstance(_query(prometheus, expr), list), title
    assert _query(prometheus, "max(cardpulse_consumer_lag_messages)")[0]["value"][1] == "3"
    assert len(_query(prometheus, "cardpulse_usage_records_ingested_total")) == 1


def test_generated_dashboards_are_current(tmp_path: Path) -> None:
    build.write(tmp_path)
    for fresh in tmp_path.glob("*.json"):
        committed = build.GENERATED / fresh.name
        assert committed.exists(), f"run `cardpulse dashboards build` ({fresh.name} missing)"
        assert json.loads(committed.read_text()) == json.loads(fresh.read_text()), (
            f"{fresh.name} is stale: run `cardpulse dashboards build`")


class FakeGrafana(BaseHTTPRequestHandler):
    """Stands in for a Grafana server (none can run here): records dashboard saves."""

    saved: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.headers["Authorization"] == "Bearer grafana-token"
        FakeGrafana.saved.append(body)
        uid = body["dashboard"]["uid"]
        answer = json.dumps({"status": "success", "uid": uid, "url": f"/d/{uid}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_dashboards_push_with_grafana_client() -> None:
    server = HTTPServer(("127.0.0.1", 0), FakeGrafana)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeGrafana.saved = []
    try:
        urls = push(f"http://127.0.0.1:{server.server_port}", "grafana-token", "ops-folder")
    finally:
        server.shutdown()
    assert urls == ["/d/cardpulse-ops", "/d/cardpulse-pool", "/d/cardpulse-card",
                    "/d/cardpulse-money", "/d/cardpulse-delivery"]
    assert {b["dashboard"]["uid"] for b in FakeGrafana.saved} == {
        "cardpulse-ops", "cardpulse-pool", "cardpulse-card", "cardpulse-money",
        "cardpulse-delivery"}
    assert all(b["overwrite"] and b["folderUid"] == "ops-folder" for b in FakeGrafana.saved)
