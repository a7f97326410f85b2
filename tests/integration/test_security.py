"""Tenants and roles, key revocation, signed-push rotation and replay, dead-letter replay,
and per-key rate limits — through the real API, broker, worker and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from api.app import create_app
from core.clock import now
from core.settings import Settings
from tests.support.api import ADMIN, signed_body
from tests.support.dates import SHANGHAI, mid_cycle, move_clock
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration
SECRET, NEW_SECRET = "first-push-secret-0123", "second-push-secret-4567"
OWN, OTHER = "89860000000000001111", "89860000000000002222"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def key(client: httpx.AsyncClient, enterprise: str | None, role: str) -> dict[str, str]:
    path = "/v1/api-keys" if enterprise is None else f"/v1/enterprises/{enterprise}/api-keys"
    answer = await client.post(path, json={"role": role}, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    return bearer(answer.json()["key"])


@pytest.fixture
async def world(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """Two tenants with a card and a pool each, and a key of every role."""
    for ent, iccid in (("acme", OWN), ("rival", OTHER)):
        await client.post("/v1/enterprises", json={"enterprise_id": ent, "name": ent},
                          headers=ADMIN)
        await client.post("/v1/pools", json={"pool_id": f"{ent}-pool", "enterprise_id": ent,
                                             "limit_bytes": 1000}, headers=ADMIN)
        await client.post("/v1/cards", json={"iccid": iccid, "enterprise_id": ent,
                                             "operator": "onelink"}, headers=ADMIN)
    return {"admin": ADMIN, "ops": await key(client, None, "platform_ops"),
            "ent_admin": await key(client, "acme", "enterprise_admin"),
            "viewer": await key(client, "acme", "enterprise_viewer"), "none": {}}


# (method, path, body, expected status for: admin, ops, ent_admin, viewer, no token)
MATRIX: list[tuple[str, str, dict[str, Any] | None, tuple[int, int, int, int, int]]] = [
    ("GET", f"/v1/cards/{OWN}", None, (200, 200, 200, 200, 401)),
    ("GET", f"/v1/cards/{OTHER}", None, (200, 200, 404, 404, 401)),
    ("PATCH", f"/v1/cards/{OWN}", {"package_bytes": 5}, (200, 403, 200, 403, 401)),
    ("PATCH", f"/v1/cards/{OTHER}", {"package_bytes": 5}, (200, 403, 404, 403, 401)),
    ("POST", f"/v1/cards/{OTHER}/stop", None, (200, 403, 404, 403, 401)),
    ("POST", f"/v1/cards/{OWN}/activate", None, (200, 403, 200, 403, 401)),
    ("POST", f"/v1/cards/{OTHER}/activate", None, (200, 403, 404, 403, 401)),
    ("GET", "/v1/pools/acme-pool", None, (200, 200, 200, 200, 401)),
    ("GET", "/v1/pools/rival-pool", None, (200, 200, 404, 404, 401)),
    ("PATCH", "/v1/pools/rival-pool", {"limit_bytes": 9}, (200, 403, 404, 403, 401)),
    ("POST", "/v1/pools", {"pool_id": "p2", "enterprise_id": "rival", "limit_bytes": 1},
     (201, 403, 404, 403, 401)),
    ("POST", "/v1/cards", {"iccid": "89860000000000003333", "enterprise_id": "rival",
                           "operator": "jasper"}, (201, 403, 404, 403, 401)),
    ("GET", f"/v1/cards/{OTHER}/usage", None, (200, 200, 404, 404, 401)),
    ("GET", "/v1/pools/rival-pool/top-cards", None, (200, 200, 404, 404, 401)),
    ("GET", "/v1/enterprises/rival/cards.csv?cycle=2026-11", None, (200, 200, 404, 404, 401)),
    ("GET", "/v1/enterprises/rival/alerts", None, (200, 200, 404, 404, 401)),
    ("GET", "/v1/enterprises/acme/api-keys", None, (200, 200, 200, 403, 401)),
    ("POST", "/v1/enterprises/acme/api-keys", {"role": "enterprise_viewer"},
     (201, 403, 201, 403, 401)),
    ("POST", "/v1/enterprises/rival/api-keys", {"role": "enterprise_admin"},
     (201, 403, 404, 404, 401)),
    ("PATCH", "/v1/enterprises/rival", {"name": "x"}, (200, 403, 404, 404, 401)),
    ("POST", "/v1/enterprises", {"enterprise_id": "new", "name": "N"}, (201, 403, 403, 403, 401)),
    ("PUT", "/v1/operators/ctcc/push-secret", {"secret": "0123456789abcdef"},
     (204, 403, 403, 403, 401)),
    ("GET", "/v1/dead-letters", None, (200, 200, 403, 403, 401)),
    ("POST", "/v1/dead-letters/replay", {}, (200, 403, 403, 403, 401)),
]
ROLES = ("admin", "ops", "ent_admin", "viewer", "none")


@pytest.mark.parametrize(("method", "path", "body", "codes"), MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
async def test_authorisation_matrix(client: httpx.AsyncClient, world: dict[str, Any],
                                    method: str, path: str, body: dict[str, Any] | None,
                                    codes: tuple[int, ...]) -> None:
    got = []
    for role in ROLES:
        answer = await client.request(method, path, json=body, headers=world[role])
        got.append(answer.status_code)
        if answer.status_code >= 400:
            assert answer.json()["detail"], (role, answer.text)  # every refusal says why
    assert tuple(got) == codes, dict(zip(ROLES, got, strict=True))


async def test_revoked_key_is_refused_at_once(client: httpx.AsyncClient,
                                              world: dict[str, Any]) -> None:
    listed = await client.get("/v1/enterprises/acme/api-keys", headers=ADMIN)
    viewer = next(k for k in listed.json() if k["role"] == "enterprise_viewer")
    assert viewer["last_used_at"] is None
    assert (await client.get(f"/v1/cards/{OWN}", headers=world["viewer"])).status_code == 200
    revoked = await client.delete(f"/v1/api-keys/{viewer['key_id']}",
                                  headers=world["ent_admin"])
    assert revoked.status_code == 204
    refused = await client.get(f"/v1/cards/{OWN}", headers=world["viewer"])
    assert refused.status_code == 401 and "revoked" in refused.text
    listed = await client.get("/v1/enterprises/acme/api-keys", headers=ADMIN)
    again = next(k for k in listed.json() if k["key_id"] == viewer["key_id"])
    assert again["revoked_at"] is not None and again["last_used_at"] is not None
    assert "key" not in again, "a key is shown only once"


async def push(client: httpx.AsyncClient, secret: str, records: list[dict[str, Any]],
               ts: int | None = None) -> tuple[httpx.Response, bytes, dict[str, str]]:
    raw, headers = signed_body({"records": records}, secret, ts)
    answer = await client.post("/v1/upstream/onelink/usage", content=raw, headers=headers)
    return answer, raw, headers


def record(record_id: str, iccid: str, nbytes: int = 100, end: datetime | None = None
           ) -> dict[str, Any]:
    """A usage record of the hour before `end` (default: an hour ago on the platform clock)."""
    end = (end or now() - timedelta(hours=1)).astimezone(SHANGHAI)
    return {"record_id": record_id, "iccid": iccid, "bytes": nbytes,
            "start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat()}


async def test_secret_rotation_keeps_both_secrets_valid(client: httpx.AsyncClient) -> None:
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET},
                     headers=ADMIN)
    await client.put("/v1/operators/onelink/push-secret", json={"secret": NEW_SECRET},
                     headers=ADMIN)
    assert (await push(client, NEW_SECRET, [record("r1", OWN)]))[0].status_code == 202
    assert (await push(client, SECRET, [record("r2", OWN)]))[0].status_code == 202
    assert (await push(client, "never-the-secret-00", [record("r3", OWN)]))[0].status_code == 401


async def test_replayed_request_changes_nothing(client: httpx.AsyncClient,
                                                settings: Settings) -> None:
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET},
                     headers=ADMIN)
    first, raw, headers = await push(client, SECRET, [record("r1", OWN)])
    assert first.status_code == 202
    replay = await client.post("/v1/upstream/onelink/usage", content=raw, headers=headers)
    assert replay.status_code == 202 and replay.json() == {"accepted": 1}
    metrics = (await client.get("/metrics")).text
    assert 'cardpulse_usage_pushes_total{operator="onelink",outcome="replayed"} 1.0' in metrics
    assert 'cardpulse_usage_records_accepted_total{operator="onelink"} 1.0' in metrics


async def test_unknown_card_usage_is_replayed_once_after_registration(
    client: httpx.AsyncClient, world: dict[str, Any], running_worker: WorkerProcess,
) -> None:
    await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET},
                     headers=ADMIN)
    # Pushes and reads of the current cycle in one cycle, whatever the date: mid-month.
    end = (await move_clock(client, mid_cycle())).now() - timedelta(hours=1)
    late = "89860000000000009999"
    assert (await push(client, SECRET, [record("x1", late, 700, end),
                                        record("x2", late, 300, end)]))[0].status_code == 202

    async def letters() -> list[dict[str, Any]] | None:
        found = (await client.get("/v1/dead-letters", params={"reason": "unknown_card"},
                                  headers=world["ops"])).json()
        return found if len(found) == 2 else None

    kept = await eventually_async(letters, timeout=30, what="two dead letters")
    assert {k["iccid"] for k in kept} == {late} and kept[0]["payload"]["record_id"] in (
        "x1", "x2")
    nothing = await client.post("/v1/dead-letters/replay", json={}, headers=ADMIN)
    assert nothing.json() == {"replayed": 0}, "the card is still unknown"
    await client.post("/v1/cards", json={"iccid": late, "enterprise_id": "acme",
                                         "operator": "onelink"}, headers=ADMIN)
    done = await client.post("/v1/dead-letters/replay", json={}, headers=ADMIN)
    assert done.json() == {"replayed": 2}

    async def counted() -> dict[str, Any] | None:
        view = (await client.get(f"/v1/cards/{late}", headers=ADMIN)).json()
        return view if view["cycle_usage_bytes"] == 1000 else None

    await eventually_async(counted, timeout=30, what="replayed usage counted")
    assert (await client.post("/v1/dead-letters/replay", json={},
                              headers=ADMIN)).json() == {"replayed": 0}
    await push(client, SECRET, [record("x1", late, 700, end)])  # the operator re-sends one
    await push(client, SECRET, [record("marker", late, 1, end)])
    view = await eventually_async(
        lambda: _usage_is(client, late, 1001), timeout=30, what="marker counted")
    assert view["cycle_usage_bytes"] == 1001, "the replayed record never counts twice"


async def _usage_is(client: httpx.AsyncClient, iccid: str, value: int) -> dict[str, Any] | None:
    view: dict[str, Any] = (await client.get(f"/v1/cards/{iccid}", headers=ADMIN)).json()
    return view if view["cycle_usage_bytes"] == value else None


@pytest.fixture
async def strict_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"api_rate_per_s": 1.0, "api_rate_burst": 3}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


async def test_rate_limit_per_key(strict_client: httpx.AsyncClient) -> None:
    codes = [(await strict_client.get("/v1/cards/89860000000000000000", headers=ADMIN))
             for _ in range(5)]
    assert [c.status_code for c in codes] == [404, 404, 404, 429, 429]
    assert int(codes[3].headers["Retry-After"]) >= 1
    assert "rate limit" in codes[3].json()["detail"]
