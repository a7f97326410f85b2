"""The console's money pages for platform roles (G1, G2, §7.2) over HTTP: who sees them (404
for enterprise and agent roles), who changes what (403 for a forged change by a read-only
role), packages and purchase prices with the prices a change invalidates, the agent tree,
top-level cost prices refused at the field, orders with their price chain, risks, history and
ledger, the refund, the exports for finance, and withdrawals approved or rejected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from core.settings import Settings
from domain.ledger import agent_available, agent_withdrawing
from tests.support.dates import mid_cycle, store_clock
from tests.support.orders import Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
MONEY = "/console/ops/money"
PAGES = ("packages", "agents", "orders", "withdrawals", "report")


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    """The spec's market; each person's pages in English."""
    await store_clock(settings.require_database(), mid_cycle())
    async with shop(settings) as made:
        await spec_world(made)
        await made.market.person("ops", "platform_ops")
        for client in made.market.people.values():
            client.cookies.set("cardpulse_lang", "en")
        yield made


async def post(client: httpx.AsyncClient, path: str, **fields: Any) -> httpx.Response:
    """A form post as the page sends it (the client carries the session's CSRF header)."""
    return await client.post(MONEY + path, data=fields)


async def flow_2(s: Shop) -> dict[str, Any]:
    """A completed Flow-2 order of B (cost 6000 from its wallet)."""
    await recharge(s, s.who("b.admin"), "agent", 6000)
    made = await order(s.who("b.admin"), "agent_wallet")
    return dict(await ok(s.market.admin.post(f"/v1/orders/{made['order_id']}/complete")))


async def test_platform_roles_see_the_pages_other_roles_do_not(world: Shop) -> None:
    for name in ("finance", "operator", "ops"):
        for page in PAGES:
            seen = await world.who(name).get(f"{MONEY}/{page}")
            assert seen.status_code == 200, (name, page, seen.text[:500])
            assert f'href="{MONEY}/{page}" aria-current="page"' in seen.text
    for name in ("a.admin", "a.viewer", "buyer"):
        for page in PAGES:
            assert (await world.who(name).get(f"{MONEY}/{page}")).status_code == 404, name
    for page in PAGES:  # platform operations read and see no button
        seen = await world.who("ops").get(f"{MONEY}/{page}")
        assert "hx-post" not in seen.text, page


@pytest.mark.req("G1-06", "G1-21", "G2-15")
async def test_a_forged_change_by_a_role_that_may_not_make_it_is_refused(world: Shop) -> None:
    business = (("/packages", {"package_id": "x", "name": "X", "business_line": "traffic_card",
                               "price": "50"}),
                ("/packages/p90/price", {"price": "55"}),
                ("/agents", {"agent_id": "Z", "name": "Z"}),
                ("/agents/A/status", {"status": "disabled"}),
                ("/agents/A1/move", {"parent_id": "B"}),
                ("/agents/A/cost", {"package_id": "p90", "amount": "70"}))
    decide = ("/withdrawals/W1/decide", {"decision": "approve"})
    for name in ("ops", "finance"):
        for path, fields in business:
            assert (await post(world.who(name), path, **fields)).status_code == 403, (name, path)
    for name in ("ops", "operator"):
        assert (await post(world.who(name), decide[0], **decide[1])).status_code == 403, name
    for path, fields in (*business, decide):
        assert (await post(world.who("a.admin"), path, **fields)).status_code == 404, path
    agents = await ok(world.market.admin.get("/v1/agents"))
    assert {a["agent_id"]: (a["status"], a["parent_id"]) for a in agents} == {
        "A": ("active", None), "A1": ("active", "A"), "B": ("active", None)}


@pytest.mark.req("G1-04", "G1-12", "G1-02")
async def test_packages_are_made_and_repriced_listing_the_prices_invalidated(
        world: Shop) -> None:
    operator = world.who("operator")
    bad = await post(operator, "/packages", package_id="p120", name="Big",
                     business_line="traffic_card", price="12.345", card_managed="on")
    assert bad.status_code == 422 and 'id="new-package-price-problem"' in bad.text
    no_data = await post(operator, "/packages", package_id="p120", name="Big",
                         business_line="traffic_card", price="80", data_number="lots",
                         data_unit="GB")
    assert no_data.status_code == 422 and 'id="data-problem"' in no_data.text
    made = await post(operator, "/packages", package_id="p120", name="Big",
                      business_line="traffic_card", price="80", validity_cycles="3",
                      data_number="1.5", data_unit="GB")
    assert made.status_code == 201, made.text[:500]
    package = await ok(world.market.admin.get("/v1/packages/p120"))
    assert (package["purchase_price_fen"], package["card_managed"], package["validity_cycles"],
            package["package_bytes"]) == (8000, False, 3, 3 << 29)
    assert "1.50 GB" in made.text
    taken = await post(operator, "/packages", package_id="p120", name="Again",
                       business_line="traffic_card", price="80")
    assert taken.status_code == 409 and "taken" in taken.text
    changed = await post(operator, "/packages/p90/price", price="65")
    assert changed.status_code == 200, changed.text[:500]
    assert 'data-testid="invalidated"' in changed.text
    assert "cost_below_purchase" in changed.text and "60.00 元" in changed.text
    assert 'data-testid="purchase-p90">65.00 元' in changed.text
    costs = {(p["agent_id"], p["status"]) for p in await ok(world.market.admin.get(
        "/v1/prices", params={"kind": "cost", "package_id": "p90"}))}
    assert ("A", "invalid") in costs and ("B", "invalid") in costs


@pytest.mark.req("G1-06", "G1-19", "G1-20", "G1-21", "G1-13")
async def test_the_agent_tree_agents_and_top_level_cost_prices(world: Shop) -> None:
    operator = world.who("operator")
    tree = await operator.get(f"{MONEY}/agents")
    assert 'data-agent="A1" data-depth="2"' in tree.text
    made = await post(operator, "/agents", agent_id="A2", name="Third level", parent_id="A1")
    assert made.status_code == 201, made.text[:500]
    assert 'data-agent="A2" data-depth="3"' in made.text
    top = await post(operator, "/agents", agent_id="C", name="Top", parent_id="-",
                     business_lines="traffic_card")
    assert top.status_code == 201 and 'data-agent="C" data-depth="1"' in top.text
    low = await post(operator, "/agents/C/cost", package_id="p90", amount="49.99")
    assert low.status_code == 422
    assert ('data-testid="cost-problem">Cost price must not be lower than the purchase price'
            in low.text) and 'value="49.99"' in low.text
    world.who("operator").cookies.set("cardpulse_lang", "zh-CN")
    low_zh = await post(operator, "/agents/C/cost", package_id="p90", amount="49.99")
    assert "成本价不能低于进货价" in low_zh.text
    world.who("operator").cookies.set("cardpulse_lang", "en")
    set_ = await post(operator, "/agents/C/cost", package_id="p90", amount="58")
    assert set_.status_code == 200 and "p90: 58.00 元" in set_.text
    under = await post(operator, "/agents/A1/cost", package_id="p90", amount="70")
    assert under.status_code == 403  # a downstream cost price is its parent's to set
    before = await flow_2(world)
    off = await post(operator, "/agents/A/status", status="disabled")
    assert off.status_code == 200 and "The agent A is disabled." in off.text
    refused = await world.who("buyer").post("/v1/orders", json={
        "package_id": "p90", "iccid": "89860012345678901234", "method": "online"})
    assert refused.status_code == 409, refused.text
    assert (await post(operator, "/agents/A/status", status="active")).status_code == 200
    moved = await post(operator, "/agents/A1/move", parent_id="B")
    assert moved.status_code == 200, moved.text[:500]
    assert {a["agent_id"]: a["parent_id"] for a in await ok(
        world.market.admin.get("/v1/agents"))}["A1"] == "B"
    cycle = await post(operator, "/agents/B/move", parent_id="A2")
    assert cycle.status_code in (409, 422), cycle.text[:300]
    after = await ok(world.market.admin.get(f"/v1/orders/{before['order_id']}"))
    assert after["price_chain"] == before["price_chain"]


@pytest.mark.req("G1-13", "G1-18", "G2-23", "C-08")
async def test_orders_filters_detail_and_exports(world: Shop) -> None:
    done = await flow_2(world)
    unpaid = await order(world.who("buyer"), "online")
    async with await psycopg.AsyncConnection.connect(world.settings.require_database(),
                                                     autocommit=True) as conn:
        await conn.execute("UPDATE orders SET price_risks = '[\"negative_margin\"]', "
                           "intercepted = true WHERE order_id = %s", (unpaid["order_id"],))
    finance = world.who("finance")
    listed = await finance.get(f"{MONEY}/orders", params={"method": "agent_wallet"})
    assert done["order_id"] in listed.text and unpaid["order_id"] not in listed.text
    listed = await finance.get(f"{MONEY}/orders", params={"kind": "package",
                                                          "state": "pending_payment"})
    assert unpaid["order_id"] in listed.text and done["order_id"] not in listed.text
    assert (await finance.get(f"{MONEY}/orders", params={"agent": "A"})).text.count(
        'href="/console/ops/money/orders/P') == 1
    detail = await finance.get(f"{MONEY}/orders/{done['order_id']}")
    assert detail.status_code == 200
    assert 'data-testid="chain-purchase">50.00 元' in detail.text
    assert 'data-testid="chain-retail">90.00 元' in detail.text
    assert "Cost price of B" in detail.text
    assert 'data-testid="intercepted">no' in detail.text
    assert detail.text.count("<td>Cost</td>") == 2  # paid in, settled to the platform
    assert "Refund the order" in detail.text  # finance may refund as the API lets it
    risky = await finance.get(f"{MONEY}/orders/{unpaid['order_id']}")
    assert 'data-testid="price-risks">negative_margin' in risky.text
    assert 'data-testid="intercepted">yes' in risky.text
    assert (await finance.get(f"{MONEY}/orders/NOPE")).status_code == 404
    csv = (await finance.get(f"{MONEY}/orders.csv", params={"method": "agent_wallet"})
           ).content.decode("utf-8-sig").splitlines()
    assert csv[0].startswith("Order,Kind,State,Method,Agent") and len(csv) == 2
    assert csv[1].split(",")[:4] == [done["order_id"], "package", "completed", "agent_wallet"]
    ledger = (await finance.get(f"{MONEY}/ledger.csv", params={"order": done["order_id"]})
              ).content.decode("utf-8-sig").splitlines()
    assert ledger[0].startswith("Order,Order line,Fee type,Transfer")
    assert sorted(tuple(r.split(",")[1:3]) + (r.split(",")[6],) for r in ledger[1:]) == [
        ("1", "cost", "6000"), ("1", "cost", "6000")]
    everything = (await finance.get(f"{MONEY}/ledger.xlsx")).content
    assert everything[:2] == b"PK"


@pytest.mark.req("SM-G2-ORDER", "G2-16", "C-08")
async def test_the_operator_refunds_an_order_from_its_page(world: Shop) -> None:
    done = await flow_2(world)
    operator = world.who("operator")
    path = f"/orders/{done['order_id']}/refund"
    blank = await post(operator, path, reason="  ")
    assert blank.status_code == 422 and "Give the reason of the refund." in blank.text
    assert (await post(world.who("ops"), path, reason="no")).status_code == 403
    refunded = await post(operator, path, reason="客户取消")
    assert refunded.status_code == 200, refunded.text[:500]
    assert 'data-testid="order-state">Refunded' in refunded.text and "客户取消" in refunded.text
    assert await world.balances(agent_available("B")) == {agent_available("B"): 6000}
    again = await post(operator, path, reason="again")
    assert again.status_code == 409, again.text[:300]


@pytest.mark.req("G2-15", "SM-G2-WITHDRAWAL", "C-08")
async def test_finance_approves_and_rejects_withdrawals_with_a_reason(world: Shop) -> None:
    await recharge(world, world.who("a.admin"), "agent", 5000)
    asked = [await ok(world.who("a.admin").post("/v1/withdrawals", json={
        "amount_fen": amount, "account": "6222 0000 1111"}), 201) for amount in (2000, 500)]
    finance = world.who("finance")
    queue = await finance.get(f"{MONEY}/withdrawals")
    for each in asked:
        assert f'data-testid="approve-{each["order_id"]}"' in queue.text
    first, second = (each["order_id"] for each in asked)
    approved = await post(finance, f"/withdrawals/{first}/decide", decision="approve")
    assert approved.status_code == 200 and f"The withdrawal {first} is approved." in approved.text
    await world.reaches(first, "paid")
    blank = await post(finance, f"/withdrawals/{second}/decide", decision="reject", reason=" ")
    assert blank.status_code == 422
    assert f'id="problem-{second}" class="problem">Give the reason of the rejection.' in blank.text
    rejected = await post(finance, f"/withdrawals/{second}/decide", decision="reject",
                          reason="账户信息有误")
    assert rejected.status_code == 200 and "账户信息有误" in rejected.text
    assert f'data-testid="state-{second}">Rejected' in rejected.text
    assert await world.balances(agent_available("A"), agent_withdrawing("A")) == {
        agent_available("A"): 3000, agent_withdrawing("A"): 0}
    late = await post(finance, f"/withdrawals/{second}/decide", decision="approve")
    assert late.status_code == 409
    history = await ok(world.market.admin.get(f"/v1/orders/{second}"))
    assert (history["state"], history["reason"]) == ("rejected", "账户信息有误")
