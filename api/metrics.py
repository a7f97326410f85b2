"""Every Prometheus metric of the API process, in one container built on an injected registry."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class ApiMetrics:
    registry: CollectorRegistry
    requests: Histogram
    usage_records: Counter
    usage_pushes: Counter
    calendar_left: Gauge
    started: float = field(default_factory=time.monotonic)  # request rates since the start

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ApiMetrics:
        return cls(
            registry=registry,
            requests=Histogram(
                "cardpulse_api_request_duration_seconds", "HTTP request latency",
                ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=registry,
            ),
            usage_records=Counter(
                "cardpulse_usage_records_accepted", "Usage records accepted from pushes",
                ["operator"], registry=registry,
            ),
            usage_pushes=Counter(
                "cardpulse_usage_pushes", "Usage pushes by outcome",
                ["operator", "outcome"], registry=registry,
            ),
            calendar_left=Gauge(
                "cardpulse_work_calendar_left_seconds",
                "How far the work calendar reaches after today (Asia/Shanghai), in whole days "
                "as seconds; negative when it does not cover today; alert below 60 days",
                registry=registry,
            ),
        )
