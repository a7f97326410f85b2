"""Commission rules through the API and the store (specs/business.md §5.1, H-01…H-08, H-14,
H-16, H-25, H-28, H-42, §7.2 H): kinds and defaults, the overlap check at its boundary,
versions that never touch the past, validation refusals, retirement, who may do what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from core.clock import now
from core.settings import Settings
from store import commission_rules
from store.audit import history
from tests.support.pricing import Market, agent, market, ok, package

pytestmark = pytest.mark.integration
RULES = "/v1/commission-rules"


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Market]:
    """Agents A (with A1 below it) and B; traffic packages p1, p2 and number card n1; a
    platform operator, platform finance, the admins of A and B."""
    async with market(settings) as made:
        for agent_id, parent in (("A", None), ("B", None), ("A1", "A")):
            await agent(made.admin, agent_id, parent)
        await package(made.admin, "p1")
        await package(made.admin, "p2")
        await ok(made.admin.post("/v1/packages", json={
            "package_id": "n1", "name": "号卡 1", "business_line": "number_card",
            "factory_price_fen": 3900, "voice_minutes": 100}), 201)
        await made.person("operator", "platform_operator")
        await made.person("finance", "platform_finance")
        await made.person("a.admin", "agent_admin", agent="A")
        await made.person("a.viewer", "agent_viewer", agent="A")
        await made.person("b.admin", "agent_admin", agent="B")
        yield made


def at(t: datetime) -> str:
    return t.isoformat()


def body(rule_id: str, kind: str = "per_order", agent_id: str = "A", **extra: Any) -> dict[
        str, Any]:
    made: dict[str, Any] = {"rule_id": rule_id, "kind": kind, "agent_id": agent_id,
                            "amount": {"mode": "fixed", "value": 500}}
    if "business_line" not in extra:
        made["package_ids"] = ["p1"]
    if kind == "one_time":
        made["recharge"] = {"mode": "first", "threshold_fen": 10000}
    return made | extra


def refusal(answer: dict[str, Any]) -> tuple[str, str, str]:
    detail = answer["detail"]
    item = detail[0] if isinstance(detail, list) else detail
    return item["code"], item["message_zh"], item["message_en"]


async def lookup(world: Market, agent_id: str, kind: str, package_id: str, line: str,
                 when: datetime) -> list[tuple[str, int]]:
    async with await psycopg.AsyncConnection.connect(world.settings.database_url or "") as c:
        found = await commission_rules.active_rules(c, agent_id, kind,  # type: ignore[arg-type]
                                                    package_id, line, when)
    return [(r.rule_id, r.version) for r in found]


@pytest.mark.req("H-05", "H-06", "H-08")
async def test_per_order_defaults_and_idempotent_create(world: Market) -> None:
    op = world.people["operator"]
    made = await ok(op.post(RULES, json=body("po1")), 201)
    assert (made["kind"], made["version"], made["status"]) == ("per_order", 1, "active")
    assert (made["freeze_days"], made["requires_approval"]) == (0, False)
    assert made["amount"] == {"mode": "fixed", "value": 500}
    assert await ok(op.post(RULES, json=body("po1")), 201) == made  # C-05: same answer
    other = await ok(op.post(RULES, json=body("po1", amount={"mode": "fixed", "value": 1})),
                     409)
    assert other["detail"]["code"] == "idempotency_conflict"
    one = await ok(op.post(RULES, json=body("ot1", "one_time", package_ids=["p2"])), 201)
    assert (one["freeze_days"], one["requires_approval"]) == (7, True)
    assert one["terms"] == {"recharge": {"mode": "first", "threshold_fen": 10000}}
    async with await psycopg.AsyncConnection.connect(world.settings.database_url or "") as c:
        events = await history(c, "commission_rule", "po1")
    assert [(e.to_state, e.reason, e.data["version"]) for e in events] == [
        ("active", "created", 1)]


@pytest.mark.req("H-05")
async def test_every_kind_is_configurable(world: Market) -> None:
    op = world.people["operator"]
    t = now()
    await ok(op.post(RULES, json=body(
        "lt", "long_term", amount={"mode": "percent", "value": 500},
        recharge={"mode": "cumulative", "threshold_fen": 5000})), 201)
    combined = await ok(op.post(RULES, json=body(
        "co", "combined", package_ids=["p2"], gate={"gate": "time", "at": at(t)},
        one_time={"amount": {"mode": "fixed", "value": 1000},
                  "recharge": {"mode": "first", "threshold_fen": 10000}})), 201)
    assert combined["terms"]["gate"]["gate"] == "time"
    card = await ok(op.post(RULES, json=body(
        "nc", "number_card_settlement", package_ids=[], business_line="number_card",
        amount={"mode": "percent", "value": 3000}, first_recharge_fen=5000)), 201)
    assert card["terms"] == {"first_recharge_fen": 5000, "min_tenure_days": 0,
                             "require_not_sanwu": True, "conditions_deadline_days": 90}
    bad = await ok(op.post(RULES, json=body("x", "combined", gate={"gate": "count", "n": 0},
                                            one_time=None)), 422)
    assert bad["detail"]
    both = await ok(op.post(RULES, json=body("y", business_line="traffic_card",
                                             package_ids=["p1"])), 422)
    assert "scope" in str(both["detail"])


@pytest.mark.req("H-07")
async def test_overlap_is_refused_but_not_at_the_boundary(world: Market) -> None:
    op = world.people["operator"]
    t0 = now()
    t1 = t0 + timedelta(days=10)
    await ok(op.post(RULES, json=body("r1", effective_from=at(t0), effective_to=at(t1))), 201)
    await ok(op.post(RULES, json=body("r2", effective_from=at(t1))), 201)  # meets, no overlap
    clash = await ok(op.post(RULES, json=body(
        "r3", business_line="traffic_card", effective_from=at(t1 - timedelta(seconds=1)),
        effective_to=at(t1))), 409)
    assert refusal(clash) == (
        "rule_overlap", "同一代理同一套餐已存在生效中的同类分佣规则",
        "An active rule of this kind already exists for this agent and package")
    later = await ok(op.post(RULES, json=body(
        "r4", package_ids=["p1", "p2"], effective_from=at(t1 + timedelta(days=1)))), 409)
    assert later["detail"]["code"] == "rule_overlap"
    # another package, another kind, another agent, a draft: no overlap
    await ok(op.post(RULES, json=body("r5", package_ids=["p2"])), 201)
    await ok(op.post(RULES, json=body("r6", "one_time")), 201)
    await ok(op.post(RULES, json=body("r7", agent_id="B")), 201)
    draft = await ok(op.post(RULES, json=body("r8", status="draft")), 201)
    assert draft["status"] == "draft"
    # activating the draft (a new active version) is checked like a create
    act = await ok(op.post(f"{RULES}/r8/versions", json=body("r8")), 409)
    assert act["detail"]["code"] == "rule_overlap"
    assert await lookup(world, "A", "per_order", "p1", "traffic_card", t0) == [("r1", 1)]
    assert await lookup(world, "A", "per_order", "p1", "traffic_card", t1) == [("r2", 1)]


@pytest.mark.req("H-06")
async def test_versions_are_not_retroactive(world: Market) -> None:
    op = world.people["operator"]
    t0 = now()
    await ok(op.post(RULES, json=body("v", effective_from=at(t0))), 201)
    t1 = t0 + timedelta(days=3)
    v2 = await ok(op.post(f"{RULES}/v/versions", json=body(
        "v", amount={"mode": "percent", "value": 500}, effective_from=at(t1)),
        headers={"Idempotency-Key": "k1"}), 201)
    assert (v2["version"], v2["amount"]) == (2, {"mode": "percent", "value": 500})
    again = await ok(op.post(f"{RULES}/v/versions", json=body(
        "v", amount={"mode": "percent", "value": 500}, effective_from=at(t1)),
        headers={"Idempotency-Key": "k1"}), 201)
    assert again == v2
    versions = await ok(op.get(f"{RULES}/v"))
    assert [(v["version"], v["amount"]["value"], v["effective_to"]) for v in versions] == [
        (1, 500, versions[1]["effective_from"]), (2, 500, None)]
    before = t1 - timedelta(seconds=1)
    assert await lookup(world, "A", "per_order", "p1", "traffic_card", before) == [("v", 1)]
    assert await lookup(world, "A", "per_order", "p1", "traffic_card", t1) == [("v", 2)]
    past = await ok(op.post(f"{RULES}/v/versions", json=body(
        "v", effective_from=at(t0 - timedelta(days=1)))), 422)
    assert refusal(past)[0] == "rule_version_in_past"
    changed = await ok(op.post(f"{RULES}/v/versions", json=body("v", "one_time")), 422)
    assert refusal(changed)[0] == "rule_identity_changed"


@pytest.mark.req("H-14", "H-16")
async def test_traffic_one_time_may_not_exceed_the_recharge(world: Market) -> None:
    op = world.people["operator"]
    over = await ok(op.post(RULES, json=body(
        "o1", "one_time", amount={"mode": "fixed", "value": 10001})), 422)
    assert refusal(over) == ("one_time_exceeds_recharge", "一次性佣金不能大于充值金额",
                             "A one-time commission must not exceed the recharge amount")
    assert over["detail"][0]["loc"] == ["body", "amount", "value"]
    line = await ok(op.post(RULES, json=body(
        "o2", "one_time", business_line="traffic_card",
        amount={"mode": "fixed", "value": 20000})), 422)
    assert refusal(line)[0] == "one_time_exceeds_recharge"
    await ok(op.post(RULES, json=body("o3", "one_time",
                                      amount={"mode": "fixed", "value": 10000})), 201)
    await ok(op.post(RULES, json=body("o4", "one_time", package_ids=["n1"],
                                      amount={"mode": "fixed", "value": 20000})), 201)
    percent = await ok(op.post(RULES, json=body(
        "o5", "one_time", package_ids=["p2"], amount={"mode": "percent", "value": 10000})), 201)
    assert percent["amount"] == {"mode": "percent", "value": 10000}
    combined = await ok(op.post(RULES, json=body(
        "o6", "combined", gate={"gate": "count", "n": 10},
        one_time={"amount": {"mode": "fixed", "value": 20000},
                  "recharge": {"mode": "first", "threshold_fen": 10000}})), 422)
    assert refusal(combined)[0] == "one_time_exceeds_recharge"


@pytest.mark.req("H-25", "H-28")
async def test_tier_tables_are_checked(world: Market) -> None:
    op = world.people["operator"]
    for rows in ([], [{"threshold": 5, "value": 100}],
                 [{"threshold": 0, "value": 100}, {"threshold": 0, "value": 200}],
                 [{"threshold": 0, "value": 100}, {"threshold": 9, "value": 200},
                  {"threshold": 3, "value": 300}]):
        bad = await ok(op.post(RULES, json=body(
            "t1", tiers={"metric": "activation_count", "rows": rows})), 422)
        assert refusal(bad) == ("invalid_tiers", "阶梯门槛须从0开始并严格递增",
                                "Tier thresholds must start at 0 and strictly increase")
    deposit = await ok(op.post(RULES, json=body(
        "t2", tiers={"metric": "deposit", "rows": [{"threshold": 0, "value": 1}]})), 422)
    assert refusal(deposit) == ("tier_metric_unsupported", "暂不支持该阶梯条件",
                                "This tier condition is not supported yet")
    percent = await ok(op.post(RULES, json=body(
        "t3", amount={"mode": "percent", "value": 500},
        tiers={"metric": "pickup_volume", "rows": [{"threshold": 0, "value": 500},
                                                   {"threshold": 10, "value": 10001}]})), 422)
    assert refusal(percent)[0] == "invalid_tiers"
    made = await ok(op.post(RULES, json=body(
        "t4", tiers={"metric": "pickup_volume", "rows": [{"threshold": 0, "value": 500},
                                                         {"threshold": 100, "value": 800}]})),
        201)
    assert made["tiers"] == {"metric": "pickup_volume", "rows": [[0, 500], [100, 800]]}


@pytest.mark.req("H-01", "H-42")
async def test_retire_and_only_the_owner_has_rules(world: Market) -> None:
    op = world.people["operator"]
    t0 = now()
    await ok(op.post(RULES, json=body("own", business_line="traffic_card",
                                      effective_from=at(t0))), 201)
    assert await lookup(world, "A", "per_order", "p2", "traffic_card", t0) == [("own", 1)]
    assert await lookup(world, "A1", "per_order", "p2", "traffic_card", t0) == []  # H-42
    assert await lookup(world, "A", "per_order", "n1", "number_card", t0) == []
    gone = await ok(op.post(f"{RULES}/own/retire"))
    assert [v["status"] for v in gone] == ["retired"]
    assert await lookup(world, "A", "per_order", "p2", "traffic_card", t0) == [("own", 1)]
    assert await lookup(world, "A", "per_order", "p2", "traffic_card",
                        now() + timedelta(seconds=1)) == []
    assert await ok(op.post(f"{RULES}/own/retire")) == gone
    late = await ok(op.post(f"{RULES}/own/versions", json=body(
        "own", business_line="traffic_card")), 409)
    assert late["detail"]["code"] == "rule_retired"
    await ok(op.post(RULES, json=body("own2", business_line="traffic_card")), 201)


@pytest.mark.req("H-06")
async def test_who_may_configure_and_read(world: Market) -> None:
    op, finance = world.people["operator"], world.people["finance"]
    a, viewer, b = world.people["a.admin"], world.people["a.viewer"], world.people["b.admin"]
    await ok(world.admin.post(RULES, json=body("ra")), 201)
    await ok(op.post(RULES, json=body("rb", agent_id="B")), 201)
    for who in (finance, a, b):
        await ok(who.post(RULES, json=body("nope")), 403)
        await ok(who.post(f"{RULES}/ra/retire"), 403)
    assert {r["rule_id"] for r in await ok(finance.get(RULES))} == {"ra", "rb"}
    for own in (a, viewer):
        assert [r["rule_id"] for r in await ok(own.get(RULES))] == ["ra"]
        assert [r["rule_id"] for r in await ok(own.get(RULES, params={"agent_id": "B"}))] == []
        await ok(own.get(f"{RULES}/ra"))
        await ok(own.get(f"{RULES}/rb"), 404)
    assert [r["rule_id"] for r in await ok(op.get(RULES, params={
        "agent_id": "B", "kind": "per_order", "status": "active"}))] == ["rb"]
    await ok(op.get(f"{RULES}/none"), 404)
