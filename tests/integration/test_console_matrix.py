"""The console's authorisation matrix: every page of every console router, for every role,
on the viewer's own tenant and on another — and every change, forged by each role that may not
make it. A page added without a place in this matrix fails the first test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.app import create_app
from api.console.pages import ROUTERS
from core.settings import Settings
from tests.support.api import ADMIN
from tests.support.people import person

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
OWN, OTHER = "89860000000000001111", "89860000000000002222"
World = tuple[dict[str, "Person"], tuple[str, str]]  # people by role, an API key id per tenant
ROLES = ("admin", "ops", "ent_admin", "viewer", "anonymous")
# What each path parameter stands for on the viewer's own tenant and on the other one.
OBJECTS = {"enterprise_id": ("acme", "rival"), "pool_id": ("acme-pool", "rival-pool"),
           "iccid": (OWN, OTHER), "key_id": ("KEY", "KEY"), "operator": ("ctcc", "ctcc"),
           # the money pages' objects (platform only: every side is the platform's)
           "order_id": ("NO-ORDER", "NO-ORDER"), "package_id": ("p1", "p1"),
           "agent_id": ("a1", "a1")}
FORMATS = ("csv", "xlsx")  # `{fmt}` of an export: both are checked
SESSION_PATHS = {"/console", "/console/login", "/console/logout", "/console/password",
                 "/console/lang/{lang}"}
SIGN_IN = 303  # no session: to the login form
# Expected answers per role (admin, ops, ent_admin, viewer, anonymous).
READ_OWN = (200, 200, 200, 200, SIGN_IN)
READ_OTHER = (200, 200, 404, 404, SIGN_IN)
READ_OPS = (200, 200, 404, 404, SIGN_IN)
# Viewers may not read the enterprise's API keys (as GET /v1/enterprises/{id}/api-keys); their
# keys page says so instead of listing them.
EXCEPTIONS = {"/console/e/acme/keys.csv": (200, 200, 200, 403, SIGN_IN),
              "/console/e/acme/keys.xlsx": (200, 200, 200, 403, SIGN_IN),
              # no such order: not found for the platform too
              "/console/ops/money/orders/NO-ORDER": (404, 404, 404, 404, SIGN_IN)}
# A change with an empty form: the guard answers before the form is read (422 = allowed).
CHANGE_OWN = (422, 403, 422, 403, SIGN_IN)
CHANGE_OTHER = (422, 403, 404, 404, SIGN_IN)
CHANGE_OPS = (422, 403, 404, 404, SIGN_IN)


@dataclass
class Person:
    client: httpx.AsyncClient
    csrf: str


def console_routes() -> list[tuple[str, str]]:
    """(method, path) of every console page but signing in and out."""
    return sorted((method, route.path) for router in ROUTERS for route in router.routes
                  if isinstance(route, APIRoute) and route.path not in SESSION_PATHS
                  for method in (route.methods or set()) - {"HEAD"})


def fill(path: str, side: int, key_id: tuple[str, str]) -> list[str]:
    """The path for the own (0) or the other (1) tenant, once per export format."""
    return [_fill(path.replace("{fmt}", fmt), side, key_id)
            for fmt in (FORMATS if "{fmt}" in path else ("",))]


def _fill(path: str, side: int, key_id: tuple[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in OBJECTS, f"{path}: add {name!r} to OBJECTS and to the matrix"
        found = OBJECTS[name][side]
        return key_id[side] if found == "KEY" else found
    return re.sub(r"\{(\w+)\}", value, path)


async def _world(app: FastAPI, client: httpx.AsyncClient) -> World:
    for ent, iccid in (("acme", OWN), ("rival", OTHER)):
        for path, body in (("/v1/enterprises", {"enterprise_id": ent, "name": ent}),
                           ("/v1/pools", {"pool_id": f"{ent}-pool", "enterprise_id": ent,
                                          "limit_bytes": 1000}),
                           ("/v1/cards", {"iccid": iccid, "enterprise_id": ent,
                                          "operator": "onelink", "pool_id": f"{ent}-pool"})):
            made = await client.post(path, json=body, headers=ADMIN)
            assert made.status_code == 201, made.text
    keys = [await client.post(f"/v1/enterprises/{ent}/api-keys",
                              json={"role": "enterprise_viewer"}, headers=ADMIN)
            for ent in ("acme", "rival")]
    people: dict[str, Person] = {}
    for role, login, tenant in (("admin", "root.admin", None), ("platform_ops", "ops.li", None),
                                ("enterprise_admin", "ent.admin", "acme"),
                                ("enterprise_viewer", "ent.viewer", "acme")):
        own = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
        csrf = (await person(own, login, role, tenant))["X-CSRF-Token"]
        people[{"admin": "admin", "platform_ops": "ops", "enterprise_admin": "ent_admin",
                "enterprise_viewer": "viewer"}[role]] = Person(own, csrf)
    people["anonymous"] = Person(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api"), "")
    return people, (keys[0].json()["key_id"], keys[1].json()["key_id"])


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://api") as client:
            people, key_id = await _world(app, client)
            yield people, key_id
            for each in people.values():
                await each.client.aclose()


def test_every_console_page_has_a_place_in_the_matrix() -> None:
    routes = console_routes()
    assert len(routes) > 20
    for method, path in routes:
        assert method in ("GET", "POST"), (method, path)
        assert path.startswith(("/console/e/{enterprise_id}", "/console/ops/")), path
        fill(path, 0, ("k", "k"))


async def _answers(people: dict[str, Person], method: str, path: str, *, csrf: bool = True
                   ) -> tuple[int, ...]:
    got = []
    for role in ROLES:
        who = people[role]
        headers = {"X-CSRF-Token": who.csrf} if csrf and who.csrf else {}
        answer = await who.client.request(method, path, headers=headers, data={})
        got.append(answer.status_code)
        if role == "anonymous":
            assert answer.headers["location"].startswith("/console/login"), path
    return tuple(got)


async def test_who_sees_which_page(world: World) -> None:
    people, key_id = world
    wrong = {}
    for method, path in console_routes():
        if method != "GET":
            continue
        cases = ([(url, READ_OPS) for url in fill(path, 0, key_id)]
                 if path.startswith("/console/ops/") else
                 [(url, READ_OWN) for url in fill(path, 0, key_id)]
                 + [(url, READ_OTHER) for url in fill(path, 1, key_id)])
        for url, expected in cases:
            expected = EXCEPTIONS.get(url, expected)
            got = await _answers(people, "GET", url)
            if got != expected:
                wrong[url] = dict(zip(ROLES, got, strict=True))
    assert wrong == {}


async def test_who_may_change_what(world: World) -> None:
    people, key_id = world
    wrong = {}
    for method, path in console_routes():
        if method != "POST":
            continue
        cases = ([(url, CHANGE_OPS) for url in fill(path, 0, key_id)]
                 if path.startswith("/console/ops/") else
                 [(url, CHANGE_OWN) for url in fill(path, 0, key_id)]
                 + [(url, CHANGE_OTHER) for url in fill(path, 1, key_id)])
        for url, expected in cases:
            got = await _answers(people, "POST", url)
            if got != expected and not _allowed_changed(got, expected):
                wrong[url] = dict(zip(ROLES, got, strict=True))
    assert wrong == {}


def _allowed_changed(got: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """A change that needs no form fields (stop, replay all…) may succeed (200/303) where an
    empty form is refused (422): only the allowed roles."""
    return all(g == e or (e == 422 and g in (200, 303)) for g, e in zip(got, expected,
                                                                        strict=True))


async def test_a_change_without_the_csrf_token_is_refused_for_everyone(
        world: World) -> None:
    people, key_id = world
    for method, path in console_routes():
        if method == "POST":
            for url in fill(path, 0, key_id):
                got = await _answers(people, "POST", url, csrf=False)
                assert got == (403, 403, 403, 403, SIGN_IN), (url, got)


async def test_an_object_under_the_wrong_enterprise_is_not_found_even_for_the_admin(
        world: World) -> None:
    people, _ = world
    for url in ("/console/e/acme/pools/rival-pool", f"/console/e/acme/cards/{OTHER}"):
        answer = await people["admin"].client.get(url)
        assert answer.status_code == 404, url
