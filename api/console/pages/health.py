"""The platform's health for the people on watch: what /healthz knows (database, broker),
each process's metrics (the API's own, the workers' and the reconciler's over HTTP, shown
as unavailable when they do not answer), the figures that matter (consumer lag, enforcement
latency, request rates), and links to the Grafana dashboards when Grafana is configured."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console.auth import Page, require_platform
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.common import PLATFORM_GUARD
from api.console.probes import Process, grafana_links, highest, mean, processes, quantile, total
from api.console.render import html
from api.deps import Res
from api.routers.health import platform_problems, platform_warnings

router = APIRouter(prefix="/console/ops", dependencies=PLATFORM_GUARD)
REQUESTS = "cardpulse_api_request_duration_seconds"


@dataclass(frozen=True)
class Figure:
    label: str  # an English message, translated when shown
    value: str


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def count(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def api_figures(api: Process, uptime_s: float) -> list[Figure]:
    requests = total(api.samples, f"{REQUESTS}_count") or 0.0
    errors = sum(s.value for s in api.samples if s.name == f"{REQUESTS}_count"
                 and s.labels.get("status", "").startswith("5"))
    return [Figure(N_("Requests"), count(requests)),
            Figure(N_("Requests per second since the API started"),
                   f"{requests / max(uptime_s, 1.0):.2f}"),
            Figure(N_("Server errors (5xx)"), count(errors)),
            Figure(N_("Request latency, p50"), seconds(quantile(api.samples, REQUESTS, 0.5))),
            Figure(N_("Request latency, p99"), seconds(quantile(api.samples, REQUESTS, 0.99))),
            Figure(N_("Usage records accepted"),
                   count(total(api.samples, "cardpulse_usage_records_accepted_total")))]


def worker_figures(worker: Process) -> list[Figure]:
    decision = "cardpulse_enforcement_decision_seconds"
    return [Figure(N_("Consumer lag (messages)"),
                   count(highest(worker.samples, "cardpulse_consumer_lag_messages"))),
            Figure(N_("Usage to decision, p50"), seconds(quantile(worker.samples, decision, .5))),
            Figure(N_("Usage to decision, p99"), seconds(quantile(worker.samples, decision, .99))),
            Figure(N_("Usage records taken"),
                   count(total(worker.samples, "cardpulse_usage_records_ingested_total"))),
            Figure(N_("Dead letters"),
                   count(total(worker.samples, "cardpulse_dead_letters_total")))]


def controls_figures(controls: Process) -> list[Figure]:
    latency = "cardpulse_enforcement_latency_seconds"
    return [Figure(N_("Enforcement latency, p50"),
                   seconds(quantile(controls.samples, latency, .5))),
            Figure(N_("Enforcement latency, p99"),
                   seconds(quantile(controls.samples, latency, .99))),
            Figure(N_("Enforcement latency, mean"), seconds(mean(controls.samples, latency))),
            Figure(N_("Cards waiting for a command"),
                   count(total(controls.samples, "cardpulse_reconciler_queue_depth"))),
            Figure(N_("Cards whose command failed"),
                   count(highest(controls.samples, "cardpulse_control_failed_cards"))),
            Figure(N_("Operator calls"),
                   count(total(controls.samples, "cardpulse_operator_calls_total")))]


def figures(process: Process, uptime_s: float) -> list[Figure]:
    """The figures of one process that could be read."""
    if process.problem is not None:
        return []
    if process.name == "api":
        return api_figures(process, uptime_s)
    return worker_figures(process) if process.name.startswith("worker") else \
        controls_figures(process)


@router.get("/health")
async def health_page(request: Request, viewer: Page, res: Res) -> HTMLResponse:
    require_platform(viewer)
    uptime = time.monotonic() - res.metrics.started
    found = await processes(res.settings, res.metrics.registry)
    return html(request, "ops_health.html", frame(
        viewer, "health", problems=await platform_problems(res),
        warnings=await platform_warnings(res),
        processes=[(p, figures(p, uptime)) for p in found],
        grafana=grafana_links(res.settings.grafana_url)))
