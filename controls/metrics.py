"""Every Prometheus metric of a controls process, in one container on an injected registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True)
class ControlsMetrics:
    registry: CollectorRegistry
    calls: Counter
    call_seconds: Histogram
    queue_depth: Gauge
    failed_cards: Gauge
    held_cards: Gauge
    confirmations: Counter
    enforcement_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ControlsMetrics:
        return cls(
            registry=registry,
            calls=Counter("cardpulse_operator_calls", "Card status changes asked of operators",
                          ["dialect", "outcome"], registry=registry),
            call_seconds=Histogram("cardpulse_operator_call_seconds",
                                   "Latency of one operator call (a batch counts once)",
                                   ["dialect"], buckets=SECONDS, registry=registry),
            queue_depth=Gauge("cardpulse_reconciler_queue_depth",
                              "Cards whose network status must change, seen in the last round",
                              ["dialect"], registry=registry),
            failed_cards=Gauge("cardpulse_control_failed_cards",
                               "Cards whose commands failed for good", registry=registry),
            held_cards=Gauge("cardpulse_control_operator_held_cards",
                             "Cards the operator stopped or froze itself, whose resume it "
                             "refuses (not retried)", registry=registry),
            confirmations=Counter(
                "cardpulse_operator_confirmations",
                "Checks of changes the operator accepted but had not yet confirmed, by what "
                "the check found", ["dialect", "outcome"], registry=registry),
            enforcement_seconds=Histogram(
                "cardpulse_enforcement_latency_seconds",
                "From the record (or change) that decided a card's state to the operator "
                "accepting the command", buckets=SECONDS, registry=registry),
        )
