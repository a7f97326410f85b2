"""Agents and prices through the API (specs/business.md §1): the spec's worked example, the
markup cap, the invalidation cascade and what it answers, the price chain orders snapshot,
visibility for every role, disabling and moving agents, and the audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from core.clock import now
from core.settings import Settings
from store.audit import history
from store.promotion import attribute
from tests.support.pricing import Market, agent, market, ok, package, set_price

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Market]:
    """Purchase 5000; top-level A (cost 6000) and B (cost 7000); A1 below A (cost 8000, set by
    A); A sells at 11000, A1 at 10000; people of each; an end user buying through A1."""
    async with market(settings) as made:
        admin = made.admin
        for agent_id, parent in (("A", None), ("B", None), ("A1", "A")):
            await agent(admin, agent_id, parent)
        await package(admin, "p50")
        a_admin = await made.person("a.admin", "agent_admin", agent="A")
        await made.person("a.viewer", "agent_viewer", agent="A")
        b_admin = await made.person("b.admin", "agent_admin", agent="B")
        a1_admin = await made.person("a1.admin", "agent_admin", agent="A1")
        await made.person("buyer", "end_user", agent="A1")
        await made.person("operator", "platform_operator")
        await set_price(admin, "cost", "p50", "A", 6000)
        await set_price(made.people["operator"], "cost", "p50", "B", 7000)
        await set_price(a_admin, "cost", "p50", "A1", 8000)
        await set_price(a_admin, "retail", "p50", "A", 11000)
        await set_price(a1_admin, "retail", "p50", "A1", 10000)
        await set_price(b_admin, "retail", "p50", "B", 9000)
        yield made


def codes(body: dict[str, Any]) -> list[str]:
    return [item["code"] for item in body["detail"]]


@pytest.mark.req("G1-04", "G1-05", "G1-09", "G1-13")
async def test_the_worked_example_gives_the_whole_chain(world: Market) -> None:
    chain = await ok(world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "A1"}))
    assert chain["purchase_price_fen"] == 5000 and chain["agent_path"] == ["A", "A1"]
    assert [(lv["agent_id"], lv["cost_price_fen"]) for lv in chain["levels"]] == [
        ("A", 6000), ("A1", 8000)]
    assert chain["retail_price_fen"] == 10000 and chain["retail_version"] == 1
    assert all(lv["cost_price_id"] > 0 and lv["cost_version"] == 1 for lv in chain["levels"])
    assert chain["package_bytes"] == 1 << 30 and chain["card_managed"] is True
    b = await ok(world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "B"}))
    assert [lv["cost_price_fen"] for lv in b["levels"]] == [7000] and b["retail_price_fen"] == 9000


@pytest.mark.req("G1-09", "G1-13")
async def test_retail_versions_follow_each_other_and_an_old_instant_keeps_its_price(
        world: Market) -> None:
    a1 = world.people["a1.admin"]
    before = now()
    for amount in (9000, 11000):  # the seed's 90 / 100 / 110 yuan
        await set_price(a1, "retail", "p50", "A1", amount)
    chain = await ok(world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "A1"}))
    assert (chain["retail_price_fen"], chain["retail_version"]) == (11000, 3)
    old = await ok(world.admin.get("/v1/packages/p50/price-chain", params={
        "agent_id": "A1", "at": (before - timedelta(milliseconds=1)).isoformat()}))
    assert (old["retail_price_fen"], old["retail_version"]) == (10000, 1)
    versions = await ok(a1.get("/v1/prices", params={"kind": "retail", "history": True}))
    assert [(p["version"], p["amount_fen"]) for p in versions] == [(1, 10000), (2, 9000),
                                                                  (3, 11000)]
    assert versions[0]["valid_to"] == versions[1]["valid_from"], "history is kept, not rewritten"
    assert versions[2]["valid_to"] is None


@pytest.mark.req("G1-10", "G1-07", "G1-11", "G1-06")
async def test_bounds_of_every_price(world: Market) -> None:
    a, a1 = world.people["a.admin"], world.people["a1.admin"]
    await set_price(a, "retail", "p50", "A", 12000)  # exactly 2 × 6000
    refused = await set_price(a, "retail", "p50", "A", 12001, code=422)
    assert codes(refused) == ["markup_cap_exceeded"]
    assert refused["detail"][0]["message_zh"] == "代理的销售价格不能大于成本价的两倍"
    assert refused["detail"][0]["loc"] == ["body", "amount_fen"]
    assert codes(await set_price(a, "cost", "p50", "A1", 12001, code=422)) == [
        "markup_cap_exceeded"]
    await set_price(a, "cost", "p50", "A1", 12000)  # AMB-15: A's own cost is the base
    await set_price(a1, "retail", "p50", "A1", 24000)  # and caps compound down the chain
    assert codes(await set_price(a1, "retail", "p50", "A1", 11999, code=422)) == [
        "price_below_cost"]
    await set_price(a1, "retail", "p50", "A1", 12000)  # equal to the cost: no markup
    assert codes(await set_price(world.admin, "cost", "p50", "B", 4999, code=422)) == [
        "cost_below_purchase"]
    listed = await ok(world.admin.get("/v1/prices", params={"agent_id": "A1",
                                                           "kind": "retail"}))
    assert [p["amount_fen"] for p in listed] == [12000], "refused prices store nothing"


@pytest.mark.req("G1-12", "X-04", "SM-G1-PRICE")
async def test_a_cost_change_invalidates_dependents_lists_them_and_notifies(
        world: Market) -> None:
    raised = await set_price(world.admin, "cost", "p50", "A", 9000)
    gone = [(g["price"]["kind"], g["price"]["agent_id"], g["code"])
            for g in raised["invalidated"]]
    assert gone == [("cost", "A1", "price_below_cost")], "A's retail 11000 is still ≤ 18000"
    refused = await world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "A1"})
    assert refused.status_code == 409 and refused.json()["detail"] == {
        "code": "price_unavailable", "message_zh": "该套餐暂不可售",
        "message_en": "This package is temporarily not for sale"}
    buyer = await world.people["buyer"].get("/v1/packages/p50/offer")
    assert buyer.status_code == 409 and buyer.json()["detail"]["code"] == "price_unavailable"
    a = world.people["a.admin"]
    told = await ok(a.get("/v1/agents/A/notifications"))
    assert told[0]["template"] == "price_invalidated" and told[0]["data"]["agent_id"] == "A1"
    await set_price(a, "cost", "p50", "A1", 9500)  # the owner sets a valid price again
    async with await psycopg.AsyncConnection.connect(
            world.settings.database_url or "") as conn:
        events = await history(conn, "price", "cost:p50:A1")
    assert [(e.from_state, e.to_state, e.reason) for e in events] == [
        (None, "active", "set"), ("active", "invalid", "price_below_cost"),
        ("invalid", "active", "set")], "SM-G1-PRICE, each transition audited"
    again = await ok(world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "A1"}))
    assert [lv["cost_price_fen"] for lv in again["levels"]] == [9000, 9500]

    lowered = await set_price(world.admin, "cost", "p50", "A", 5000)
    assert [(g["price"]["kind"], g["price"]["agent_id"], g["code"])
            for g in lowered["invalidated"]] == [("retail", "A", "markup_cap_exceeded")]
    old = await ok(a.get(f"/v1/prices/{lowered['invalidated'][0]['price']['price_id']}"))
    assert old["status"] == "invalid" and old["amount_fen"] == 11000, "never rewritten"


@pytest.mark.req("G1-06", "G1-12")
async def test_a_purchase_price_raise_invalidates_top_level_costs_below_it(
        world: Market) -> None:
    changed = await ok(world.admin.patch("/v1/packages/p50", json={"purchase_price_fen": 6500}))
    assert [(g["price"]["agent_id"], g["code"]) for g in changed["invalidated"]] == [
        ("A", "cost_below_purchase")]
    assert changed["package"]["version"] == 2
    chain = await world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "A"})
    assert chain.status_code == 409
    assert (await world.admin.get("/v1/packages/p50/price-chain",
                                  params={"agent_id": "B"})).status_code == 200


@pytest.mark.req("G1-08")
async def test_no_cost_price_no_sale(world: Market) -> None:
    await agent(world.admin, "A2", "A")
    a2 = await world.person("a2.admin", "agent_admin", agent="A2")
    refused = await set_price(a2, "retail", "p50", "A2", 9000, code=422)
    assert codes(refused) == ["no_cost_price"]
    assert await ok(a2.get("/v1/packages")) == [], "it sees no package it cannot sell"
    answer = await world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "A2"})
    assert answer.status_code == 409 and answer.json()["detail"]["code"] == "price_unavailable"


@pytest.mark.req("G1-03", "G1-14", "X-03")
async def test_each_role_sees_its_side_of_the_menu(world: Market) -> None:
    def seen(prices: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(p["kind"], p["agent_id"]) for p in prices}

    everything = {("cost", "A"), ("cost", "B"), ("cost", "A1"), ("retail", "A"),
                  ("retail", "A1"), ("retail", "B")}
    assert seen(await ok(world.admin.get("/v1/prices"))) == everything
    for name in ("a.admin", "a.viewer"):
        mine = await ok(world.people[name].get("/v1/prices"))
        assert seen(mine) == {("cost", "A"), ("retail", "A"), ("cost", "A1")}, name
    assert seen(await ok(world.people["a1.admin"].get("/v1/prices"))) == {
        ("cost", "A1"), ("retail", "A1")}, "never its upstream's cost"
    assert seen(await ok(world.people["b.admin"].get("/v1/prices"))) == {
        ("cost", "B"), ("retail", "B")}, "never a sibling's"
    assert seen(await ok(world.people["buyer"].get("/v1/prices"))) == {("retail", "A1")}
    for name in ("a.admin", "a1.admin", "buyer"):
        listed = await ok(world.people[name].get("/v1/packages"))
        assert [p["package_id"] for p in listed] == ["p50"]
        assert "purchase_price_fen" not in listed[0], "the purchase price is the platform's"
        one = await ok(world.people[name].get("/v1/packages/p50"))
        assert "purchase_price_fen" not in one
    platform = await ok(world.admin.get("/v1/packages/p50"))
    assert platform["purchase_price_fen"] == 5000
    offer = await ok(world.people["buyer"].get("/v1/packages/p50/offer"))
    assert (offer["retail_price_fen"], offer["cost_price_fen"]) == (10000, None)
    own = await ok(world.people["a1.admin"].get("/v1/packages/p50/offer"))
    assert (own["retail_price_fen"], own["cost_price_fen"]) == (10000, 8000)
    chain = await world.people["a1.admin"].get("/v1/packages/p50/price-chain",
                                               params={"agent_id": "A1"})
    assert chain.status_code == 403, "a chain shows upstream costs: platform only"


@pytest.mark.req("G1-14", "X-03")
async def test_another_branch_is_not_found_and_viewers_change_nothing(world: Market) -> None:
    b = world.people["b.admin"]
    assert (await b.get("/v1/agents/A")).status_code == 404
    assert (await b.get("/v1/agents/A1")).status_code == 404
    assert [x["agent_id"] for x in await ok(b.get("/v1/agents"))] == ["B"]
    a_prices = await ok(world.admin.get("/v1/prices", params={"agent_id": "A"}))
    for price in a_prices:
        assert (await b.get(f"/v1/prices/{price['price_id']}")).status_code == 404
    assert (await world.people["a1.admin"].get("/v1/agents/A")).status_code == 404, "upstream"
    listed = await ok(world.people["a.admin"].get("/v1/agents"))
    assert [x["agent_id"] for x in listed] == ["A", "A1"]
    viewer = world.people["a.viewer"]
    refused = await viewer.post("/v1/prices", json={
        "kind": "retail", "package_id": "p50", "agent_id": "A", "amount_fen": 9000})
    assert refused.status_code == 403
    assert (await b.post("/v1/prices", json={"kind": "cost", "package_id": "p50",
                                             "agent_id": "A1", "amount_fen": 9000})
            ).status_code == 404


@pytest.mark.req("G1-20")
async def test_disabling_an_agent_stops_sales_through_its_downstream(world: Market) -> None:
    disabled = await ok(world.admin.post("/v1/agents/A/disable"))
    assert disabled["status"] == "disabled"
    for seller in ("A", "A1"):
        answer = await world.admin.get("/v1/packages/p50/price-chain",
                                       params={"agent_id": seller})
        assert answer.status_code == 409 and answer.json()["detail"]["code"] == "agent_disabled"
    assert (await world.admin.get("/v1/packages/p50/price-chain",
                                  params={"agent_id": "B"})).status_code == 200
    assert (await world.people["a.admin"].post("/v1/agents/A/enable")).status_code == 403
    await ok(world.admin.post("/v1/agents/A/enable"))
    await ok(world.people["a.admin"].post("/v1/agents/A1/disable"))  # its downstream: allowed
    assert (await world.admin.get("/v1/packages/p50/price-chain",
                                  params={"agent_id": "A"})).status_code == 200


@pytest.mark.req("G1-21", "G1-19", "G1-12")
async def test_moves_are_platform_only_acyclic_and_recheck_prices(world: Market) -> None:
    await agent(world.admin, "A11", "A1")
    cyclic = await world.admin.post("/v1/agents/A/move", json={"parent_id": "A11"})
    assert cyclic.status_code == 422 and codes(cyclic.json()) == ["agent_cycle"]
    refused = await world.people["a.admin"].post("/v1/agents/A1/move", json={"parent_id": "A"})
    assert refused.status_code == 403
    moved = await ok(world.admin.post("/v1/agents/A1/move", json={"parent_id": "B"}))
    assert (moved["parent_id"], moved["depth"]) == ("B", 2)
    assert (await ok(world.admin.get("/v1/agents/A11")))["depth"] == 3
    chain = await ok(world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "A1"}))
    assert chain["agent_path"] == ["B", "A1"] and chain["retail_price_fen"] == 10000
    assert (await world.people["a.admin"].get("/v1/agents/A1")).status_code == 404
    assert (await world.people["b.admin"].get("/v1/agents/A11")).status_code == 200
    await agent(world.admin, "C", None)
    c_admin = await world.person("c.admin", "agent_admin", agent="C")
    await set_price(world.admin, "cost", "p50", "C", 9000)
    await ok(world.admin.post("/v1/agents/A1/move", json={"parent_id": "C"}))
    a1_cost = await ok(world.admin.get("/v1/prices", params={"agent_id": "A1", "kind": "cost"}))
    assert [(p["amount_fen"], p["status"], p["status_reason"]) for p in a1_cost] == [
        (8000, "invalid", "price_below_cost")], "8000 is below its new upstream's 9000"
    told = await ok(c_admin.get("/v1/agents/C/notifications"))
    assert told[0]["data"]["agent_id"] == "A1", "its new parent owns that price now"
    await set_price(c_admin, "cost", "p50", "A1", 9000)
    assert (await world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "A1"})
            ).status_code == 200
    narrow = await agent(world.admin, "T", None, ("traffic_card",))
    assert narrow["business_lines"] == ["traffic_card"]
    wide = await world.admin.post("/v1/agents", json={
        "agent_id": "T1", "name": "T1", "parent_id": "T", "business_lines": ["number_card"]})
    assert wide.status_code == 422 and codes(wide.json()) == ["business_lines_beyond_parent"]


@pytest.mark.req("G1-01", "G1-02", "G1-15", "G1-16")
async def test_number_cards_are_factory_priced_and_listed_to_every_agent(
        world: Market) -> None:
    card = await ok(world.admin.post("/v1/packages", json={
        "package_id": "n39", "name": "号卡 39", "business_line": "number_card",
        "factory_price_fen": 3900, "voice_minutes": 100}), 201)
    assert card["card_managed"] is True and card["purchase_price_fen"] is None
    refused = await set_price(world.people["a.admin"], "retail", "n39", "A", 5000, code=422)
    assert codes(refused) == ["factory_priced"]
    for name in ("a.admin", "b.admin", "buyer"):
        assert "n39" in [p["package_id"] for p in await ok(world.people[name].get(
            "/v1/packages"))]
    offer = await ok(world.people["buyer"].get("/v1/packages/n39/offer"))
    assert offer["retail_price_fen"] == 3900
    bulk = await package(world.admin, "bulk", card_managed=False)
    assert bulk["card_managed"] is False and bulk["business_line"] == "traffic_card"
    bad = await world.admin.post("/v1/packages", json={
        "package_id": "x", "name": "x", "business_line": "voice_card",
        "purchase_price_fen": 1})
    assert bad.status_code == 422
    free = await world.admin.post("/v1/packages", json={
        "package_id": "x", "name": "x", "business_line": "traffic_card",
        "purchase_price_fen": 0})
    assert free.status_code == 422, "a purchase price is > 0 fen"


@pytest.mark.req("SM-G1-PRICE", "C-08")
async def test_every_price_transition_is_audited_and_deletion_keeps_history(
        world: Market, settings: Settings) -> None:
    a = world.people["a.admin"]
    retail = (await ok(a.get("/v1/prices", params={"kind": "retail", "agent_id": "A"})))[0]
    deleted = await ok(a.delete(f"/v1/prices/{retail['price_id']}"))
    assert deleted["status"] == "deleted"
    assert await ok(a.get("/v1/prices", params={"kind": "retail"})) == []
    kept = await ok(a.get("/v1/prices", params={"kind": "retail", "history": True}))
    assert [p["status"] for p in kept] == ["deleted"]
    answer = await world.admin.get("/v1/packages/p50/price-chain", params={"agent_id": "A"})
    assert answer.status_code == 409
    async with await psycopg.AsyncConnection.connect(settings.database_url or "") as conn:
        events = await history(conn, "price", "retail:p50:A")
    assert [(e.from_state, e.to_state) for e in events] == [(None, "active"),
                                                          ("active", "deleted")]
    assert events[0].actor == "user:a.admin" and events[0].actor_role == "agent_admin"


@pytest.mark.req("C-05")
async def test_a_retried_price_with_the_same_key_returns_the_first_answer(
        world: Market) -> None:
    key = {"Idempotency-Key": "raise-A-1"}
    body = {"kind": "cost", "package_id": "p50", "agent_id": "A", "amount_fen": 9000}
    first = await ok(world.admin.post("/v1/prices", json=body, headers=key), 201)
    again = await ok(world.admin.post("/v1/prices", json=body, headers=key), 201)
    assert again["price"]["price_id"] == first["price"]["price_id"]
    assert [g["price"]["price_id"] for g in again["invalidated"]] == [
        g["price"]["price_id"] for g in first["invalidated"]] != []
    other = await world.admin.post("/v1/prices", json={**body, "amount_fen": 9100},
                                   headers=key)
    assert other.status_code == 409 and other.json()["detail"]["code"] == "idempotency_conflict"


@pytest.mark.req("G1-13")
async def test_a_future_price_takes_effect_at_its_instant(world: Market) -> None:
    later = now() + timedelta(days=1)
    await set_price(world.people["a1.admin"], "retail", "p50", "A1", 12000,
                    valid_from=later.isoformat())
    current = await ok(world.admin.get("/v1/packages/p50/price-chain",
                                       params={"agent_id": "A1"}))
    assert current["retail_price_fen"] == 10000
    future = await ok(world.admin.get("/v1/packages/p50/price-chain", params={
        "agent_id": "A1", "at": (later + timedelta(seconds=1)).isoformat()}))
    assert future["retail_price_fen"] == 12000
    past = await world.people["a1.admin"].post("/v1/prices", json={
        "kind": "retail", "package_id": "p50", "agent_id": "A1", "amount_fen": 9000,
        "valid_from": (now() - timedelta(hours=1)).isoformat()})
    assert past.status_code == 422 and codes(past.json()) == ["price_period_in_past"]


@pytest.mark.req("G1-16")
async def test_agents_promote_listed_number_cards_by_link_or_board(world: Market) -> None:
    await ok(world.admin.post("/v1/packages", json={
        "package_id": "n39", "name": "号卡 39", "business_line": "number_card",
        "factory_price_fen": 3900}), 201)
    a = world.people["a.admin"]
    link = await ok(a.post("/v1/agents/A/promotion-links", json={"package_id": "n39"}), 201)
    board = await ok(a.post("/v1/agents/A/promotion-links", json={
        "package_id": "n39", "medium": "board"}), 201)
    assert (link["agent_id"], link["medium"], board["medium"]) == ("A", "link", "board")
    assert link["code"] != board["code"]
    listed = await ok(world.people["a.viewer"].get("/v1/agents/A/promotion-links"))
    assert {x["code"] for x in listed} == {link["code"], board["code"]}
    traffic = await a.post("/v1/agents/A/promotion-links", json={"package_id": "p50"})
    assert traffic.status_code == 422 and codes(traffic.json()) == ["not_promotable"]
    assert (await world.people["a.viewer"].post("/v1/agents/A/promotion-links", json={
        "package_id": "n39"})).status_code == 403
    assert (await world.people["b.admin"].get("/v1/agents/A/promotion-links")
            ).status_code == 404
    async with await psycopg.AsyncConnection.connect(
            world.settings.database_url or "") as conn:
        found = await attribute(conn, board["code"])
    assert found is not None and found.agent_id == "A", "activations through it are A's"


@pytest.mark.req("G1-13")
async def test_a_period_must_be_aware_and_not_empty(world: Market) -> None:
    a1 = world.people["a1.admin"]
    start = now() + timedelta(hours=1)
    empty = await a1.post("/v1/prices", json={
        "kind": "retail", "package_id": "p50", "agent_id": "A1", "amount_fen": 9000,
        "valid_from": start.isoformat(), "valid_to": start.isoformat()})
    assert empty.status_code == 422 and codes(empty.json()) == ["price_period_empty"]
    naive = await a1.post("/v1/prices", json={
        "kind": "retail", "package_id": "p50", "agent_id": "A1", "amount_fen": 9000,
        "valid_from": start.replace(tzinfo=None).isoformat()})
    assert naive.status_code == 422, "a time without its offset is ambiguous"
