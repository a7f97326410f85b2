"""The authorisation matrix of agents, packages and prices (specs/business.md §7.2 G1 rows,
G1-14, X-03): every endpoint × every role — platform staff, an agent's admin and viewer, the
admin of a sibling branch, an end user, an enterprise admin and no token. Another branch is not
found (404), a role without the right is refused (403)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from api.routers import agents, packages, prices
from core.settings import Settings
from tests.support.api import setup_tenant
from tests.support.pricing import agent, market, ok, package, set_price

pytestmark = [pytest.mark.integration, pytest.mark.req("X-01", "X-03", "G1-14")]
ROLES = ("admin", "operator", "ops", "finance", "a_admin", "a_viewer", "b_admin", "end_user",
         "ent_admin", "none")
PLATFORM_ONLY = (201, 201, 403, 403, 403, 403, 403, 403, 403, 401)
READ_ALL = (200, 200, 200, 200, 200, 200, 200, 200, 403, 401)
IN_A = (200, 200, 200, 200, 200, 200, 404, 403, 403, 401)  # an agent of A's branch

# (method, path, body, expected per role). "{role}" in a body makes it unique per role;
# "{A_COST}" etc. are price ids of the world.
MATRIX: list[tuple[str, str, dict[str, Any] | None, tuple[int, ...]]] = [
    ("GET", "/v1/agents", None, (200, 200, 200, 200, 200, 200, 200, 403, 403, 401)),
    ("GET", "/v1/agents/A", None, IN_A),
    ("GET", "/v1/agents/A1", None, IN_A),
    ("POST", "/v1/agents", {"agent_id": "top-{role}", "name": "T"}, PLATFORM_ONLY),
    ("POST", "/v1/agents", {"agent_id": "down-{role}", "name": "D", "parent_id": "A"},
     (201, 201, 403, 403, 201, 403, 404, 403, 403, 401)),
    ("POST", "/v1/agents", {"agent_id": "deep-{role}", "name": "D", "parent_id": "A1"},
     (201, 201, 403, 403, 403, 403, 404, 403, 403, 401)),
    ("POST", "/v1/agents/A1/move", {"parent_id": "A"},
     (200, 200, 403, 403, 403, 403, 404, 403, 403, 401)),
    ("POST", "/v1/agents/A1/enable", None, (200, 200, 403, 403, 200, 403, 404, 403, 403, 401)),
    ("POST", "/v1/agents/A/enable", None, (200, 200, 403, 403, 403, 403, 404, 403, 403, 401)),
    ("GET", "/v1/agents/A/notifications", None, IN_A),
    ("GET", "/v1/agents/A1/notifications", None,
     (200, 200, 200, 200, 403, 403, 404, 403, 403, 401)),
    ("POST", "/v1/packages", {"package_id": "p-{role}", "name": "P",
                              "business_line": "traffic_card", "purchase_price_fen": 100},
     PLATFORM_ONLY),
    ("PATCH", "/v1/packages/p50", {"name": "Fifty"},
     (200, 200, 403, 403, 403, 403, 403, 403, 403, 401)),
    ("GET", "/v1/packages", None, READ_ALL),
    ("GET", "/v1/packages/p50", None, READ_ALL),
    ("GET", "/v1/packages/p50/price-chain?agent_id=A1", None,
     (200, 200, 200, 200, 403, 403, 403, 403, 403, 401)),
    ("GET", "/v1/packages/p50/offer", None, (403, 403, 403, 403, 200, 200, 200, 200, 403, 401)),
    ("POST", "/v1/prices", {"kind": "cost", "package_id": "p50", "agent_id": "A",
                            "amount_fen": 6000},
     (201, 201, 403, 403, 403, 403, 404, 403, 403, 401)),
    ("POST", "/v1/prices", {"kind": "cost", "package_id": "p50", "agent_id": "A1",
                            "amount_fen": 8000},
     (403, 403, 403, 403, 201, 403, 404, 403, 403, 401)),
    ("POST", "/v1/prices", {"kind": "retail", "package_id": "p50", "agent_id": "A",
                            "amount_fen": 11000},
     (403, 403, 403, 403, 201, 403, 404, 403, 403, 401)),
    ("POST", "/v1/prices", {"kind": "retail", "package_id": "p50", "agent_id": "A1",
                            "amount_fen": 10000},
     (403, 403, 403, 403, 403, 403, 404, 403, 403, 401)),
    ("GET", "/v1/prices", None, READ_ALL),
    ("GET", "/v1/prices/{A_COST}", None, (200, 200, 200, 200, 200, 200, 404, 404, 403, 401)),
    ("GET", "/v1/prices/{A1_RETAIL}", None, (200, 200, 200, 200, 404, 404, 404, 200, 403, 401)),
    ("GET", "/v1/prices/{B_COST}", None, (200, 200, 200, 200, 404, 404, 200, 404, 403, 401)),
    ("DELETE", "/v1/prices/{A_SPARE}", None, (200, 200, 403, 403, 200, 403, 404, 404, 403, 401)),
    ("DELETE", "/v1/prices/{A1_SPARE}", None,
     (200, 200, 403, 403, 200, 403, 404, 404, 403, 401)),
    ("POST", "/v1/users", {"login": "u-{role}", "role": "agent_viewer", "agent_id": "A1"},
     (201, 201, 403, 403, 201, 403, 404, 403, 403, 401)),
    ("POST", "/v1/agents/A/promotion-links", {"package_id": "n39"},
     (201, 201, 403, 403, 201, 403, 404, 403, 403, 401)),
    ("GET", "/v1/agents/A1/promotion-links", None, IN_A),
    # The core's objects: platform staff read them, only the core's roles change them, an
    # agent's people and end users do not see an enterprise at all.
    ("GET", "/v1/enterprises/acme/alerts", None,
     (200, 200, 200, 200, 404, 404, 404, 404, 200, 401)),
    ("POST", "/v1/pools", {"pool_id": "pool-{role}", "enterprise_id": "acme", "limit_bytes": 1},
     (201, 403, 403, 403, 404, 403, 404, 404, 201, 401)),
    ("POST", "/v1/agents/A1/disable", None, (200, 200, 403, 403, 200, 403, 404, 403, 403, 401)),
]


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[tuple[dict[str, httpx.AsyncClient],
                                                           dict[str, int]]]:
    async with market(settings) as made:
        admin = made.admin
        for agent_id, parent in (("A", None), ("B", None), ("A1", "A")):
            await agent(admin, agent_id, parent)
        await package(admin, "p50")
        await package(admin, "p60", purchase=6000)
        await ok(admin.post("/v1/packages", json={
            "package_id": "n39", "name": "N", "business_line": "number_card",
            "factory_price_fen": 3900}), 201)
        people = {"admin": admin, "none": made.client()}
        for role, name, of in (("platform_operator", "operator", None),
                               ("platform_finance", "finance", None),
                               ("agent_admin", "a_admin", "A"), ("agent_viewer", "a_viewer", "A"),
                               ("agent_admin", "b_admin", "B"), ("end_user", "end_user", "A1")):
            people[name] = await made.person(name, role, agent=of)
        key = await ok(admin.post("/v1/api-keys", json={"role": "platform_ops"}), 201)
        people["ops"] = made.client({"Authorization": f"Bearer {key['key']}"})
        people["ent_admin"] = made.client(await setup_tenant(admin))
        ids = {"A_COST": (await set_price(admin, "cost", "p50", "A", 6000))["price"],
               "B_COST": (await set_price(admin, "cost", "p50", "B", 7000))["price"]}
        for package_id in ("p50", "p60"):
            await set_price(admin, "cost", package_id, "A", 6500)
            await set_price(people["a_admin"], "cost", package_id, "A1", 8000)
        await set_price(people["a_admin"], "retail", "p50", "A", 11000)
        await set_price(people["b_admin"], "retail", "p50", "B", 9000)
        a1_admin = await made.person("a1.admin", "agent_admin", agent="A1")
        ids["A1_RETAIL"] = (await set_price(a1_admin, "retail", "p50", "A1", 10000))["price"]
        ids["A_SPARE"] = (await set_price(people["a_admin"], "retail", "p60", "A", 7000))["price"]
        listed = await ok(admin.get("/v1/prices", params={"package_id": "p60", "agent_id": "A1"}))
        ids["A1_SPARE"] = listed[0]
        yield people, {name: price["price_id"] for name, price in ids.items()}
        for client in (people["none"], people["ops"], people["ent_admin"]):
            await client.aclose()


def test_every_pricing_route_has_a_place_in_the_matrix() -> None:
    """Routes of agents, packages and prices; the core's rows are extra."""
    routes = {(method, route.path) for module in (agents, packages, prices)
              for route in module.router.routes if isinstance(route, APIRoute)
              for method in route.methods or set()}
    covered = {(method, template(path)) for method, path, _, _ in MATRIX
               if path.startswith(("/v1/agents", "/v1/packages", "/v1/prices"))}
    assert len(routes) >= 14 and routes <= covered, routes - covered


def template(path: str) -> str:
    """The route a concrete path of the matrix belongs to."""
    parts = path.split("?")[0].split("/")
    names = {2: None, 3: {"agents": "{agent_id}", "packages": "{package_id}",
                          "prices": "{price_id}"}[parts[2]] if len(parts) > 3 else None}
    return "/".join(names.get(i) or part for i, part in enumerate(parts))


async def test_pricing_authorisation_matrix(
        world: tuple[dict[str, httpx.AsyncClient], dict[str, int]]) -> None:
    """Every row in order, on one world (rows are written so that repeating an allowed change
    is harmless); every mismatch is reported at once."""
    people, ids = world
    wrong = {}
    for method, path, body, codes in MATRIX:
        got = []
        for role in ROLES:
            sent = None if body is None else {
                k: v.replace("{role}", role.replace("_", "-")) if isinstance(v, str) else v
                for k, v in body.items()}
            answer = await people[role].request(method, path.format(**ids), json=sent)
            got.append(answer.status_code)
            if answer.status_code >= 400:
                assert answer.json()["detail"], (role, answer.text)  # every refusal says why
        if tuple(got) != codes:
            wrong[f"{method} {path} {body}"] = dict(zip(ROLES, got, strict=True))
    assert wrong == {}
