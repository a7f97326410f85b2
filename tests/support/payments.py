"""The payment-channel simulator in tests: in process over ASGI with a recording sender (unit
tests), or served over real HTTP next to a real callback receiver (integration tests).

The receiver is a bare ASGI app under uvicorn on a free port, in the test's own event loop: it
records every callback, verifies it with `core.payments.verify_notification` as the orders
module will, and answers as the test planned (by default 200 `success`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from cardpulse.supervisor.children import free_port
from connectors.payments import PaymentChannelClient
from core.payments import Notification, NotificationProblem, verify_notification
from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from simulators.knobs import SimKnobs
from simulators.operator_api import create_app
from simulators.payments.channel import PayChannel
from simulators.payments.knobs import PayKnobs
from tests.support.waiting import eventually_async

SECRET = "payment-test-secret-0123456789"
# Retries fast enough for a test; the backoff doubles from here.
QUICK = {"retry_base_ms": 10.0, "retry_cap_ms": 50.0}

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Received:
    """One callback as the receiver got it, and what verifying it gave."""

    headers: dict[str, str]
    body: bytes
    verified: Notification | NotificationProblem

    @property
    def notification(self) -> Notification:
        assert not isinstance(self.verified, NotificationProblem), self.verified
        return self.verified


@dataclass
class Receiver:
    """The platform's side of the callbacks: `answers` are given in order, then `success`."""

    secret: str = SECRET
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    got: list[Received] = field(default_factory=list)
    url: str = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        verified = verify_notification(self.secret, headers.get(TIMESTAMP_HEADER.lower()),
                                       headers.get(SIGNATURE_HEADER.lower()), body, time.time())
        self.got.append(Received(headers, body, verified))
        status, answer = self.answers.pop(0) if self.answers else (200, b"success")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": answer})

    async def wait_for(self, count: int, what: str = "callbacks") -> list[Received]:
        """The first `count` callbacks, once they have arrived."""
        async def enough() -> list[Received] | None:
            return self.got[:count] if len(self.got) >= count else None

        return await eventually_async(enough, timeout=20, what=f"{count} {what}")


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """`app` under uvicorn on a free loopback port, in this event loop; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        await eventually_async(_started(server, task), timeout=20, what="server started")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _started(server: uvicorn.Server, task: asyncio.Task[None]
             ) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        if task.done():
            task.result()  # raises what stopped it
        return server.started

    return check


@dataclass
class PayWorld:
    """A served channel, the platform's client to it and a receiver for its callbacks."""

    channel: PayChannel
    http: httpx.AsyncClient  # to the channel, for `/_pay/stats`, knobs and paying
    client: PaymentChannelClient
    receiver: Receiver

    @property
    def notify_url(self) -> str:
        return self.receiver.url + "/notify"

    async def knobs(self, **changes: Any) -> dict[str, Any]:
        answer = await self.http.put("/_pay/knobs", json=changes)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def pay(self, payment_id: str) -> dict[str, Any]:
        answer = await self.http.post(f"/_pay/payments/{payment_id}/pay")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def attempts(self, **params: Any) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = (await self.http.get("/_pay/notifications",
                                                            params=params)).json()
        return answer

    async def settled(self) -> dict[str, Any]:
        """`/_pay/stats` once no delivery is pending any more."""
        async def done() -> dict[str, Any] | None:
            stats: dict[str, Any] = (await self.http.get("/_pay/stats")).json()
            busy = stats["notifications"]["copies_pending"] or stats["payouts"]["processing"]
            return None if busy else stats

        return await eventually_async(done, timeout=20, what="deliveries settled")


@asynccontextmanager
async def pay_world(receiver: Receiver | None = None, **knobs: Any) -> AsyncIterator[PayWorld]:
    """The channel (operator simulator app with `/_pay`) and a receiver, both over real HTTP."""
    receiver = receiver or Receiver()
    channel = PayChannel(PayKnobs(**{**QUICK, **knobs}), SECRET)
    async with served(receiver) as receiver_url, \
            served(create_app(SimKnobs(), payments=channel)) as sim_url, \
            httpx.AsyncClient(base_url=sim_url, timeout=10) as http:
        receiver.url = receiver_url
        try:
            yield PayWorld(channel, http, PaymentChannelClient(http, sim_url + "/_pay"),
                           receiver)
        finally:
            await channel.aclose()


@dataclass
class Recorded:
    """What a recording sender was asked to deliver; it answers from `answers`, then success."""

    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    answers: list[tuple[int, bytes]] = field(default_factory=list)

    async def __call__(self, url: str, body: bytes, headers: Mapping[str, str],
                       timeout_s: float) -> tuple[int, bytes]:
        self.sent.append((url, body, dict(headers)))
        return self.answers.pop(0) if self.answers else (200, b"success")


@asynccontextmanager
async def pay_in_process(secret: str | None = SECRET, **knobs: Any
                         ) -> AsyncIterator[tuple[httpx.AsyncClient, PayChannel, Recorded]]:
    """The channel over ASGI, its callbacks recorded instead of sent (no sockets)."""
    recorded = Recorded()
    channel = PayChannel(PayKnobs(**{**QUICK, **knobs}), secret, sender=recorded)
    app = create_app(SimKnobs(), payments=channel)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sim") as http:
        try:
            yield http, channel, recorded
        finally:
            await channel.aclose()
