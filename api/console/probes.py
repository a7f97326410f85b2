"""What the platform-health page reads: the API's own metrics (its registry), each other
process's /metrics over HTTP where its port is known from the settings (a process that does
not answer is shown as unavailable, never as an error of the page), and the figures that
matter to the people on watch, computed from those samples as Prometheus would."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from api.console.i18n import N_
from core.settings import Settings

SCRAPE_TIMEOUT_S = 1.0
# The dashboards of dashboards/build.py (tests/unit check these against it).
DASHBOARDS = (
    ("cardpulse-ops", N_("Operations: pipeline, consumer lag, enforcement latency, operator "
                         "calls")),
    ("cardpulse-pool", N_("An enterprise's pool: usage, utilisation, top and stopped cards")),
    ("cardpulse-card", N_("One card: traffic by hour and by day")),
    ("cardpulse-money", N_("Money: orders by state, stuck and intercepted orders, revenue, "
                           "payment notifications, the ledger's zero sum")),
    ("cardpulse-delivery", N_("Delivery: projects by status, completion cycle, provider "
                              "saturation, timeouts, the queue, the work calendar")),
)


@dataclass(frozen=True)
class Process:
    """One process of the platform and the samples of its /metrics (none if unavailable)."""

    name: str
    url: str | None
    problem: str | None = None  # why its metrics could not be read; None: read
    samples: list[Sample] = field(default_factory=list)


def flatten(families: Iterable[Metric]) -> list[Sample]:
    return [sample for family in families for sample in family.samples]


def total(samples: list[Sample], name: str) -> float | None:
    """The sum of every series of `name`; None when the process has no such series."""
    values = [s.value for s in samples if s.name == name]
    return sum(values) if values else None


def highest(samples: list[Sample], name: str) -> float | None:
    values = [s.value for s in samples if s.name == name]
    return max(values) if values else None


def mean(samples: list[Sample], histogram: str) -> float | None:
    count = total(samples, f"{histogram}_count")
    return None if not count else (total(samples, f"{histogram}_sum") or 0.0) / count


def quantile(samples: list[Sample], histogram: str, q: float) -> float | None:
    """The q-quantile of a histogram over all its series, interpolated within the bucket as
    PromQL's histogram_quantile does; None without observations."""
    counts: dict[float, float] = {}
    for s in samples:
        if s.name == f"{histogram}_bucket":
            bound = float(s.labels["le"])
            counts[bound] = counts.get(bound, 0.0) + s.value
    bounds = sorted(counts)
    if not bounds or counts[bounds[-1]] == 0:
        return None
    rank, lower, below = q * counts[bounds[-1]], 0.0, 0.0
    for bound in bounds:
        if counts[bound] >= rank:
            if math.isinf(bound):
                return lower
            inside = counts[bound] - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, counts[bound]
    return lower


def peers(settings: Settings) -> list[tuple[str, str | None]]:
    """The other processes with metrics, and their /metrics URL when the port is known."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host  # noqa: S104
    ports = settings.peer_metrics_ports
    workers: list[tuple[str, str | None]] = [
        ("worker" if i == 0 else f"worker-{i}", f"http://{host}:{port}/metrics")
        for i, port in enumerate(ports)] or [("worker", None)]
    controls = (f"http://{host}:{settings.controls_metrics_port}/metrics"
                if settings.controls_metrics_port else None)
    return [*workers, ("controls", controls)]


async def scrape(client: httpx.AsyncClient, name: str, url: str | None) -> Process:
    if url is None:
        return Process(name, None, N_("its metrics port is not known to the API"))
    try:
        answer = await client.get(url, timeout=SCRAPE_TIMEOUT_S)
        answer.raise_for_status()
        return Process(name, url, None, flatten(text_string_to_metric_families(answer.text)))
    except (httpx.HTTPError, ValueError) as exc:
        return Process(name, url, f"{type(exc).__name__}")


async def processes(settings: Settings, registry: CollectorRegistry) -> list[Process]:
    """The API (its own registry), then every other process, read at the same time."""
    own = Process("api", f"http://{settings.host}:{settings.api_port}/metrics", None,
                  flatten(registry.collect()))
    async with httpx.AsyncClient() as client:
        others = await asyncio.gather(*(scrape(client, name, url)
                                        for name, url in peers(settings)))
    return [own, *others]


def grafana_links(base: str | None) -> list[tuple[str, str]]:
    """(URL, description) of each dashboard; none when no Grafana is configured."""
    if not base:
        return []
    return [(f"{base.rstrip('/')}/d/{uid}", what) for uid, what in DASHBOARDS]
