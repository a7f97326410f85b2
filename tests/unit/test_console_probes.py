"""The health page's reading of metrics: quantiles as PromQL computes them, the processes
whose metrics ports the settings know, and dashboard links that match dashboards/build.py."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from api.console.probes import DASHBOARDS, flatten, grafana_links, mean, peers, quantile
from core.settings import Settings
from dashboards.build import all_dashboards

pytestmark = pytest.mark.req("CONSOLE")


def test_quantiles_interpolate_within_the_bucket_like_histogram_quantile() -> None:
    registry = CollectorRegistry()
    latency = Histogram("t_seconds", "t", ["dialect"], buckets=(0.1, 1.0, 10.0),
                        registry=registry)
    for _ in range(50):
        latency.labels("a").observe(0.05)
    for _ in range(50):
        latency.labels("b").observe(0.5)
    samples = flatten(registry.collect())
    assert quantile(samples, "t_seconds", 0.5) == pytest.approx(0.1)
    assert quantile(samples, "t_seconds", 0.75) == pytest.approx(0.55)
    assert quantile(samples, "t_seconds", 0.25) == pytest.approx(0.05)
    assert mean(samples, "t_seconds") == pytest.approx(0.275)
    latency.labels("a").observe(99.0)  # above the last bound: the last finite bound
    assert quantile(flatten(registry.collect()), "t_seconds", 1.0) == pytest.approx(10.0)


def test_no_observations_give_no_figure() -> None:
    registry = CollectorRegistry()
    Histogram("t_seconds", "t", registry=registry)
    samples = flatten(registry.collect())
    assert quantile(samples, "t_seconds", 0.99) is None and mean(samples, "t_seconds") is None
    assert quantile([], "absent", 0.5) is None


def test_peers_come_from_the_ports_up_hands_out_else_the_base_port() -> None:
    handed = Settings(worker_metrics_ports="9101,9107", controls_metrics_port=9102)
    assert peers(handed) == [("worker", "http://127.0.0.1:9101/metrics"),
                             ("worker-1", "http://127.0.0.1:9107/metrics"),
                             ("controls", "http://127.0.0.1:9102/metrics")]
    based = Settings(worker_metrics_port=9200, workers=2)
    assert [url for _, url in peers(based)] == ["http://127.0.0.1:9200/metrics",
                                                "http://127.0.0.1:9201/metrics", None]
    assert peers(Settings()) == [("worker", None), ("controls", None)]


def test_dashboard_links_name_the_dashboards_that_exist() -> None:
    assert {uid for uid, _ in DASHBOARDS} == {board["uid"] for board in all_dashboards()}
    assert grafana_links(None) == []
    assert grafana_links("http://grafana:3000/")[0][0] == "http://grafana:3000/d/cardpulse-ops"
