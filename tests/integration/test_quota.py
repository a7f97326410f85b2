"""Quota enforcement through the real API, broker, worker process and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from core.clock import CLOCK, now
from core.settings import Settings
from core.signing import sign
from streams.events import decode_desired
from tests.support.api import ADMIN, signed_body
from tests.support.dates import mid_cycle, move_clock, put_offset
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration
SECRET = "quota-push-secret-0123"
A, B, C = "89860000000000000011", "89860000000000000022", "89860000000000000033"


async def ok(response: httpx.Response, code: int = 200) -> dict[str, Any]:
    assert response.status_code == code, response.text
    body: dict[str, Any] = response.json()
    return body


async def setup(client: httpx.AsyncClient, cards: dict[str, dict[str, Any]],
                pools: dict[str, dict[str, Any]] | None = None) -> None:
    await ok(await client.post("/v1/enterprises", json={"enterprise_id": "acme", "name": "Acme"},
                               headers=ADMIN), 201)
    answer = await client.put("/v1/operators/jasper/push-secret", json={"secret": SECRET},
                              headers=ADMIN)
    assert answer.status_code == 204
    for pool_id, spec in (pools or {}).items():
        await ok(await client.post("/v1/pools", json={"pool_id": pool_id,
                                                      "enterprise_id": "acme", **spec},
                                   headers=ADMIN), 201)
    for iccid, spec in cards.items():
        await ok(await client.post("/v1/cards", json={"iccid": iccid, "enterprise_id": "acme",
                                                      "operator": "jasper", **spec},
                                   headers=ADMIN), 201)


@pytest.fixture(autouse=True)
async def mid_month(client: httpx.AsyncClient) -> None:
    """Every test here pushes and reads one cycle: the platform clock in mid-month."""
    await move_clock(client, mid_cycle())


_seq = iter(range(1_000_000))


async def use(client: httpx.AsyncClient, iccid: str, nbytes: int, *,
              end: datetime | None = None) -> None:
    """Push one usage record ending at `end` (default: 5 s ago on the platform clock, which
    the API in this process shares)."""
    end = end or now() - timedelta(seconds=5)
    record = {"record_id": f"rec-{next(_seq)}", "iccid": iccid, "bytes": nbytes,
              "start": (end - timedelta(minutes=5)).isoformat(), "end": end.isoformat()}
    raw, headers = signed_body({"records": [record]}, SECRET)
    assert (await client.post("/v1/upstream/jasper/usage", content=raw,
                              headers=headers)).status_code == 202


async def card(client: httpx.AsyncClient, iccid: str) -> dict[str, Any]:
    return await ok(await client.get(f"/v1/cards/{iccid}", headers=ADMIN))


async def reasons_become(client: httpx.AsyncClient, iccid: str, reasons: list[str],
                         usage: int | None = None) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        view = await card(client, iccid)
        if view["stop_reasons"] != reasons:
            return None
        if usage is not None and view["cycle_usage_bytes"] != usage:
            return None
        return view

    async def show() -> dict[str, Any]:
        return await card(client, iccid)

    try:
        view = await eventually_async(check, timeout=30, what=f"{iccid} reasons {reasons}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; card is {await show()}") from None
    assert view["desired_status"] == ("stopped" if reasons else "active")
    return view


async def cycle_usage(settings: Settings, cycle: str) -> dict[str, int]:
    """Each card's stored usage in `cycle` (YYYY-MM)."""
    async with await psycopg.AsyncConnection.connect(settings.require_database()) as conn:
        cur = await conn.execute("SELECT iccid, bytes FROM card_cycle_usage"
                                 " WHERE to_char(cycle, 'YYYY-MM') = %s", (cycle,))
        return {str(iccid): int(nbytes) for iccid, nbytes in await cur.fetchall()}


async def patch_card(client: httpx.AsyncClient, iccid: str, **changes: Any) -> dict[str, Any]:
    return await ok(await client.patch(f"/v1/cards/{iccid}", json=changes, headers=ADMIN))


async def test_package_quota_manual_stop_and_desired_state_topic(
    client: httpx.AsyncClient, settings: Settings, running_worker: WorkerProcess,
) -> None:
    await setup(client, {A: {"package_bytes": 1000}})
    await use(client, A, 600)
    await reasons_become(client, A, [], usage=600)
    await use(client, A, 500)
    await reasons_become(client, A, ["package_quota"], usage=1100)

    view = await ok(await client.post(f"/v1/cards/{A}/stop", headers=ADMIN))
    assert view["stop_reasons"] == ["manual", "package_quota"]
    await patch_card(client, A, package_bytes=5000)
    view = await reasons_become(client, A, ["manual"])
    await patch_card(client, A, package_bytes=100)
    await reasons_become(client, A, ["manual", "package_quota"])
    view = await ok(await client.post(f"/v1/cards/{A}/resume", headers=ADMIN))
    assert view["stop_reasons"] == ["package_quota"], "resume removes only `manual`"
    await patch_card(client, A, package_bytes=None)
    await reasons_become(client, A, [])

    consumer = AIOKafkaConsumer(settings.desired_topic, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: list[tuple[str, tuple[str, ...], str]] = []
    try:
        deadline = time.monotonic() + 10
        while len(seen) < 6 and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                for message in messages:
                    seen.extend((c.desired_status, tuple(c.stop_reasons), c.cause)
                                for c in decode_desired(message.value).changes)
    finally:
        await consumer.stop()
    # The worker published the first change and the API the others: two producers, so the
    # worker's may land after the API's first one (the database already held it when the test
    # moved on). Each producer's changes keep their order.
    assert seen.count(("stopped", ("package_quota",), "usage")) == 1
    seen.remove(("stopped", ("package_quota",), "usage"))
    assert seen == [
        ("stopped", ("manual", "package_quota"), "manual_stop"),
        ("stopped", ("manual",), "card_updated"),
        ("stopped", ("manual", "package_quota"), "card_updated"),
        ("stopped", ("package_quota",), "manual_resume"),
        ("active", (), "card_updated"),
    ]


async def test_pool_exhaustion_card_cap_and_leaving_the_pool(
    client: httpx.AsyncClient, running_worker: WorkerProcess,
) -> None:
    await setup(client, {A: {"pool_id": "fleet"}, B: {"pool_id": "fleet"}, C: {}},
                {"fleet": {"limit_bytes": 1000}})
    await use(client, A, 600)
    await use(client, B, 500)
    await reasons_become(client, A, ["pool_exhausted"], usage=600)
    await reasons_become(client, B, ["pool_exhausted"], usage=500)
    pool = await ok(await client.get("/v1/pools/fleet", headers=ADMIN))
    assert (pool["used_bytes"], pool["card_count"], pool["status"]) == (1100, 2, "exhausted")

    await ok(await client.patch("/v1/pools/fleet", json={"limit_bytes": 10_000}, headers=ADMIN))
    await reasons_become(client, A, [])
    await reasons_become(client, B, [])

    await ok(await client.patch("/v1/pools/fleet", json={"per_card_limit_bytes": 550},
                                headers=ADMIN))
    await reasons_become(client, A, ["pool_card_cap"])
    await reasons_become(client, B, [])

    await ok(await client.patch("/v1/pools/fleet", json={"limit_bytes": 900}, headers=ADMIN))
    await reasons_become(client, A, ["pool_exhausted", "pool_card_cap"])
    await patch_card(client, A, pool_id=None)
    await reasons_become(client, A, [])
    pool = await ok(await client.get("/v1/pools/fleet", headers=ADMIN))
    assert (pool["used_bytes"], pool["card_count"], pool["status"]) == (500, 1, "ok")
    await reasons_become(client, B, [])
    await patch_card(client, C, pool_id="fleet")
    await use(client, C, 400)
    await reasons_become(client, C, ["pool_exhausted"], usage=400)
    await reasons_become(client, B, ["pool_exhausted"])


async def test_new_cycle_resumes_quota_stopped_cards_and_late_usage_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, running_worker: WorkerProcess,
) -> None:
    await setup(client, {A: {"package_bytes": 100}, B: {"pool_id": "fleet"}},
                {"fleet": {"limit_bytes": 100}})
    await use(client, A, 150)
    await use(client, B, 150)
    await reasons_become(client, A, ["package_quota"])
    await reasons_become(client, B, ["pool_exhausted"])
    before = (await card(client, A))["cycle"]
    closed = now()  # mid-month (the fixture): 32 days later is the next cycle

    await put_offset(client, int(CLOCK.offset_s) + 32 * 86400)
    view = await reasons_become(client, A, [], usage=0)
    assert view["cycle"] != before
    await reasons_become(client, B, [], usage=0)
    pool = await ok(await client.get("/v1/pools/fleet", headers=ADMIN))
    assert (pool["status"], pool["used_bytes"]) == ("ok", 0)

    # Records ending in the closed cycle are stored and counted in that cycle, but they
    # change no reason.
    await use(client, A, 10_000, end=closed - timedelta(seconds=5))
    await use(client, B, 10_000, end=closed - timedelta(seconds=5))
    await use(client, A, 1, end=closed - timedelta(seconds=4))

    async def stored() -> bool:
        return await cycle_usage(settings, before) == {A: 150 + 10_000 + 1, B: 150 + 10_000}

    await eventually_async(stored, timeout=30, what="the late records counted in their cycle")
    assert (await card(client, A))["stop_reasons"] == []
    assert (await card(client, A))["cycle_usage_bytes"] == 0
    assert (await card(client, B))["stop_reasons"] == []


class Receiver(BaseHTTPRequestHandler):
    """A customer's webhook endpoint: fails the first call, then records what it gets."""

    calls: list[tuple[dict[str, str], bytes]] = []
    failures_left = 1

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.failures_left > 0:
            Receiver.failures_left -= 1
            self.send_response(503)
        else:
            Receiver.calls.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.calls, Receiver.failures_left = [], 1
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


async def test_threshold_alerts_once_each_and_signed_webhook(
    client: httpx.AsyncClient, running_worker: WorkerProcess, receiver: str,
) -> None:
    await setup(client, {A: {"package_bytes": 1000}})
    hook_secret = "webhook-secret-0123456789"
    await ok(await client.patch("/v1/enterprises/acme", json={
        "webhook_url": receiver, "webhook_secret": hook_secret}, headers=ADMIN))
    await use(client, A, 850)
    await reasons_become(client, A, [], usage=850)
    await use(client, A, 60)
    await reasons_become(client, A, [], usage=910)
    await use(client, A, 10)
    await reasons_become(client, A, [], usage=920)

    async def alerts() -> list[dict[str, Any]] | None:
        found = (await client.get("/v1/enterprises/acme/alerts", headers=ADMIN)).json()
        return found if len(found) == 2 and all(
            a["webhook_state"] == "delivered" for a in found) else None

    try:
        delivered = await eventually_async(alerts, timeout=30, what="two delivered alerts")
    except AssertionError as exc:
        found = (await client.get("/v1/enterprises/acme/alerts", headers=ADMIN)).json()
        raise AssertionError(f"{exc}; alerts are {found}") from None
    assert sorted(a["percent"] for a in delivered) == [80, 90]
    assert len(Receiver.calls) == 2, "one failure retried, then each alert delivered once"
    for headers, body in Receiver.calls:
        stamp = headers["X-Cardpulse-Timestamp"]
        assert headers["X-Cardpulse-Signature"] == sign(hook_secret, stamp, body)
        assert orjson.loads(body)["subject"] == A
