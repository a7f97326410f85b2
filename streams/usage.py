"""Usage accounting: take micro-batches off the usage topic and store them idempotently.

`split_messages` is the pure part (decode, validate, sort out poison); `UsageSink` does the
I/O, retrying a batch until PostgreSQL has it, so that faust acknowledges (and later commits)
the batch's offsets only after its effects are durable.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import faust
import msgspec

from core.operators import OPERATORS
from core.settings import Settings
from domain.usage.validation import record_problem
from store.db import Conn, Reconnecting
from store.dead_letters import Kept, keep
from store.errors import Rejected
from store.quota import Outcome
from store.usage import OperatorRecords, WriteResult, account
from streams.events import DeadLetter, decode_usage
from streams.metrics import WorkerMetrics
from streams.publish import Publisher
from streams.quota_events import publish_outcome

log = logging.getLogger(__name__)


@dataclass
class Split:
    good: list[OperatorRecords] = field(default_factory=list)
    poison: list[Kept] = field(default_factory=list)


def raw_payload(payload: bytes) -> dict[str, str]:
    """A JSON-safe copy of bytes that could not be decoded: all of it, plus a readable preview."""
    preview = payload[:2000].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    return {"raw_base64": base64.b64encode(payload).decode(), "preview": preview}


def _split_one(payload: bytes, out: Split) -> None:
    try:
        batch = decode_usage(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        out.poison.append(Kept(f"undecodable usage message: {exc}", raw_payload(payload)))
        return
    if batch.operator not in OPERATORS:
        out.poison.append(Kept(f"unknown operator {batch.operator!r}",
                               msgspec.to_builtins(batch), operator=batch.operator))
        return
    good = []
    for record in batch.records:
        problem = record_problem(record)
        if problem:
            out.poison.append(Kept(problem, msgspec.to_builtins(record),
                                   operator=batch.operator, iccid=record.iccid))
        else:
            good.append(record)
    out.good.append(OperatorRecords(batch.operator, batch.received_ms, good))


def split_messages(payloads: Sequence[bytes]) -> Split:
    """Decode and check a batch of usage messages; never raises on bad input."""
    out = Split()
    for payload in payloads:
        _split_one(payload, out)
    return out


class UsageSink:
    """Writes batches and re-evaluates the touched cards in one transaction per batch, then
    publishes the resulting desired-state changes; retries until every effect is durable."""

    def __init__(self, db: Reconnecting, publisher: Publisher, metrics: WorkerMetrics) -> None:
        self._db = db
        self._publisher = publisher
        self._metrics = metrics

    async def close(self) -> None:
        await self._db.close()
        await self._publisher.stop()

    async def handle(self, payloads: Sequence[bytes]) -> WriteResult:
        """Store a batch of messages; returns only once every effect is durable."""
        started = time.perf_counter()
        split = split_messages(payloads)
        result, outcome = await self._db.run(lambda conn: self._write(conn, split))
        if split.poison:
            await self._db.run(lambda conn: keep(conn, "usage", split.poison))
        await publish_outcome(self._publisher, outcome)
        await self._publish_letters(split, result)
        self._observe(split, result, outcome, time.perf_counter() - started)
        return result

    async def _publish_letters(self, split: Split, result: WriteResult) -> None:
        """Mirror this batch's dead letters on the dead-letter topic (the table is the record)."""
        letters = [DeadLetter("usage", p.reason, p.payload, p.operator, p.iccid)
                   for p in split.poison]
        letters += [DeadLetter("usage", "unknown_card", payload)
                    for payload in result.unknown_card_payloads]
        if letters:
            await self._publisher.start()
            await self._publisher.publish_dead_letters(letters)

    def _observe(self, split: Split, result: WriteResult, outcome: Outcome, took: float) -> None:
        m = self._metrics
        m.ingested.labels("new").inc(result.inserted)
        m.ingested.labels("duplicate").inc(result.duplicates)
        m.ingested.labels("unknown_card").inc(result.dead_lettered)
        m.dead_letters.labels("usage").inc(len(split.poison) + result.dead_lettered)
        m.batch_records.observe(sum(len(b.records) for b in split.good))
        m.batch_seconds.observe(took)
        received = [b.received_ms for b in split.good]
        for change in outcome.changes:
            m.desired_changes.labels(change.cause).inc()
            if received:
                m.decision_seconds.observe(max(time.time() - min(received) / 1000, 0.0))

    async def _write(self, conn: Conn, split: Split) -> tuple[WriteResult, Outcome]:
        try:
            return await account(conn, split.good)
        except Rejected:
            # One message the database rejects must not hold up the others: write them one
            # by one and dead-letter the message that fails.
            return await self._write_each(conn, split)

    async def _write_each(self, conn: Conn, split: Split) -> tuple[WriteResult, Outcome]:
        inserted = duplicates = dead = 0
        changes, alerts = [], []
        for batch in split.good:
            try:
                result, outcome = await account(conn, [batch])
            except Rejected as exc:
                split.poison.append(Kept(f"rejected by the database: {exc}",
                                         msgspec.to_builtins(batch), operator=batch.operator))
                continue
            inserted += result.inserted
            duplicates += result.duplicates
            dead += result.dead_lettered
            changes.extend(outcome.changes)
            alerts.extend(outcome.alerts)
        return WriteResult(inserted, duplicates, dead), Outcome(changes, alerts)


def register_usage_agent(app: faust.App, settings: Settings, sink: UsageSink) -> None:
    """Attach the usage-accounting agent to `app`."""
    topic = app.topic(
        settings.usage_topic, key_type=bytes, value_type=bytes,
        key_serializer="raw", value_serializer="raw", partitions=settings.usage_partitions,
    )

    async def account(stream: faust.StreamT[bytes]) -> None:
        within = settings.worker_batch_within_s
        async for payloads in stream.take(settings.worker_take_messages, within=within):
            started = time.perf_counter()
            try:
                result = await sink.handle(payloads)
            except Exception:
                # Not a data problem (those are dead-lettered): crash the process before the
                # batch is acknowledged, so that a restart redelivers it from the last commit.
                log.critical("usage batch failed; exiting for a clean redelivery", exc_info=True)
                os._exit(70)
            log.info("usage batch: %d messages, %d new, %d duplicate, %d unknown card, %.1f ms",
                     len(payloads), result.inserted, result.duplicates, result.dead_lettered,
                     (time.perf_counter() - started) * 1000)

    app.agent(topic, name="usage-accounting")(account)
