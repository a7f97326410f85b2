"""The console's platform pages over HTTP: enterprises, push secrets, dead letters, failed
operator commands and health — 404 for enterprise roles, read-only for platform operations,
changes by the platform administrator only; and the JSON endpoints for failed commands."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry, start_http_server

from api.app import create_app
from cardpulse.supervisor.children import free_port
from core.clock import now
from core.settings import Settings
from store import dead_letters
from streams.metrics import WorkerMetrics
from tests.support.api import ADMIN, setup_tenant, signed_body
from tests.support.console import post_form, shown_once, signed_in

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
OPS_PAGES = ("enterprises", "operators", "dead-letters", "failed-commands", "health")
CARD, LATE = "89860000000000001111", "89860000000000009999"


async def _key(client: httpx.AsyncClient, role: str) -> dict[str, str]:
    made = await client.post("/v1/api-keys", json={"role": role}, headers=ADMIN)
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['key']}"}


async def test_ops_pages_are_not_found_for_enterprise_roles_and_read_only_for_ops(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    await signed_in(client, "boss", "enterprise_admin")
    for page in OPS_PAGES:
        assert (await client.get(f"/console/ops/{page}")).status_code == 404, page
    csrf = await signed_in(client, "ops", "platform_ops", None)
    for page in OPS_PAGES:
        seen = await client.get(f"/console/ops/{page}")
        assert seen.status_code == 200, (page, seen.text[:500])
        assert "<button type=\"submit\">" not in seen.text and "hx-post" not in seen.text, page
    for path, fields in (("/console/ops/enterprises", {"enterprise_id": "x", "name": "X"}),
                         ("/console/ops/operators/onelink/secret", {}),
                         ("/console/ops/dead-letters/replay-all", {}),
                         ("/console/ops/failed-commands/rearm-all", {})):
        assert (await post_form(client, path, csrf, **fields)).status_code == 403, path
    await signed_in(client, "root", "admin", None)
    assert (await client.post("/console/ops/dead-letters/replay-all")).status_code == 403


async def test_the_administrator_adds_enterprises_in_a_valid_time_zone(
        client: httpx.AsyncClient) -> None:
    acme = await setup_tenant(client)
    await client.post("/v1/pools", headers=acme, json={"pool_id": "p1", "enterprise_id": "acme",
                                                       "limit_bytes": 1000})
    await client.post("/v1/cards", headers=acme, json={"iccid": CARD, "enterprise_id": "acme",
                                                       "operator": "onelink"})
    csrf = await signed_in(client, "root", "admin", None)
    bad = await post_form(client, "/console/ops/enterprises", csrf, enterprise_id="globex",
                          name="Globex", timezone="Mars/Olympus")
    assert bad.status_code == 422 and "unknown IANA time zone" in bad.text
    made = await post_form(client, "/console/ops/enterprises", csrf, enterprise_id="globex",
                           name="Globex 环球", timezone="Europe/Berlin")
    assert made.status_code == 201 and 'href="/console/e/globex"' in made.text
    taken = await post_form(client, "/console/ops/enterprises", csrf, enterprise_id="globex",
                            name="Again")
    assert taken.status_code == 409 and "taken" in taken.text
    overview = await client.get("/console/e/globex")
    assert overview.status_code == 200 and "Globex 环球" in overview.text
    listed = (await client.get("/console/ops/enterprises.csv")).content.decode("utf-8-sig")
    rows = {line.split(",")[0]: line.split(",") for line in listed.splitlines()[1:]}
    assert rows["acme"][3:5] == ["1", "1"] and rows["globex"][1:5] == [
        "Globex 环球", "Europe/Berlin", "0", "0"]


async def test_a_push_secret_rotated_in_the_console_signs_pushes_and_is_never_shown_again(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    csrf = await signed_in(client, "root", "admin", None)
    before = await client.get("/console/ops/operators")
    assert before.text.count("not set") == 3
    rotated = await client.post("/console/ops/operators/jasper/secret",
                                headers={"X-CSRF-Token": csrf})
    secret = shown_once(rotated)
    body: dict[str, list[object]] = {"records": []}
    raw, headers = signed_body(body, secret)
    assert (await client.post("/v1/upstream/jasper/usage", content=raw,
                              headers=headers)).status_code == 202
    raw, headers = signed_body(body, "not-the-secret-at-all")
    assert (await client.post("/v1/upstream/jasper/usage", content=raw,
                              headers=headers)).status_code == 401
    after = await client.get("/console/ops/operators")
    assert secret not in after.text and after.text.count("not set") == 2
    unknown = await client.post("/console/ops/operators/nokia/secret",
                                headers={"X-CSRF-Token": csrf})
    assert unknown.status_code == 404


async def _failed_card(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    """A card of acme whose stop failed for good; returns acme's admin key header."""
    acme = await setup_tenant(client)
    await client.post("/v1/cards", headers=acme, json={"iccid": CARD, "enterprise_id": "acme",
                                                       "operator": "ctcc"})
    async with await psycopg.AsyncConnection.connect(settings.require_database()) as conn:
        await conn.execute(
            "INSERT INTO card_control (iccid, target, state, attempts, last_outcome,"
            " last_error, last_command_at) VALUES (%s, 'stopped', 'failed', 8, 'error',"
            " 'operator answered 500', now())", (CARD,))
    return acme


async def _control_row(settings: Settings) -> tuple[str, int]:
    async with await psycopg.AsyncConnection.connect(settings.require_database()) as conn:
        row = await (await conn.execute("SELECT state, attempts FROM card_control"
                                        " WHERE iccid = %s", (CARD,))).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


async def test_rearming_in_the_console_makes_a_failed_command_pending_again(
        client: httpx.AsyncClient, settings: Settings) -> None:
    await _failed_card(client, settings)
    await signed_in(client, "ops", "platform_ops", None)
    shown = await client.get("/console/ops/failed-commands?operator=ctcc")
    assert CARD in shown.text and "operator answered 500" in shown.text
    assert CARD not in (await client.get("/console/ops/failed-commands?operator=jasper")).text
    assert 'name="iccids"' not in shown.text and "Re-arm all" not in shown.text
    exported = await client.get("/console/ops/failed-commands.csv")
    assert f"{CARD},acme,ctcc,stopped,8,error,operator answered 500," in exported.text
    csrf = await signed_in(client, "root", "admin", None)
    none = await post_form(client, "/console/ops/failed-commands/rearm", csrf)
    assert none.status_code == 422 and await _control_row(settings) == ("failed", 8)
    done = await post_form(client, "/console/ops/failed-commands/rearm", csrf, iccids=[CARD])
    assert done.status_code == 200 and "1 cards re-armed" in done.text
    assert await _control_row(settings) == ("pending", 0)
    assert "No failed commands." in done.text


async def test_failed_commands_over_json(client: httpx.AsyncClient, settings: Settings) -> None:
    tenant = await _failed_card(client, settings)
    ops = await _key(client, "platform_ops")
    listed = await client.get("/v1/controls/failed", headers=ops)
    assert listed.status_code == 200
    [row] = listed.json()
    assert (row["iccid"], row["enterprise_id"], row["operator"], row["target"],
            row["attempts"], row["last_error"]) == (CARD, "acme", "ctcc", "stopped", 8,
                                                    "operator answered 500")
    assert (await client.get("/v1/controls/failed?operator=jasper",
                             headers=ops)).json() == []
    body = {"iccids": [CARD]}
    assert (await client.post("/v1/controls/rearm", json=body, headers=ops)).status_code == 403
    assert (await client.get("/v1/controls/failed", headers=tenant)).status_code == 403
    assert (await client.post("/v1/controls/rearm", json=body,
                              headers=tenant)).status_code == 403
    assert (await client.post("/v1/controls/rearm", json={"iccids": ["nope"]},
                              headers=ADMIN)).status_code == 422
    done = await client.post("/v1/controls/rearm", json=body, headers=ADMIN)
    assert done.status_code == 200 and done.json() == {"rearmed": 1}
    assert await _control_row(settings) == ("pending", 0)
    again = await client.post("/v1/controls/rearm", json=body, headers=ADMIN)
    assert again.json() == {"rearmed": 0}, "a card not failed is left alone"
    paths = create_app(settings).openapi()["paths"]
    assert "403" in paths["/v1/controls/rearm"]["post"]["responses"]
    assert paths["/v1/controls/failed"]["get"]["description"]


async def test_dead_letters_are_filtered_exported_and_replayed_by_the_administrator(
        client: httpx.AsyncClient, settings: Settings) -> None:
    acme = await setup_tenant(client)
    end = now() - timedelta(hours=1)
    record = {"record_id": "late-1", "iccid": LATE, "bytes": 700,
              "start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat()}
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        await dead_letters.dead_letter(conn, "usage", "unknown_card", record,
                                       operator="onelink", iccid=LATE)
        await dead_letters.dead_letter(conn, "usage", "undecodable usage message",
                                       {"raw_base64": "AGdhcmJhZ2U="})
    csrf = await signed_in(client, "root", "admin", None)
    page = await client.get("/console/ops/dead-letters")
    assert "late-1" in page.text and "AGdhcmJhZ2U=" in page.text
    assert 'name="ids"' not in page.text, "nothing is replayable while the card is unknown"
    only = await client.get("/console/ops/dead-letters?reason=unknown_card")
    assert "late-1" in only.text and "AGdhcmJhZ2U=" not in only.text
    csv = await client.get("/console/ops/dead-letters.csv?reason=unknown_card")
    assert LATE in csv.text and "garbage" not in csv.text
    await client.post("/v1/cards", headers=acme, json={"iccid": LATE, "enterprise_id": "acme",
                                                       "operator": "onelink"})
    page = await client.get("/console/ops/dead-letters")
    letter = re.search(r'name="ids" value="(\d+)"', page.text)
    assert letter is not None
    done = await post_form(client, "/console/ops/dead-letters/replay", csrf,
                           ids=[letter.group(1)])
    assert done.status_code == 200 and "1 dead letters replayed" in done.text
    assert "replayed" in done.text
    listed = (await client.get("/v1/dead-letters?replayed=true", headers=ADMIN)).json()
    replayed = {d["reason"]: d["replayed_at"] for d in listed}
    assert replayed["unknown_card"] is not None and replayed["undecodable usage message"] is None
    nothing = await client.post("/console/ops/dead-letters/replay-all",
                                headers={"X-CSRF-Token": csrf})
    assert "0 dead letters replayed" in nothing.text


@pytest.fixture
async def watched(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, WorkerMetrics]]:
    """The API with a worker's metrics served on a known port, the reconciler's port known
    but silent, and a Grafana configured."""
    registry = CollectorRegistry()
    worker = WorkerMetrics.create(registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    app = create_app(settings.model_copy(update={
        "worker_metrics_ports": str(port), "controls_metrics_port": free_port(),
        "grafana_url": "http://grafana.example:3000/"}))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                yield client, worker
    finally:
        server.shutdown()
        thread.join(5)


async def test_health_reads_every_process_it_can_and_says_which_it_cannot(
        watched: tuple[httpx.AsyncClient, WorkerMetrics]) -> None:
    client, worker = watched
    worker.consumer_lag.labels("cardpulse-usage").set(4321)
    for seconds in (0.02, 0.02, 0.02, 4.0):
        worker.decision_seconds.observe(seconds)
    await signed_in(client, "ops", "platform_ops", None)
    page = await client.get("/console/ops/health")
    assert page.status_code == 200
    assert "the platform takes traffic" in page.text
    worker_part = page.text.split('data-process="worker"')[1].split("</article>")[0]
    assert "4,321" in worker_part and "badge ok" in worker_part
    controls_part = page.text.split('data-process="controls"')[1].split("</article>")[0]
    assert "unavailable" in controls_part and "ConnectError" in controls_part
    api_part = page.text.split('data-process="api"')[1].split("</article>")[0]
    assert "Requests per second" in api_part
    assert 'href="http://grafana.example:3000/d/cardpulse-ops"' in page.text


async def test_health_without_known_ports_or_grafana_says_so(client: httpx.AsyncClient) -> None:
    await signed_in(client, "root", "admin", None)
    page = await client.get("/console/ops/health")
    assert page.status_code == 200
    assert page.text.count("its metrics port is not known to the API") == 2
    assert "No Grafana is configured" in page.text
