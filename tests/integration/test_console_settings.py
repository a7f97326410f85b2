"""The console's enterprise settings over HTTP: alerts and the webhook, API keys and users —
seen by the tenant's people and the platform, changed only by the enterprise's administrator
and the platform administrator, never across tenants, never without the CSRF token; a key or
password made here is shown once and works against the API."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from core.settings import Settings
from tests.support.api import ADMIN, setup_tenant
from tests.support.console import post_form, shown_once, signed_in
from tests.support.people import NEW_PASSWORD, log_in

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
PAGES = ("alerts", "keys", "users")


async def test_the_tenants_people_and_the_platform_see_the_pages_other_tenants_do_not(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    await setup_tenant(client, "rival")
    for login, role, tenant in (("viewer", "enterprise_viewer", "acme"),
                                ("boss", "enterprise_admin", "acme"),
                                ("ops", "platform_ops", None), ("root", "admin", None)):
        await signed_in(client, login, role, tenant)
        for page in PAGES:
            seen = await client.get(f"/console/e/acme/{page}")
            assert seen.status_code == 200, (login, page, seen.text[:500])
            buttons = "Make a key" in seen.text or "Add the user" in seen.text or \
                "Save the URL" in seen.text
            assert buttons == (role in ("enterprise_admin", "admin")), (login, page)
        if tenant is not None:
            for page in PAGES:
                assert (await client.get(f"/console/e/rival/{page}")).status_code == 404
    await signed_in(client, "viewer2", "enterprise_viewer")
    keys = await client.get("/console/e/acme/keys")
    assert "Your role may not see the keys" in keys.text and "<table" not in keys.text


async def test_read_only_roles_and_forged_requests_change_nothing(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    await setup_tenant(client, "rival")
    for login, role, tenant in (("viewer", "enterprise_viewer", "acme"),
                                ("ops", "platform_ops", None)):
        csrf = await signed_in(client, login, role, tenant)
        for path, fields in (("/console/e/acme/keys", {"role": "enterprise_admin"}),
                             ("/console/e/acme/users",
                              {"login": "x.y", "role": "enterprise_admin"}),
                             ("/console/e/acme/alerts/webhook",
                              {"webhook_url": "https://example.com/h"}),
                             ("/console/e/acme/alerts/webhook/secret", {})):
            refused = await post_form(client, path, csrf, **fields)
            assert refused.status_code == 403, (login, path, refused.text[:300])
    csrf = await signed_in(client, "boss", "enterprise_admin")
    forged = await client.post("/console/e/acme/keys", data={"role": "enterprise_admin"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    wrong = await post_form(client, "/console/e/acme/keys", "not-the-token",
                            role="enterprise_admin")
    assert wrong.status_code == 403
    other = await post_form(client, "/console/e/rival/keys", csrf, role="enterprise_admin")
    assert other.status_code == 404
    listed = await client.get("/v1/enterprises/acme/api-keys", headers=ADMIN)
    assert len(listed.json()) == 1, "only the key setup_tenant made"


async def test_a_key_made_in_the_console_is_shown_once_and_works_until_revoked(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    rival = await setup_tenant(client, "rival")
    [rival_key] = (await client.get("/v1/enterprises/rival/api-keys", headers=ADMIN)).json()
    csrf = await signed_in(client, "boss", "enterprise_admin")
    across = await client.post(f"/console/e/acme/keys/{rival_key['key_id']}/revoke",
                               headers={"X-CSRF-Token": csrf})
    assert across.status_code == 404
    assert (await client.get("/v1/enterprises/rival/alerts", headers=rival)).status_code == 200
    bad = await post_form(client, "/console/e/acme/keys", csrf, role="admin")
    assert bad.status_code == 422 and "role" in bad.text
    made = await post_form(client, "/console/e/acme/keys", csrf, role="enterprise_viewer")
    assert made.status_code == 201
    key = shown_once(made)
    key_id = key.split("_")[1]
    bearer = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/enterprises/acme/alerts", headers=bearer)).status_code == 200
    listed = await client.get("/console/e/acme/keys")
    assert key_id in listed.text and key not in listed.text, "the key is shown only once"
    revoked = await client.post(f"/console/e/acme/keys/{key_id}/revoke",
                                headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert revoked.status_code == 200 and "revoked" in revoked.text
    refused = await client.get("/v1/enterprises/acme/alerts", headers=bearer)
    assert refused.status_code == 401
    exported = await client.get("/console/e/acme/keys.csv")
    assert exported.status_code == 200 and key_id in exported.text and key not in exported.text


async def test_a_user_made_in_the_console_logs_in_with_the_one_time_password(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    csrf = await signed_in(client, "boss", "enterprise_admin")
    bad = await post_form(client, "/console/e/acme/users", csrf, login="no spaces",
                          role="enterprise_viewer")
    assert bad.status_code == 422 and "login" in bad.text
    platform = await post_form(client, "/console/e/acme/users", csrf, login="sneaky",
                               role="admin")
    assert platform.status_code == 422 and "belongs to the platform" in platform.text
    made = await post_form(client, "/console/e/acme/users", csrf, login="wang.fang",
                           role="enterprise_viewer")
    assert made.status_code == 201
    password = shown_once(made)
    again = await post_form(client, "/console/e/acme/users", csrf, login="wang.fang",
                            role="enterprise_viewer")
    assert again.status_code == 409 and "taken" in again.text
    listed = await client.get("/console/e/acme/users")
    assert "wang.fang" in listed.text and password not in listed.text
    await log_in(client, "wang.fang", password)
    me = (await client.get("/v1/session")).json()
    assert (me["login"], me["role"], me["enterprise_id"]) == (
        "wang.fang", "enterprise_viewer", "acme")
    client.cookies.clear()
    assert (await client.post("/v1/session", json={"login": "wang.fang",
                                                   "password": NEW_PASSWORD})).status_code == 200


async def test_the_webhook_url_is_checked_and_its_secret_shown_once(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    csrf = await signed_in(client, "boss", "enterprise_admin")
    bad = await post_form(client, "/console/e/acme/alerts/webhook", csrf,
                          webhook_url="ftp://example.com/x")
    assert bad.status_code == 422 and "not accepted" in bad.text
    saved = await post_form(client, "/console/e/acme/alerts/webhook", csrf,
                            webhook_url="https://hooks.example.com/cardpulse")
    assert saved.status_code == 200 and "hooks.example.com/cardpulse" in saved.text
    assert 'data-testid="webhook-signed"><span class="badge warn">not set' in saved.text
    rotated = await client.post("/console/e/acme/alerts/webhook/secret",
                                headers={"X-CSRF-Token": csrf})
    secret = shown_once(rotated)
    assert len(secret) >= 16
    page = await client.get("/console/e/acme/alerts")
    assert secret not in page.text and '<span class="badge ok">set' in page.text
    cleared = await post_form(client, "/console/e/acme/alerts/webhook", csrf, webhook_url="")
    assert cleared.status_code == 200 and "No webhook is sent any more" in cleared.text


async def test_alerts_are_listed_in_the_tenants_zone_and_exported(
        client: httpx.AsyncClient, settings: Settings) -> None:
    await setup_tenant(client)
    await signed_in(client, "viewer", "enterprise_viewer")
    assert "No alerts yet." in (await client.get("/console/e/acme/alerts")).text
    async with await psycopg.AsyncConnection.connect(settings.require_database()) as conn:
        await conn.execute(
            "INSERT INTO alerts (enterprise_id, kind, subject, cycle, percent, used_bytes,"
            " limit_bytes, created_at, webhook_state) VALUES ('acme', 'pool', 'acme-pool',"
            " '2026-11-01', 80, 858993459, 1073741824, '2026-11-20T16:30:00Z', 'failed')")
    page = await client.get("/console/e/acme/alerts")
    assert "acme-pool" in page.text and "2026-11-21 00:30:00" in page.text  # Shanghai
    assert "819.20 MB" in page.text and "1.00 GB" in page.text
    csv = await client.get("/console/e/acme/alerts.csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("When,Kind,Subject")
    assert lines[1] == ("2026-11-21T00:30:00+08:00,pool,acme-pool,2026-11,80,858993459,"
                        "1073741824,failed")
    exported = await client.get("/console/e/acme/alerts.xlsx")
    assert exported.status_code == 200 and exported.content.startswith(b"PK")
