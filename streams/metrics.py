"""Every Prometheus metric of a stream worker, in one container on an injected registry.

Labels stay bounded: outcomes, causes, sources, and pools only for a top set by utilisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RECORDS = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10_000, 20_000)
TOP_POOLS = 20


@dataclass(frozen=True)
class WorkerMetrics:
    registry: CollectorRegistry
    ingested: Counter
    batch_records: Histogram
    batch_seconds: Histogram
    dead_letters: Counter
    desired_changes: Counter
    decision_seconds: Histogram
    consumer_lag: Gauge
    pool_utilisation: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> WorkerMetrics:
        return cls(
            registry=registry,
            ingested=Counter("cardpulse_usage_records_ingested",
                             "Usage records taken off the topic, by outcome",
                             ["outcome"], registry=registry),
            batch_records=Histogram("cardpulse_usage_batch_records",
                                    "Records per accounted batch", buckets=RECORDS,
                                    registry=registry),
            batch_seconds=Histogram("cardpulse_usage_batch_seconds",
                                    "Time to store and evaluate one batch", buckets=SECONDS,
                                    registry=registry),
            dead_letters=Counter("cardpulse_dead_letters", "Input kept aside, by source",
                                 ["source"], registry=registry),
            desired_changes=Counter("cardpulse_desired_changes",
                                    "Changes of a card's desired state, by cause", ["cause"],
                                    registry=registry),
            decision_seconds=Histogram(
                "cardpulse_enforcement_decision_seconds",
                "From a usage record accepted by the API to its desired-state change",
                buckets=SECONDS, registry=registry),
            consumer_lag=Gauge("cardpulse_consumer_lag_messages",
                               "Messages on the usage topic not yet committed by the workers",
                               ["group"], registry=registry),
            pool_utilisation=Gauge("cardpulse_pool_utilisation_ratio",
                                   f"Used share of the limit, the {TOP_POOLS} fullest pools",
                                   ["pool"], registry=registry),
        )
