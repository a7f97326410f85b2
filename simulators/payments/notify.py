"""Delivering notifications as a real channel does: signed, asynchronous, repeated until the
receiver answers 2xx with the body `success`, given up after `max_attempts`; with the knobs,
late, out of order, more than once, or with the first attempts lost on the way.

Each copy of a notification (`repeat_callbacks`) is delivered on its own and carries the same
body, hence the same `notify_id`; each attempt is signed afresh (its own timestamp).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import httpx

from core.payments import ACK_BODY, Notification, notification_body, notification_headers
from simulators.payments.knobs import PayKnobs

LOG_SIZE = 10_000  # attempts kept for `GET /_pay/notifications`

Outcome = Literal["acknowledged", "refused", "unreachable", "dropped"]
# POST `body` with `headers` to a URL within a timeout (s) → (HTTP status, answer body).
Sender = Callable[[str, bytes, Mapping[str, str], float], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True)
class Attempt:
    """One attempt to deliver one copy of a notification, as `GET /_pay/notifications` shows."""

    seq: int
    notify_id: str
    kind: str
    subject: str
    notify_url: str
    repeat: int
    attempt: int
    outcome: Outcome
    http_status: int | None
    at: float  # unix seconds, wall clock
    payload: str  # the JSON body sent (or that would have been, when dropped)


class HttpSender:
    """The real sender: one pooled httpx client, made on first use inside the running loop."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, url: str, body: bytes, headers: Mapping[str, str],
                       timeout_s: float) -> tuple[int, bytes]:
        if self._client is None:
            self._client = httpx.AsyncClient()
        answer = await self._client.post(url, content=body, headers=dict(headers),
                                         timeout=timeout_s)
        return answer.status_code, answer.content

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def acknowledged(status: int, answer: bytes) -> bool:
    """A channel takes only 2xx with the body `success` as an acknowledgement."""
    return 200 <= status < 300 and answer.strip() == ACK_BODY


def backoff_s(knobs: PayKnobs, attempt: int) -> float:
    """How long to wait after failed attempt number `attempt` (1-based)."""
    return min(knobs.retry_cap_ms, knobs.retry_base_ms * 2.0 ** (attempt - 1)) / 1000


@dataclass
class Notifier:
    """Sends notifications in background tasks and keeps a log of every attempt."""

    send: Sender
    wall: Callable[[], float]
    log: deque[Attempt] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))
    attempts: Counter[str] = field(default_factory=Counter)  # by outcome
    copies: Counter[str] = field(default_factory=Counter)  # acknowledged/gave_up/pending
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def notify(self, url: str, notification: Notification, secret: str, knobs: PayKnobs,
               rng: random.Random) -> None:
        """Schedule every copy of `notification` to `url`, with the knobs of this moment."""
        body = notification_body(notification)
        for repeat in range(1, knobs.repeat_callbacks + 1):
            delay = (knobs.callback_delay_ms + rng.uniform(0, knobs.callback_jitter_ms)) / 1000
            self.copies["pending"] += 1
            task = asyncio.get_running_loop().create_task(
                self._deliver(url, notification, body, repeat, delay, secret, knobs))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, notification: Notification, body: bytes, repeat: int,
                       delay_s: float, secret: str, knobs: PayKnobs) -> None:
        await asyncio.sleep(delay_s)
        done = "gave_up"
        for attempt in range(1, knobs.max_attempts + 1):
            outcome, status = await self._attempt(url, body, secret, knobs, attempt)
            self._note(notification, url, repeat, attempt, outcome, status, body)
            if outcome == "acknowledged":
                done = "acknowledged"
                break
            if attempt < knobs.max_attempts:
                await asyncio.sleep(backoff_s(knobs, attempt))
        self.copies["pending"] -= 1
        self.copies[done] += 1

    async def _attempt(self, url: str, body: bytes, secret: str, knobs: PayKnobs,
                       attempt: int) -> tuple[Outcome, int | None]:
        if attempt <= knobs.drop_first:
            return "dropped", None
        headers = notification_headers(secret, body, self.wall())
        try:
            status, answer = await self.send(url, body, headers, knobs.notify_timeout_ms / 1000)
        except (httpx.HTTPError, httpx.InvalidURL, OSError):
            return "unreachable", None
        return ("acknowledged" if acknowledged(status, answer) else "refused"), status

    def _note(self, notification: Notification, url: str, repeat: int, attempt: int,
              outcome: Outcome, status: int | None, body: bytes) -> None:
        self.attempts[outcome] += 1
        self.log.append(Attempt(next(self._seq), notification.notify_id, notification.kind,
                                notification.subject, url, repeat, attempt, outcome, status,
                                self.wall(), body.decode()))

    def stats(self) -> dict[str, int]:
        """Attempts by outcome, and copies acknowledged, given up and still pending."""
        return {**{f"attempts_{o}": self.attempts[o] for o in
                   ("acknowledged", "refused", "unreachable", "dropped")},
                **{f"copies_{k}": self.copies[k] for k in
                   ("acknowledged", "gave_up", "pending")}}

    async def aclose(self) -> None:
        """Stop every delivery still waiting or retrying."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
