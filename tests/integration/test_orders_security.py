"""Who may do what with orders, wallets and withdrawals (§7.2 G2 rows): every new route ×
the platform's staff, an agent's admin and viewer, another branch's admin, end users, an
enterprise's admin and no token. Another tenant's object is 404, a missing right 403."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from api.routers import orders, refund_requests, wallets, withdrawals
from core.settings import Settings
from tests.support.api import setup_tenant
from tests.support.orders import CARD, CARD_2, Shop, recharge, shop, spec_world
from tests.support.pricing import ok

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        enterprise = await setup_tenant(made.market.admin, "acme")
        await setup_tenant(made.market.admin, "other")
        made.market.people["acme"] = made.market.client(enterprise)
        made.market.people["nobody"] = made.market.client()
        made.market.people["admin"] = made.market.admin
        for iccid in (CARD, CARD_2):
            await ok(made.market.admin.post("/v1/cards", json={
                "iccid": iccid, "operator": "onelink",
                "enterprise_id": "acme" if iccid == CARD else "other"}), 201)
        yield made


ROLES = ("admin", "operator", "finance", "a.admin", "a.viewer", "b.admin", "buyer",
         "buyer1", "acme", "nobody")


async def statuses(world: Shop, call: Any) -> dict[str, int]:
    found = {}
    for name in ROLES:
        answer: httpx.Response = await call(world.who(name))
        found[name] = answer.status_code
    return found


@pytest.mark.req("X-G2", "G2-02", "G2-03")
async def test_who_orders_packages(world: Shop) -> None:
    def online(client: httpx.AsyncClient) -> Any:
        return client.post("/v1/orders", json={"package_id": "p90", "iccid": CARD,
                                               "method": "online", "agent_id": "A"})

    def flow2(client: httpx.AsyncClient) -> Any:
        return client.post("/v1/orders", json={"package_id": "p90", "iccid": CARD,
                                               "method": "agent_wallet"})

    assert await statuses(world, online) == {
        "admin": 403, "operator": 403, "finance": 403, "a.admin": 201, "a.viewer": 403,
        "b.admin": 403, "buyer": 201, "buyer1": 403, "acme": 201, "nobody": 401}
    assert await statuses(world, flow2) == {
        "admin": 403, "operator": 403, "finance": 403, "a.admin": 409, "a.viewer": 403,
        "b.admin": 409, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    other = await world.who("acme").post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD_2, "method": "online", "agent_id": "A"})
    assert other.status_code == 404  # another enterprise's card


@pytest.mark.req("X-G2", "G2-02", "G2-03")
async def test_who_orders_packages_in_a_batch(world: Shop) -> None:
    """The batch answers 403 (or 401) whole where the single create would; otherwise 200 with
    each item's own status."""
    async def batch(client: httpx.AsyncClient, **body: Any) -> tuple[int, int | None]:
        answer = await client.post("/v1/orders/batch", json={"orders": [
            {"idempotency_key": "sec-1", "package_id": "p90", "iccid": CARD, **body}]})
        if answer.status_code != 200:
            return answer.status_code, None
        return 200, answer.json()["results"][0]["status"]

    online = {name: await batch(world.who(name), method="online", agent_id="A")
              for name in ROLES}
    assert online == {
        "admin": (403, None), "operator": (403, None), "finance": (403, None),
        "a.admin": (200, 201), "a.viewer": (403, None), "b.admin": (403, None),
        "buyer": (200, 201), "buyer1": (403, None), "acme": (200, 201), "nobody": (401, None)}
    flow2 = {name: await batch(world.who(name), method="agent_wallet") for name in ROLES}
    assert flow2 == {
        "admin": (403, None), "operator": (403, None), "finance": (403, None),
        "a.admin": (200, 409), "a.viewer": (403, None), "b.admin": (200, 409),
        "buyer": (403, None), "buyer1": (403, None), "acme": (403, None), "nobody": (401, None)}
    other = await world.who("acme").post("/v1/orders/batch", json={"orders": [
        {"idempotency_key": "sec-2", "package_id": "p90", "iccid": CARD_2, "method": "online",
         "agent_id": "A"}]})
    assert other.status_code == 404  # another enterprise's card


@pytest.mark.req("X-G2", "G1-18", "SM-G2-RECHARGE")
async def test_who_reads_and_moves_an_order(world: Shop) -> None:
    made = await ok(world.who("buyer").post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "online"}), 201)
    path = f"/v1/orders/{made['order_id']}"
    assert await statuses(world, lambda c: c.get(path)) == {
        "admin": 200, "operator": 200, "finance": 200, "a.admin": 200, "a.viewer": 200,
        "b.admin": 404, "buyer": 200, "buyer1": 404, "acme": 404, "nobody": 401}
    assert await statuses(world, lambda c: c.post(path + "/complete")) == {
        "admin": 409, "operator": 409, "finance": 403, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    refund = {"reason": "r"}
    # §7.2: the direct refund is the administrator's; the others request and approve
    assert await statuses(world, lambda c: c.post(path + "/refund", json=refund)) == {
        "admin": 409, "operator": 403, "finance": 403, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    # G1-18: platform operators release (this order is not intercepted: 409)
    assert await statuses(world, lambda c: c.post(path + "/release", json=refund)) == {
        "admin": 409, "operator": 409, "finance": 403, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    assert await statuses(world, lambda c: c.post(path + "/cancel")) == {
        "admin": 403, "operator": 403, "finance": 403, "a.admin": 403, "a.viewer": 403,
        "b.admin": 404, "buyer": 200, "buyer1": 404, "acme": 404, "nobody": 401}
    listed = {name: len((await world.who(name).get("/v1/orders")).json())
              for name in ROLES if name != "nobody"}
    assert listed == {"admin": 1, "operator": 1, "finance": 1, "a.admin": 1, "a.viewer": 1,
                      "b.admin": 0, "buyer": 1, "buyer1": 0, "acme": 0}
    topup = await ok(world.who("buyer").post("/v1/wallets/recharges", json={
        "wallet": "card", "iccid": CARD, "amount_fen": 100}), 201)
    back = f"/v1/wallets/recharges/{topup['order_id']}/refund"  # SM-G2-RECHARGE: operator
    assert await statuses(world, lambda c: c.post(back, json=refund)) == {
        "admin": 409, "operator": 409, "finance": 403, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}


@pytest.mark.req("X-G2", "G2-12", "G2-14")
async def test_who_recharges_and_reads_wallets(world: Shop) -> None:
    def agent_wallet(client: httpx.AsyncClient) -> Any:
        return client.post("/v1/wallets/recharges", json={"wallet": "agent", "amount_fen": 1})

    def card(client: httpx.AsyncClient) -> Any:
        return client.post("/v1/wallets/recharges", json={"wallet": "card", "iccid": CARD,
                                                          "amount_fen": 1})

    def enterprise(client: httpx.AsyncClient) -> Any:
        return client.post("/v1/wallets/recharges", json={"wallet": "enterprise",
                                                          "amount_fen": 1})

    assert await statuses(world, agent_wallet) == {
        "admin": 403, "operator": 403, "finance": 403, "a.admin": 201, "a.viewer": 403,
        "b.admin": 201, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    assert await statuses(world, card) == {
        "admin": 403, "operator": 403, "finance": 403, "a.admin": 201, "a.viewer": 403,
        "b.admin": 201, "buyer": 201, "buyer1": 201, "acme": 403, "nobody": 401}
    assert await statuses(world, enterprise) == {
        "admin": 403, "operator": 403, "finance": 403, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 201, "nobody": 401}
    assert await statuses(world, lambda c: c.get("/v1/wallets/agents/A")) == {
        "admin": 200, "operator": 200, "finance": 200, "a.admin": 200, "a.viewer": 200,
        "b.admin": 404, "buyer": 404, "buyer1": 404, "acme": 404, "nobody": 401}
    # everyone here recharged CARD (acme's): they read its wallet; CARD_2 is no one's business
    assert await statuses(world, lambda c: c.get(f"/v1/wallets/cards/{CARD}")) == {
        "admin": 200, "operator": 200, "finance": 200, "a.admin": 200, "a.viewer": 200,
        "b.admin": 200, "buyer": 200, "buyer1": 200, "acme": 200, "nobody": 401}
    assert await statuses(world, lambda c: c.get(f"/v1/wallets/cards/{CARD_2}/statement")) == {
        "admin": 200, "operator": 200, "finance": 200, "a.admin": 404, "a.viewer": 404,
        "b.admin": 404, "buyer": 404, "buyer1": 404, "acme": 404, "nobody": 401}
    assert await statuses(world, lambda c: c.get("/v1/wallets/agents/A/statement")) == {
        "admin": 200, "operator": 200, "finance": 200, "a.admin": 200, "a.viewer": 200,
        "b.admin": 404, "buyer": 404, "buyer1": 404, "acme": 404, "nobody": 401}
    for bad in ("agents/-x", "enterprises/a%20b", "cards/123"):  # not ids: not found
        assert (await world.market.admin.get(f"/v1/wallets/{bad}")).status_code == 404
    assert await statuses(world, lambda c: c.get("/v1/wallets/enterprises/acme")) == {
        "admin": 200, "operator": 200, "finance": 200, "a.admin": 404, "a.viewer": 404,
        "b.admin": 404, "buyer": 404, "buyer1": 404, "acme": 200, "nobody": 401}


@pytest.mark.req("X-G2", "G2-15")
async def test_who_withdraws_and_approves(world: Shop) -> None:
    await recharge(world, world.who("a.admin"), "agent", 1000)

    def ask(client: httpx.AsyncClient) -> Any:
        return client.post("/v1/withdrawals", json={"amount_fen": 100, "account": "x"})

    assert await statuses(world, ask) == {
        "admin": 403, "operator": 403, "finance": 403, "a.admin": 201, "a.viewer": 403,
        "b.admin": 409, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    [mine] = await ok(world.who("a.admin").get("/v1/orders", params={"kind": "withdrawal"}))
    path = f"/v1/withdrawals/{mine['order_id']}/reject"
    found = await statuses(world, lambda c: c.post(path, json={"reason": "no"}))
    assert found == {
        "admin": 200, "operator": 403, "finance": 409, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    second = await ok(ask(world.who("a.admin")), 201)
    approve = f"/v1/withdrawals/{second['order_id']}/approve"
    assert await statuses(world, lambda c: c.post(approve)) == {
        "admin": 200, "operator": 403, "finance": 200, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}


@pytest.mark.req("X-01", "X-G2", "SM-G2-ORDER")
async def test_who_requests_approves_and_reads_refunds(world: Shop) -> None:
    """§7.2 "refund package order": admin/platform_operator C (request), platform_finance A,
    agent_admin R, end_user and enterprise_admin R (own)."""
    await recharge(world, world.who("a.admin"), "agent", 7000)
    made = await ok(world.who("a.admin").post("/v1/orders", json={
        "package_id": "p90", "iccid": CARD, "method": "agent_wallet"}), 201)
    path = f"/v1/orders/{made['order_id']}/refund-requests"
    part = {"reason": "r", "amount_fen": 1}  # not completed: 409 for who may request
    assert await statuses(world, lambda c: c.post(path, json=part)) == {
        "admin": 409, "operator": 409, "finance": 403, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    asked = await ok(world.who("operator").post(path, json={"reason": "r"}), 201)
    one = f"/v1/refund-requests/{asked['request_id']}"
    assert await statuses(world, lambda c: c.get("/v1/refund-requests")) == {
        "admin": 200, "operator": 200, "finance": 200, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    assert await statuses(world, lambda c: c.get(one)) == {
        "admin": 200, "operator": 200, "finance": 200, "a.admin": 200, "a.viewer": 200,
        "b.admin": 404, "buyer": 404, "buyer1": 404, "acme": 404, "nobody": 401}
    assert await statuses(world, lambda c: c.post(one + "/approve")) == {
        "admin": 200, "operator": 403, "finance": 200, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    assert await statuses(world, lambda c: c.post(one + "/reject", json={"reason": "r"})) == {
        "admin": 409, "operator": 403, "finance": 409, "a.admin": 403, "a.viewer": 403,
        "b.admin": 403, "buyer": 403, "buyer1": 403, "acme": 403, "nobody": 401}
    assert (await world.who("admin").get("/v1/refund-requests/NOPE")).status_code == 404


COVERED = {("POST", "/v1/orders"), ("POST", "/v1/orders/batch"), ("GET", "/v1/orders"),
           ("GET", "/v1/orders/{order_id}"),
           ("POST", "/v1/orders/{order_id}/cancel"), ("POST", "/v1/orders/{order_id}/complete"),
           ("POST", "/v1/orders/{order_id}/refund"), ("POST", "/v1/orders/{order_id}/release"),
           ("POST", "/v1/wallets/recharges"),
           ("POST", "/v1/wallets/recharges/{order_id}/refund"),
           ("GET", "/v1/wallets/{kind}/{owner_id}"),
           ("GET", "/v1/wallets/{kind}/{owner_id}/statement"), ("POST", "/v1/withdrawals"),
           ("POST", "/v1/withdrawals/{order_id}/approve"),
           ("POST", "/v1/withdrawals/{order_id}/reject"),
           ("POST", "/v1/orders/{order_id}/refund-requests"), ("GET", "/v1/refund-requests"),
           ("GET", "/v1/refund-requests/{request_id}"),
           ("POST", "/v1/refund-requests/{request_id}/approve"),
           ("POST", "/v1/refund-requests/{request_id}/reject"),
           ("POST", "/v1/payments/notify")}  # signed, no token: test_orders.py


def test_every_orders_route_has_a_place_in_the_matrix() -> None:
    routes = {(method, route.path)
              for router in (orders.router, orders.notify_router, wallets.router,
                             withdrawals.router, refund_requests.router)
              for route in router.routes if isinstance(route, APIRoute)
              for method in route.methods or set()}
    assert routes == COVERED
