"""The reconciler: drive each card's network status to its desired status.

It stops and resumes opened cards, and opens (`activate`, the operator's own call) a card that
was never opened once an activation was asked for and no stop reason holds; an activation is
sent, confirmed, retried, cooled down and rate limited exactly as a resume is.

One loop per operator reads the mismatches of this process's partitions from PostgreSQL (the
state of record), most recently used cards first, plans the dialect's batches, sends them
through a token bucket and an in-flight cap, and records every answer. It acts on the current
desired state only, so a burst of identical desired changes makes one call and a change
reversed before it was sent makes none; an answer lost in a crash is simply asked again, and
the operator's "already in that state" is success, so nothing is changed twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from connectors.base import OperatorClient
from controls.metrics import ControlsMetrics
from core.limits import TokenBucket
from core.operators import CardStatus
from domain.control.plan import Batch, Confirming, Next, after, after_check, plan_round
from domain.control.results import CommandResult, Result
from store import controls as queries
from store.controls import Actionable, Answer
from store.db import KEEP, Keep, Reconnecting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    max_attempts: int
    card_cooldown_s: float
    backoff_base_s: float
    backoff_cap_s: float
    scan_s: float
    scan_limit: int
    confirm_first_s: float = 1.0
    confirm_cap_s: float = 60.0
    confirm_deadline_s: float = 1800.0


class OperatorLane:
    """Everything toward one operator: its client, rate and in-flight limits, batch size and
    per-card cooldown (None: the policy's)."""

    def __init__(self, client: OperatorClient, rate_per_s: float | None = None, *,
                 in_flight: int | None = None, max_batch: int | None = None,
                 cooldown_s: float | None = None) -> None:
        self.client = client
        self.bucket = TokenBucket(rate_per_s or client.rate_per_s, burst=1.0)
        self.in_flight = asyncio.Semaphore(in_flight or client.in_flight)
        self.max_batch = min(max_batch or client.max_batch, client.max_batch)
        self.cooldown_s = cooldown_s

    async def send(self, batch: Batch) -> list[CommandResult]:
        async with self.in_flight:
            await self.bucket.acquire()
            if batch.verb == "activate":  # the operator's own call for opening a card
                results = await self.client.activate(batch.cards)
            else:
                results = await self.client.set_status(batch.cards, batch.target)
        if any(r.result is Result.RATE_LIMITED for r in results):
            self.bucket.slow_down(1.0)
        return results

    async def confirm(self, found: Actionable) -> CommandResult:
        async with self.in_flight:
            await self.bucket.acquire()
            result = await self.client.confirm(found.work.card, found.work.target,
                                               found.ticket)
        if result.result is Result.RATE_LIMITED:
            self.bucket.slow_down(1.0)
        return result


class Reconciler:
    """Runs one loop per operator until `stop()`; `wake()` shortens the wait for work."""

    def __init__(self, db: Reconnecting, lanes: dict[str, OperatorLane], policy: Policy,
                 partitions: Callable[[], Sequence[int]], rng: random.Random | None = None,
                 metrics: ControlsMetrics | None = None) -> None:
        self._metrics = metrics or ControlsMetrics.create(CollectorRegistry())
        self._db = db
        self._lanes = lanes
        self._policy = policy
        self._partitions = partitions
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._wake = {op: asyncio.Event() for op in lanes}
        self._stopping = asyncio.Event()
        # Every lane's loop and batches share one connection: its statements and
        # transactions must not interleave.
        self._recording = asyncio.Lock()

    def wake(self) -> None:
        for event in self._wake.values():
            event.set()

    def stop(self) -> None:
        self._stopping.set()
        self.wake()

    async def run(self) -> None:
        await asyncio.gather(*(self._loop(op) for op in self._lanes))

    async def _loop(self, operator: str) -> None:
        while not self._stopping.is_set():
            try:
                worked = await self.round(operator)
            except Exception:  # a bug or outage must not end the loop; log and go on
                log.exception("reconciler round for %s failed", operator)
                worked = 0
            if not worked:
                event = self._wake[operator]
                try:
                    await asyncio.wait_for(event.wait(), timeout=self._policy.scan_s)
                except TimeoutError:
                    pass
                event.clear()

    async def round(self, operator: str) -> int:
        """One pass for one operator: read, send, record. Returns the cards handled."""
        partitions = list(self._partitions())
        if not partitions:
            return 0
        async with self._recording:
            found = await self._db.run(lambda conn: queries.actionable(
                conn, operator, partitions, self._policy.scan_limit))
        self._metrics.queue_depth.labels(operator).set(len(found))
        if not found:
            return 0
        lane = self._lanes[operator]
        cooldown = self._cooldown(lane)
        checks = [a for a in found if a.confirming]
        todo = plan_round([(a.work, a.last_change) for a in found if not a.confirming],
                          {operator: lane.max_batch}, cooldown, datetime.now(UTC))
        await self._record([Answer(w.iccid, w.target, "pending", w.attempts, wait)
                            for w, wait in todo.cooling])
        attempts = {a.work.iccid: a.work.attempts for a in found}
        decided = {a.work.iccid: a.decided_at for a in found}
        await asyncio.gather(*(self._send(lane, b, attempts, decided) for b in todo.batches),
                             *(self._check(lane, a) for a in checks))
        return len(found)

    def _observe(self, dialect: str, results: list[CommandResult], took: float,
                 decided: dict[str, datetime | None]) -> None:
        m = self._metrics
        m.call_seconds.labels(dialect).observe(took)
        now = datetime.now(UTC)
        for result in results:
            m.calls.labels(dialect, result.result.value).inc()
            at = decided.get(result.iccid)
            if result.result.done and at is not None:
                m.enforcement_seconds.observe(max((now - at).total_seconds(), 0.0))

    async def _record(self, answers: list[Answer]) -> None:
        if answers:
            async with self._recording:
                await self._db.run(lambda conn: queries.record(conn, answers))

    def _cooldown(self, lane: OperatorLane) -> float:
        return self._policy.card_cooldown_s if lane.cooldown_s is None else lane.cooldown_s

    async def _sent(self, lane: OperatorLane, batch: Batch) -> list[CommandResult]:
        """The batch's answers; a batch refused whole for one card's cooldown is sent again
        card by card, so only that card waits."""
        try:
            results = await lane.send(batch)
            if len(batch.cards) > 1 and all(r.whole_batch for r in results):
                singles = [Batch(batch.operator, batch.target, [card], batch.verb)
                           for card in batch.cards]
                results = [r for single in singles for r in await lane.send(single)]
        except Exception as exc:  # a connector bug: count it as a failed attempt
            log.exception("connector %s failed", lane.client.dialect)
            results = [CommandResult(i, Result.TRANSIENT, f"{type(exc).__name__}: {exc}")
                       for i in batch.iccids]
        return results

    async def _send(self, lane: OperatorLane, batch: Batch, attempts: dict[str, int],
                    decided: dict[str, datetime | None]) -> None:
        """Send one batch and record its answers at once (a crash loses at most this batch's
        answers, and asking again is harmless)."""
        started = time.perf_counter()
        results = await self._sent(lane, batch)
        self._observe(lane.client.dialect, results, time.perf_counter() - started, decided)
        command = batch.verb
        policy = self._policy
        answers = []
        for result in results:
            step = after(result.result, attempts.get(result.iccid, 0),
                         max_attempts=policy.max_attempts, cooldown_s=self._cooldown(lane),
                         base_s=policy.backoff_base_s, cap_s=policy.backoff_cap_s, rng=self._rng,
                         confirm_first_s=policy.confirm_first_s)
            flight: CardStatus | None | Keep = KEEP  # a retried send leaves it as it was
            if result.result is Result.SUBMITTED:
                flight = batch.target
            elif result.result.done or result.result.final:  # nothing left to follow
                flight = None
            answers.append(self._answer(result, batch.target, step, command, result.ticket,
                                        flight))
        await self._record(answers)

    @staticmethod
    def _answer(result: CommandResult, target: CardStatus, step: Next, command: str | None,
                ticket: str | None, flight: CardStatus | None | Keep) -> Answer:
        settled = step.state != "confirming" or command is not None
        return Answer(result.iccid, target, step.state, step.attempts, step.retry_in_s,
                      command, result.result.value if settled else None,
                      None if result.result.done or result.result is Result.SUBMITTED
                      else result.detail, step.changed, ticket, flight)

    async def _check(self, lane: OperatorLane, found: Actionable) -> None:
        """Ask whether a submitted change has happened; record what the check found."""
        try:
            result = await lane.confirm(found)
        except Exception as exc:  # a connector bug: the check failed, the change may not have
            log.exception("connector %s failed to confirm", lane.client.dialect)
            result = CommandResult(found.work.iccid, Result.TRANSIENT, str(exc))
        policy = self._policy
        since = found.submitted_at or datetime.now(UTC)
        waited = Confirming((datetime.now(UTC) - since).total_seconds(), policy.confirm_first_s,
                            policy.confirm_cap_s, policy.confirm_deadline_s)
        step = after_check(result.result, found.work.attempts, waited,
                           max_attempts=policy.max_attempts, base_s=policy.backoff_base_s,
                           cap_s=policy.backoff_cap_s, rng=self._rng)
        self._metrics.confirmations.labels(lane.client.dialect, result.result.value).inc()
        if step.state == "done" and found.decided_at is not None:
            self._metrics.enforcement_seconds.observe(
                max((datetime.now(UTC) - found.decided_at).total_seconds(), 0.0))
        # Still in flight while confirming; done, given up, or to be sent again: not any more.
        flight: CardStatus | None | Keep = KEEP if step.state == "confirming" else None
        await self._record([self._answer(result, found.work.target, step, None,
                                         found.ticket if step.state == "confirming" else None,
                                         flight)])
