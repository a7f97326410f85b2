"""The faust application object; built by a composition root, never at import time."""

from __future__ import annotations

import faust

from cardpulse.settings import Settings


def create_app(settings: Settings) -> faust.App:
    """A faust app on the configured broker, tuned for the embedded broker's quirks.

    New groups read from the earliest offset (the broker's end offsets are unreliable),
    the session timeout is short (a first-generation member never sends LeaveGroup), and
    tables live in memory: PostgreSQL is the state of record.
    """
    return faust.App(
        settings.worker_group,
        broker=f"kafka://{settings.require_kafka()}",
        store="memory://",
        topic_partitions=settings.usage_partitions,
        topic_allow_declare=True,
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=max(settings.kafka_session_timeout_s / 6, 0.5),
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=False,
        datadir=str(settings.state_dir / "faust"),
    )
