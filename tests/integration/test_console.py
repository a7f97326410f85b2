"""The console over HTTP: logging in with the form, the one-time password, pages rendered in
Chinese or English, the security headers, and errors as pages."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import setup_tenant
from tests.support.people import NEW_PASSWORD, make_user, person

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]


async def test_the_login_form_leads_through_the_one_time_password_to_the_overview(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    password = await make_user(client, "li.wei", "enterprise_admin")
    first = await client.get("/console/e/acme")
    assert first.status_code == 303 and first.headers["location"] == (
        "/console/login?next=/console/e/acme")
    form = await client.get("/console/login")
    assert form.status_code == 200 and "登录" in form.text
    wrong = await client.post("/console/login", data={"login": "li.wei", "password": "nope"})
    assert wrong.status_code == 401 and "登录名或密码错误" in wrong.text
    ok = await client.post("/console/login?next=/console/e/acme",
                           data={"login": "li.wei", "password": password})
    assert ok.status_code == 303 and ok.headers["location"] == "/console/password"
    blocked = await client.get("/console/e/acme")
    assert blocked.status_code == 303 and blocked.headers["location"] == "/console/password"
    page = await client.get("/console/password")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    changed = await client.post("/console/password", data={
        "csrf_token": csrf, "current_password": password, "new_password": NEW_PASSWORD,
        "repeat_password": NEW_PASSWORD})
    assert changed.status_code == 303, changed.text
    overview = await client.get("/console/e/acme")
    assert overview.status_code == 200 and "概览" in overview.text
    assert "default-src 'self'" in overview.headers["content-security-policy"]


async def test_pages_speak_english_when_chosen_and_errors_are_pages(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    await setup_tenant(client, "other")
    await person(client, "li.wei", "enterprise_admin")
    switched = await client.get("/console/lang/en?next=/console/e/acme")
    assert switched.status_code == 303 and switched.headers["location"] == "/console/e/acme"
    client.cookies.set("cardpulse_lang", "en")
    page = await client.get("/console/e/acme")
    assert page.status_code == 200 and "Overview" in page.text and 'lang="en"' in page.text
    other = await client.get("/console/e/other")
    assert other.status_code == 404 and "Not found" in other.text
    away = await client.get("/console/lang/en?next=https://evil.example/")
    assert away.headers["location"] == "/console"
