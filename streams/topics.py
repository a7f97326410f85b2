"""Declare CardPulse topics before any producer or worker touches them.

Creating topics explicitly matters: a producer asking for metadata of a missing topic makes
the broker auto-create it with its own default partition count, which would break the
partition alignment of usage micro-batches.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from core.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


class TopicError(RuntimeError):
    """A topic exists with a shape CardPulse cannot use."""


def topic_specs(settings: Settings) -> list[TopicSpec]:
    return [
        TopicSpec(settings.usage_topic, settings.usage_partitions),
        TopicSpec(settings.desired_topic, settings.usage_partitions),
        TopicSpec(settings.alerts_topic, 1),
        TopicSpec(settings.dead_letter_topic, 1),
        TopicSpec(settings.orders_topic, settings.usage_partitions),
        TopicSpec(settings.delivery_topic, settings.usage_partitions),
    ]


async def ensure_topics(bootstrap: str, specs: list[TopicSpec]) -> list[str]:
    """Create missing topics; check existing ones have the expected partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(s.name, s.partitions, replication_factor=1) for s in missing]
            )
        present = [s for s in specs if s.name in existing]
        if present:
            described = await admin.describe_topics([s.name for s in present])
            counts = {d["topic"]: len(d["partitions"]) for d in described}
            for spec in present:
                if counts.get(spec.name) != spec.partitions:
                    raise TopicError(
                        f"topic {spec.name} has {counts.get(spec.name)} partitions, expected "
                        f"{spec.partitions}; set CARDPULSE_USAGE_PARTITIONS to match or "
                        "use a new CARDPULSE_TOPIC_PREFIX"
                    )
        return [s.name for s in missing]
    finally:
        await admin.close()
