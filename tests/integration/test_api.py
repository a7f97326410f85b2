"""The API in-process against the real broker and PostgreSQL: auth, tenants, cards, pushes."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from core.clock import now
from core.settings import Settings
from core.signing import sign
from domain.usage.partitioning import partition_for
from streams.events import decode_usage
from tests.support.api import ADMIN, setup_tenant, signed_body

pytestmark = pytest.mark.integration
SECRET = "onelink-secret-0123456789"
CARD = "8986001234567890123"


def signed(body: dict[str, Any], secret: str = SECRET, ts: int | None = None
           ) -> tuple[bytes, dict[str, str]]:
    return signed_body(body, secret, ts)


def usage(record_id: str = "r1", iccid: str = CARD, nbytes: int = 100) -> dict[str, Any]:
    """A usage record of the hour before an hour ago (platform clock)."""
    end = now() - timedelta(hours=1)
    return {"record_id": record_id, "iccid": iccid, "bytes": nbytes,
            "start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat()}


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    # "warnings" (a work calendar ending within 60 days of the real date) keep the status ok
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert "problems" not in health.json()
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "cardpulse_api_request_duration_seconds_bucket" in metrics.text


async def test_auth_is_required_and_checked(client: httpx.AsyncClient) -> None:
    body = {"enterprise_id": "x", "name": "X"}
    assert (await client.post("/v1/enterprises", json=body)).status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert (await client.post("/v1/enterprises", json=body, headers=bad)).status_code == 401
    tenant = await setup_tenant(client)
    denied = await client.post("/v1/enterprises", json=body, headers=tenant)
    assert denied.status_code == 403
    assert "administrator" in denied.json()["detail"]


async def test_enterprise_and_key_errors(client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    again = await client.post("/v1/enterprises", json={"enterprise_id": "acme", "name": "A"},
                              headers=ADMIN)
    assert again.status_code == 409
    missing = await client.post("/v1/enterprises/ghost/api-keys",
                                json={"role": "enterprise_admin"}, headers=ADMIN)
    assert missing.status_code == 404
    bad_tz = await client.post("/v1/enterprises", json={"enterprise_id": "b", "name": "B",
                                                        "timezone": "Mars/Olympus"}, headers=ADMIN)
    assert bad_tz.status_code == 422 and "time zone" in bad_tz.text


async def test_cards_are_visible_only_to_their_tenant(client: httpx.AsyncClient) -> None:
    acme = await setup_tenant(client, "acme")
    other = await setup_tenant(client, "other")
    card = {"iccid": CARD, "enterprise_id": "acme", "operator": "onelink",
            "package_bytes": 1000}
    made = await client.post("/v1/cards", json=card, headers=acme)
    assert made.status_code == 201, made.text
    view = made.json()
    assert view["cycle_usage_bytes"] == 0 and view["desired_status"] == "active"
    assert view["stop_reasons"] == [] and view["network_status"] == "unknown"
    assert (await client.post("/v1/cards", json=card, headers=acme)).status_code == 409
    assert (await client.get(f"/v1/cards/{CARD}", headers=acme)).status_code == 200
    assert (await client.get(f"/v1/cards/{CARD}", headers=ADMIN)).status_code == 200
    assert (await client.get(f"/v1/cards/{CARD}", headers=other)).status_code == 404
    foreign = dict(card, iccid="8986001234567890999")
    assert (await client.post("/v1/cards", json=foreign, headers=other)).status_code == 404


async def test_card_input_is_validated(client: httpx.AsyncClient) -> None:
    acme = await setup_tenant(client)
    bad = await client.post("/v1/cards", json={"iccid": "123", "enterprise_id": "acme",
                                               "operator": "onelink"}, headers=acme)
    assert bad.status_code == 422 and "ICCID must be 19 or 20 characters" in bad.text
    op = await client.post("/v1/cards", json={"iccid": CARD, "enterprise_id": "acme",
                                              "operator": "vodafone"}, headers=acme)
    assert op.status_code == 422


async def test_signed_push_is_produced_partition_aligned(
    client: httpx.AsyncClient, settings: Settings,
) -> None:
    put = await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET},
                           headers=ADMIN)
    assert put.status_code == 204
    cards = [f"898600123456789{n:04d}" for n in range(30)]
    raw, headers = signed({"records": [usage(f"r{n}", c) for n, c in enumerate(cards)]})
    pushed = await client.post("/v1/upstream/onelink/usage", content=raw, headers=headers)
    assert pushed.status_code == 202 and pushed.json() == {"accepted": 30}

    consumer = AIOKafkaConsumer(settings.usage_topic, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 15
        while len(seen) < 30 and time.monotonic() < deadline:
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                for message in messages:
                    batch = decode_usage(message.value)
                    assert batch.operator == "onelink"
                    partitions = {partition_for(r.iccid, settings.usage_partitions)
                                  for r in batch.records}
                    assert partitions == {tp.partition}
                    seen.extend(r.iccid for r in batch.records)
    finally:
        await consumer.stop()
    assert sorted(seen) == sorted(cards)


async def test_push_signature_failures_are_401(client: httpx.AsyncClient) -> None:
    raw, headers = signed({"records": [usage()]})
    unset = await client.post("/v1/upstream/jasper/usage", content=raw, headers=headers)
    assert unset.status_code == 401 and "no push secret" in unset.text
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET}, headers=ADMIN)
    wrong = dict(headers, **{"X-Cardpulse-Signature": "sha256=" + "0" * 64})
    assert (await client.post("/v1/upstream/onelink/usage", content=raw,
                              headers=wrong)).status_code == 401
    stale_raw, stale = signed({"records": [usage()]}, ts=int(time.time()) - 301)
    late = await client.post("/v1/upstream/onelink/usage", content=stale_raw, headers=stale)
    assert late.status_code == 401 and "300 s" in late.text
    unknown = await client.post("/v1/upstream/vodafone/usage", content=raw, headers=headers)
    assert unknown.status_code == 422


async def test_one_bad_record_rejects_the_whole_push(client: httpx.AsyncClient) -> None:
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET}, headers=ADMIN)
    records = [usage("ok"), usage("bad-iccid", iccid="8986ABC"), usage("neg", nbytes=-1)]
    raw, headers = signed({"records": records})
    rejected = await client.post("/v1/upstream/onelink/usage", content=raw, headers=headers)
    assert rejected.status_code == 422
    detail = rejected.json()["detail"]
    assert [(e["loc"], e["input"]["record_id"]) for e in detail] == [
        (["body", "records", 1, "iccid"], "bad-iccid"), (["body", "records", 2, "bytes"], "neg")]
    assert detail[1]["msg"] == "must be >= 0"
    raw, headers = signed({"records": "nope"})
    assert (await client.post("/v1/upstream/onelink/usage", content=raw,
                              headers=headers)).status_code == 422
    junk = b"{not json"
    stamp = str(int(time.time()))
    junk_headers = {"X-Cardpulse-Timestamp": stamp,
                    "X-Cardpulse-Signature": sign(SECRET, stamp, junk)}
    assert (await client.post("/v1/upstream/onelink/usage", content=junk,
                              headers=junk_headers)).status_code == 400


async def test_push_limits(client: httpx.AsyncClient, settings: Settings) -> None:
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET}, headers=ADMIN)
    too_many = [usage(f"r{n}") for n in range(settings.push_max_records + 1)]
    raw, headers = signed({"records": too_many})
    answer = await client.post("/v1/upstream/onelink/usage", content=raw, headers=headers)
    assert answer.status_code == 413 and "at most" in answer.text


async def test_status_feed_updates_observed_state(client: httpx.AsyncClient) -> None:
    acme = await setup_tenant(client)
    await client.post("/v1/cards", json={"iccid": CARD, "enterprise_id": "acme",
                                         "operator": "onelink"}, headers=acme)
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET}, headers=ADMIN)

    async def feed(events: list[dict[str, Any]]) -> httpx.Response:
        raw, headers = signed({"events": events})
        return await client.post("/v1/upstream/onelink/status", content=raw, headers=headers)

    newer = {"event_id": "e2", "iccid": CARD, "status": "stopped",
             "at": "2026-11-20T10:00:00+08:00"}
    older = {"event_id": "e1", "iccid": CARD, "status": "active",
             "at": "2026-11-20T09:00:00+08:00"}
    stranger = dict(newer, event_id="e3", iccid="8986009999999999999")
    answer = await feed([newer, stranger])
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 2, "applied": 1, "unknown_cards": 1}
    assert (await feed([older])).json()["applied"] == 0, "an older report changes nothing"
    view = (await client.get(f"/v1/cards/{CARD}", headers=acme)).json()
    assert view["network_status"] == "stopped"
    bad = await feed([dict(newer, status="gone")])
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "status"
