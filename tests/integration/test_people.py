"""People who log in: users with one-time passwords, session cookies with CSRF tokens, the same
authorisation as API keys, lock-out after repeated failures, and `cardpulse users create`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest

from core.clock import now
from core.settings import Settings
from tests.support.api import ADMIN, setup_tenant
from tests.support.dates import store_clock
from tests.support.people import NEW_PASSWORD, log_in, make_user

pytestmark = [pytest.mark.integration, pytest.mark.req("PEOPLE")]


async def test_a_one_time_password_must_be_changed_and_the_cookie_is_safe(
        client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    password = await make_user(client, "li.wei", "enterprise_admin")
    answer = await client.post("/v1/session", json={"login": "li.wei", "password": password})
    assert answer.status_code == 200 and answer.json()["must_change_password"] is True
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    csrf = {"X-CSRF-Token": answer.json()["csrf_token"]}
    blocked = await client.get("/v1/enterprises/acme/alerts")
    assert blocked.status_code == 403 and "one-time password" in blocked.text
    weak = await client.put("/v1/session/password", headers=csrf, json={
        "current_password": password, "new_password": "123456789012"})
    assert weak.status_code == 422 and "only digits" in weak.text
    forged = await client.put("/v1/session/password", json={
        "current_password": password, "new_password": NEW_PASSWORD})
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.text
    changed = await client.put("/v1/session/password", headers=csrf, json={
        "current_password": password, "new_password": NEW_PASSWORD})
    assert changed.status_code == 204
    assert (await client.get("/v1/enterprises/acme/alerts")).status_code == 200
    me = (await client.get("/v1/session")).json()
    assert (me["login"], me["role"], me["must_change_password"]) == (
        "li.wei", "enterprise_admin", False)
    client.cookies.clear()
    old = await client.post("/v1/session", json={"login": "li.wei", "password": password})
    assert old.status_code == 401


async def test_people_are_authorised_exactly_like_keys(client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    other = await setup_tenant(client, "globex")
    card = await client.post("/v1/cards", headers=other, json={
        "iccid": "89860077000000000001", "enterprise_id": "globex", "operator": "jasper"})
    assert card.status_code == 201
    admin_password = await make_user(client, "boss", "enterprise_admin")
    csrf = await log_in(client, "boss", admin_password)
    made = await client.post("/v1/users", headers=csrf, json={
        "login": "viewer1", "role": "enterprise_viewer", "enterprise_id": "acme"})
    assert made.status_code == 201, made.text
    foreign = await client.post("/v1/users", headers=csrf, json={
        "login": "spy", "role": "enterprise_admin", "enterprise_id": "globex"})
    assert foreign.status_code == 404, "another tenant does not exist for it"
    platform = await client.post("/v1/users", headers=csrf, json={
        "login": "root2", "role": "admin"})
    assert platform.status_code == 403
    pool = await client.post("/v1/pools", headers=csrf, json={
        "pool_id": "p1", "enterprise_id": "acme", "limit_bytes": 1000})
    assert pool.status_code == 201, "an enterprise admin changes its own tenant"
    listed = (await client.get("/v1/users")).json()
    assert [u["login"] for u in listed] == ["boss", "viewer1"]

    viewer = await log_in(client, "viewer1", made.json()["one_time_password"])
    assert (await client.get("/v1/pools/p1")).status_code == 200
    refused = await client.patch("/v1/pools/p1", headers=viewer, json={"limit_bytes": 5})
    assert refused.status_code == 403, "a viewer may not change anything"
    hidden = await client.get("/v1/cards/89860077000000000001")
    assert hidden.status_code == 404, "another tenant's card is not found"
    assert (await client.get("/v1/users", params={"enterprise_id": "globex"})).status_code == 404


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    csrf = await log_in(client, "ops1", await make_user(client, "ops1", "platform_ops", None))
    assert (await client.get("/v1/enterprises/acme/alerts")).status_code == 200
    assert (await client.delete("/v1/session")).status_code == 403, "a change needs the token"
    assert (await client.delete("/v1/session", headers=csrf)).status_code == 204
    assert (await client.get("/v1/session")).status_code == 401
    assert (await client.get("/v1/enterprises/acme/alerts")).status_code == 401


async def test_repeated_failures_lock_the_login_for_a_while(
        client: httpx.AsyncClient, settings: Settings) -> None:
    await setup_tenant(client)
    password = await make_user(client, "target", "enterprise_viewer")
    unknown = await client.post("/v1/session", json={"login": "nobody", "password": "x" * 12})
    assert (unknown.status_code, unknown.json()["detail"]) == (401, "wrong login or password")
    answers = [await client.post("/v1/session", json={"login": "target", "password": "nope"})
               for _ in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 423]
    assert int(answers[-1].headers["Retry-After"]) > 800
    right = await client.post("/v1/session", json={"login": "target", "password": password})
    assert right.status_code == 423, "locked: even the right password waits"
    await store_clock(settings.require_database(), now() + timedelta(minutes=16))
    again = await client.post("/v1/session", json={"login": "target", "password": password})
    assert again.status_code == 200, again.text


async def test_only_the_right_roles_create_users(client: httpx.AsyncClient) -> None:
    tenant = await setup_tenant(client)
    bad = await client.post("/v1/users", headers=ADMIN, json={
        "login": "xx1", "role": "enterprise_admin"})
    assert bad.status_code == 422 and "give its tenant" in bad.text
    bad = await client.post("/v1/users", headers=ADMIN, json={
        "login": "xx2", "role": "platform_ops", "enterprise_id": "acme"})
    assert bad.status_code == 422 and "give no tenant" in bad.text
    bad = await client.post("/v1/users", headers=ADMIN, json={
        "login": "no spaces", "role": "platform_ops"})
    assert bad.status_code == 422
    by_key = await client.post("/v1/users", headers=tenant, json={
        "login": "keyed", "role": "enterprise_viewer", "enterprise_id": "acme"})
    assert by_key.status_code == 201, "an enterprise admin key may create its tenant's users"
    twice = await client.post("/v1/users", headers=ADMIN, json={
        "login": "keyed", "role": "platform_ops"})
    assert twice.status_code == 409


def users_create(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`cardpulse users create ARGS` on the test's database."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")},
           "CARDPULSE_DATABASE_URL": settings.require_database()}
    return subprocess.run([sys.executable, "-m", "cardpulse.cli", "users", "create", *args],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_users_create_from_the_shell(settings: Settings) -> None:
    made = users_create(settings, "--login", "root1", "--role", "admin")
    assert made.returncode == 0, made.stdout + made.stderr
    password = made.stdout.strip().splitlines()[-1].split()[-1]
    assert len(password) == 16
    refused = users_create(settings, "--login", "v1", "--role", "enterprise_viewer")
    assert refused.returncode == 2 and "--tenant" in refused.stdout
    again = users_create(settings, "--login", "root1", "--role", "admin")
    assert again.returncode == 1 and "already exists" in again.stdout


async def test_a_user_made_in_the_shell_logs_in(client: httpx.AsyncClient,
                                                settings: Settings) -> None:
    made = users_create(settings, "--login", "root9", "--role", "admin")
    assert made.returncode == 0, made.stdout + made.stderr
    password = made.stdout.strip().splitlines()[-1].split()[-1]
    csrf = await log_in(client, "root9", password)
    created = await client.post("/v1/enterprises", headers=csrf,
                                json={"enterprise_id": "initech", "name": "Initech"})
    assert created.status_code == 201, created.text
