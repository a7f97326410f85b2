"""The fleet's send loops: register cards, push signed usage to the platform, or feed the
operator simulator's counters for polling. Bounded by count and time, reporting progress."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from simulators.card_events import card_events
from simulators.fleet import FleetSpec, fleet_iccids, fleet_numbers, records

SIM_REGISTER_CHUNK = 50_000


@dataclass
class Progress:
    """What a send loop has done so far."""

    total: int
    sent: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)
    errors: list[str] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, what: str) -> str:
        rate = self.sent / self.elapsed if self.elapsed > 0 else 0.0
        return (f"{what}: {self.sent:,}/{self.total:,} ({rate:,.0f}/s), "
                f"{self.failed:,} failed, {self.elapsed:.1f} s")


def chunks(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


async def _report(progress: Progress, what: str, say: Callable[[str], None]) -> None:
    while True:
        await asyncio.sleep(1.0)
        say(progress.line(what))


async def _drain(work: Iterator[list[dict[str, Any]]], send: Callable[[list[dict[str, Any]]],
                 Any], progress: Progress, concurrency: int, deadline: float) -> None:
    async def worker() -> None:
        for chunk in work:
            if time.monotonic() > deadline:
                return
            error = await send(chunk)
            if error is None:
                progress.sent += len(chunk)
            else:
                progress.failed += len(chunk)
                if len(progress.errors) < 5:
                    progress.errors.append(error)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def run_bounded(what: str, work: Iterator[list[dict[str, Any]]],
                      send: Callable[[list[dict[str, Any]]], Any], total: int,
                      concurrency: int, duration_s: float, say: Callable[[str], None]
                      ) -> Progress:
    """Send every chunk (or stop at the deadline), printing progress each second."""
    progress = Progress(total)
    reporter = asyncio.create_task(_report(progress, what, say))
    try:
        await _drain(work, send, progress, concurrency, time.monotonic() + duration_s)
    finally:
        reporter.cancel()
    say(progress.line(what))
    return progress


async def number_cards(sim: httpx.AsyncClient, spec: FleetSpec) -> None:
    """Tell the simulated operator each fleet card's number (a real operator knows them)."""
    cards = [{"iccid": i, "msisdn": m} for i, m in zip(fleet_iccids(spec), fleet_numbers(spec),
                                                        strict=True)]
    for lo in range(0, len(cards), SIM_REGISTER_CHUNK):
        answer = await sim.post("/_sim/cards", json={"cards": cards[lo:lo + SIM_REGISTER_CHUNK]})
        answer.raise_for_status()


async def register(http: httpx.AsyncClient, admin_token: str, enterprise: str,
                   spec: FleetSpec, concurrency: int, say: Callable[[str], None]) -> Progress:
    """Create the enterprise (if needed) and every card of the fleet, with its number,
    through the API."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    await http.post("/v1/enterprises", json={"enterprise_id": enterprise,
                                             "name": f"Fleet {enterprise}"}, headers=auth)
    cards = ({"iccid": i, "msisdn": m}
             for i, m in zip(fleet_iccids(spec), fleet_numbers(spec), strict=True))

    async def create(card: dict[str, Any]) -> httpx.Response:
        while True:  # the API limits requests per key: wait as it says, then go on
            answer = await http.post("/v1/cards", headers=auth, json={
                **card, "enterprise_id": enterprise, "operator": spec.operator})
            if answer.status_code != 429:
                return answer
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))

    async def send(chunk: list[dict[str, Any]]) -> str | None:
        for card in chunk:
            answer = await create(card)
            if answer.status_code not in (201, 409):
                return f"HTTP {answer.status_code}: {answer.text[:200]}"
        return None

    return await run_bounded("registering cards", chunks(cards, 50), send, spec.cards,
                             concurrency, 3600, say)


async def push(http: httpx.AsyncClient, secret: str, spec: FleetSpec, total: int, batch: int,
               concurrency: int, duration_s: float, say: Callable[[str], None]) -> Progress:
    """Push `total` usage records, signed, in batches of `batch`."""
    rounds = -(-total // spec.cards)
    start = datetime.now(UTC) - timedelta(seconds=spec.session_s * rounds + 60)

    async def send(chunk: list[dict[str, Any]]) -> str | None:
        body = orjson.dumps({"records": chunk})
        stamp = str(int(time.time()))
        answer = await http.post(f"/v1/upstream/{spec.operator}/usage", content=body, headers={
            TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body),
            "Content-Type": "application/json"})
        return None if answer.status_code == 202 else (
            f"HTTP {answer.status_code}: {answer.text[:200]}")

    return await run_bounded("pushing usage", chunks(records(spec, total, start), batch), send,
                             total, concurrency, duration_s, say)


async def push_card_events(http: httpx.AsyncClient, secret: str, spec: FleetSpec, total: int,
                           batch: int, concurrency: int, duration_s: float,
                           say: Callable[[str], None]) -> Progress:
    """Push `total` card events (real name, activation, recharges), signed, in batches."""
    start = datetime.now(UTC) - timedelta(seconds=total + 60)

    async def send(chunk: list[dict[str, Any]]) -> str | None:
        body = orjson.dumps({"events": chunk})
        stamp = str(int(time.time()))
        answer = await http.post(f"/v1/upstream/{spec.operator}/card-events", content=body,
                                 headers={TIMESTAMP_HEADER: stamp,
                                          SIGNATURE_HEADER: sign(secret, stamp, body),
                                          "Content-Type": "application/json"})
        return None if answer.status_code == 202 else (
            f"HTTP {answer.status_code}: {answer.text[:200]}")

    return await run_bounded("pushing card events", chunks(card_events(spec, total, start),
                                                             batch),
                             send, total, concurrency, duration_s, say)


async def feed_counters(http: httpx.AsyncClient, spec: FleetSpec, total: int, batch: int,
                        concurrency: int, duration_s: float, say: Callable[[str], None]
                        ) -> Progress:
    """Add usage to the operator simulator's month-to-date counters (for polling)."""
    start = datetime.now(UTC) - timedelta(days=1)

    async def send(chunk: list[dict[str, Any]]) -> str | None:
        body = {"records": [{"iccid": r["iccid"], "bytes": r["bytes"]} for r in chunk]}
        answer = await http.post("/_sim/usage", json=body)
        return None if answer.is_success else f"HTTP {answer.status_code}: {answer.text[:200]}"

    return await run_bounded("feeding simulator counters",
                             chunks(records(spec, total, start), batch), send, total,
                             concurrency, duration_s, say)
