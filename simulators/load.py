"""Load generation for benchmarks: push bodies built fast, and signed concurrent pushers.

Bodies are built as bytes straight from a few pre-formatted pieces (no dict per record), so the
generator costs well under a microsecond a record and leaves the CPUs to the platform.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

TIME_SLOTS = 60  # distinct (start, end) pairs, one a minute over the hour before `end`


@dataclass(frozen=True)
class PushBody:
    """One push: its JSON body, how many records it carries and the sum of their bytes."""

    body: bytes
    records: int
    total_bytes: int


def _slots(end: datetime) -> list[bytes]:
    out = []
    for k in range(TIME_SLOTS):
        stop = end - timedelta(minutes=k)
        start = stop - timedelta(minutes=5)
        out.append(f'"start":"{start.isoformat()}","end":"{stop.isoformat()}"'.encode())
    return out


def record_bytes(index: int) -> int:
    """The byte count of record `index` (deterministic, 1 kB to 51 kB)."""
    return 1000 + (index * 7919) % 50_000


def push_bodies(iccids: Sequence[str], records: int, per_push: int, run: str,
                end: datetime | None = None, first: int = 0) -> Iterator[PushBody]:
    """`records` usage records over `iccids` round robin (every card gets its share), in
    bodies of `per_push`; record ids are `<run>-<index>`, so a rerun with another `run` is new
    usage and the same `run` is a duplicate."""
    slots = _slots(end or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    cards = [f'"iccid":"{iccid}"'.encode() for iccid in iccids]
    prefix = f'{{"record_id":"{run}-'.encode()
    n = len(cards)
    for lo in range(first, first + records, per_push):
        hi = min(lo + per_push, first + records)
        parts, total = [], 0
        for i in range(lo, hi):
            size = record_bytes(i)
            total += size
            parts.append(b'%s%d",%s,"bytes":%d,%s}' % (prefix, i, cards[i % n], size,
                                                        slots[i % TIME_SLOTS]))
        yield PushBody(b'{"records":[' + b",".join(parts) + b"]}", hi - lo, total)


@dataclass
class PushStats:
    """What a pusher achieved: records accepted, pushes refused and retried, and when."""

    accepted: int = 0
    retries: int = 0
    first_at: float | None = None
    last_at: float | None = None
    accepted_at: list[tuple[float, int]] = field(default_factory=list)


class Pusher:
    """Signed usage pushes to the API with `concurrency` requests in flight; a 429 or 503 is
    retried after the answer's Retry-After, anything else is an error."""

    def __init__(self, client: httpx.AsyncClient, operator: str, secret: str,
                 concurrency: int = 4) -> None:
        self._client = client
        self._path = f"/v1/upstream/{operator}/usage"
        self._secret = secret
        self._concurrency = concurrency
        self.stats = PushStats()

    async def push(self, body: PushBody) -> float:
        """Push one body until accepted; returns the unix time the API answered 202."""
        while True:
            stamp = str(int(time.time()))
            answer = await self._client.post(self._path, content=body.body, headers={
                TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(self._secret, stamp, body.body),
                "Content-Type": "application/json"})
            if answer.status_code == 202:
                now = time.time()
                self._count(body, now)
                return now
            if answer.status_code not in (429, 503):
                raise RuntimeError(f"push refused with {answer.status_code}: {answer.text[:500]}")
            self.stats.retries += 1
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))

    def _count(self, body: PushBody, now: float) -> None:
        s = self.stats
        s.accepted += body.records
        s.first_at = s.first_at or now
        s.last_at = now
        s.accepted_at.append((now, body.records))

    async def push_all(self, bodies: Iterator[PushBody], rate_per_s: float | None = None,
                       progress: Callable[[], None] | None = None) -> None:
        """Push every body; with `rate_per_s`, paced to that many records a second. The
        first push that fails for good stops the rest and is raised."""
        started = time.monotonic()
        sent = 0
        slots = asyncio.Semaphore(self._concurrency)
        running: set[asyncio.Task[float]] = set()
        failures: list[BaseException] = []

        def finished(task: asyncio.Task[float]) -> None:
            running.discard(task)
            slots.release()
            if task.cancelled():
                return
            if (error := task.exception()) is not None:
                failures.append(error)
            elif progress:
                progress()

        try:
            for body in bodies:
                if rate_per_s:
                    await asyncio.sleep(max(0.0, started + sent / rate_per_s - time.monotonic()))
                await slots.acquire()
                if failures:
                    raise failures[0]
                sent += body.records
                task = asyncio.create_task(self.push(body))
                running.add(task)
                task.add_done_callback(finished)
            if running:
                await asyncio.gather(*running)
            if failures:
                raise failures[0]
        finally:
            for task in list(running):
                task.cancel()
