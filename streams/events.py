"""Event schemas carried on CardPulse topics, encoded with msgspec (compact JSON arrays).

A usage message is a partition-aligned micro-batch: every record in it belongs to a card whose
ICCID maps to the partition the message was produced to.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.usage.records import UsageRecord


class UsageBatch(msgspec.Struct, frozen=True):
    """Usage records of one operator accepted together (one push, one poll, or part of one)."""

    operator: str
    received_ms: int
    records: list[UsageRecord]


_encoder = msgspec.json.Encoder()
_usage_decoder = msgspec.json.Decoder(UsageBatch)


def encode_usage(batch: UsageBatch) -> bytes:
    return _encoder.encode(batch)


def decode_usage(payload: bytes) -> UsageBatch:
    """Decode a usage message; raises `msgspec.DecodeError`/`ValidationError` on bad input."""
    return _usage_decoder.decode(payload)


class DesiredState(msgspec.Struct, frozen=True):
    """A card's desired state after a change of its stop reasons (keyed by ICCID)."""

    iccid: str
    desired_status: str
    stop_reasons: list[str]
    cause: str
    at_ms: int


class DesiredStateBatch(msgspec.Struct, frozen=True):
    """Desired-state changes of cards of one partition."""

    changes: list[DesiredState]


class QuotaAlert(msgspec.Struct, frozen=True):
    """A warning threshold reached, once per subject, cycle and threshold."""

    alert_id: int
    enterprise_id: str
    kind: str
    subject: str
    cycle: str
    percent: int
    used_bytes: int
    limit_bytes: int


_desired_decoder = msgspec.json.Decoder(DesiredStateBatch)
_alert_decoder = msgspec.json.Decoder(QuotaAlert)


def encode(event: msgspec.Struct) -> bytes:
    return _encoder.encode(event)


def decode_desired(payload: bytes) -> DesiredStateBatch:
    return _desired_decoder.decode(payload)


def decode_alert(payload: bytes) -> QuotaAlert:
    return _alert_decoder.decode(payload)


class DeadLetter(msgspec.Struct, frozen=True):
    """Input the streams kept aside, with the reason (also stored in `dead_letters`)."""

    source: str
    reason: str
    payload: object
    operator: str | None = None
    iccid: str | None = None


class BusinessEvent(msgspec.Struct, frozen=True):
    """A business event on the orders topic (from the outbox): consumers drop repeats by
    `event_id`; `at` is when it was enqueued (platform clock, RFC 3339)."""

    event_id: str
    kind: str
    key: str
    at: str
    data: dict[str, Any]


_business_decoder = msgspec.json.Decoder(BusinessEvent)


def decode_business(payload: bytes) -> BusinessEvent:
    return _business_decoder.decode(payload)
