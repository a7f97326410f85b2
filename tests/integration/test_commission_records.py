"""Commission records and approvals through the API (§5.7): lists filtered and paged, an
agent's people see their own agent's records only (404 otherwise), totals by state, kind,
agent and batch (H-40, H-34), the price differences of an agent's statement (H-09), every
line's explanation and history (H-39), and finance deciding approvals singly or in a batch
(SM-H-APPROVAL), with Idempotency-Key (C-05). Records are produced through the lifecycle
(`store.commissions`), the evaluation's own path to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.money import Fen
from core.settings import Settings
from domain.ledger import REVENUE, FeeType, Transfer, agent_available, agent_commission_frozen
from store import commission_series, commissions, ledger
from store.commissions import Record
from tests.support.commissions import commission_market, new, produce, unfreeze
from tests.support.ledger import balances, connect
from tests.support.pricing import Market, ok

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 2026-03 in Shanghai
DUE = T0 + timedelta(days=7)
EXPLAINED = {
    "base": {"source": "cost_price", "amount_fen": 5999, "ref": "O-1"},
    "amount": {"mode": "percent", "value": 500},
    "tier": {"metric": "pickup_volume", "metric_value": 120, "threshold": 100, "value": 500},
    "conditions": [{"name": "real_name", "met_at": "2026-03-09T10:00:00+08:00",
                    "event_id": "ev-rn-1", "detail": "real_name_verified"}],
    "cap": {"recharge_fen": 10000}}


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[tuple[Market, dict[str, Record]]]:
    """A: a per-order line available at once, two one-time lines frozen (one on card X; one in
    April, of a rule without approval), two number-card lines of batch S1; B: one frozen
    one-time line."""
    async with commission_market(settings, T0) as made:
        records = await produce(
            settings,
            new("po:1", T0, state="available", part="per_order", amount=500),
            new("ot:X", T0 + timedelta(hours=1), amount=300, iccid="X",
                explanation=EXPLAINED),
            new("ot:Y", T0 + timedelta(days=31), rule="rA2", amount=200, iccid="Y"),
            new("nc:S1:1", T0 + timedelta(hours=2), rule="rN", part="number_card",
                amount=4000, batch_id="S1", line_no=1),
            new("nc:S1:2", T0 + timedelta(hours=3), rule="rN", part="number_card",
                amount=1000, batch_id="S1", line_no=2),
            new("ot:B", T0 + timedelta(hours=4), rule="rB", amount=700, iccid="Z"))
        yield made, {r.idem_key: r for r in records}


async def _all_pages(client: Any, limit: int, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await ok(client.get("/v1/commissions", params={
            **params, "limit": limit, **({"cursor": cursor} if cursor else {})}))
        ids += [r["record_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


@pytest.mark.req("H-40")
async def test_records_are_listed_filtered_and_paged_newest_first(
        world: tuple[Market, dict[str, Record]]) -> None:
    made, rec = world
    finance = made.people["finance"]
    everything = await _all_pages(finance, 2)
    newest_first = sorted(rec.values(), key=lambda r: (r.produced_at, r.record_id),
                          reverse=True)
    assert everything == [r.record_id for r in newest_first]

    async def ids(**params: Any) -> set[str]:
        return set(await _all_pages(finance, 100, **params))

    def keys(*names: str) -> set[str]:
        return {rec[n].record_id for n in names}

    assert await ids(agent_id="A") == keys("po:1", "ot:X", "ot:Y", "nc:S1:1", "nc:S1:2")
    assert await ids(state="available") == keys("po:1")
    assert await ids(kind="number_card") == keys("nc:S1:1", "nc:S1:2")
    assert await ids(kind="number_card_settlement") == keys("nc:S1:1", "nc:S1:2")
    assert await ids(iccid="X") == keys("ot:X")
    assert await ids(batch_id="S1", agent_id="A") == keys("nc:S1:1", "nc:S1:2")
    assert await ids(month="2026-04") == keys("ot:Y")
    assert await ids(month="2026-03", agent_id="B") == keys("ot:B")
    first = (await ok(finance.get("/v1/commissions", params={"limit": 1})))["items"][0]
    assert datetime.fromisoformat(first["unfreeze_due_at"]) == T0 + timedelta(days=38)
    await ok(finance.get("/v1/commissions", params={"cursor": "nonsense!"}), 422)
    await ok(finance.get("/v1/commissions", params={"month": "2026-13"}), 422)


@pytest.mark.req("H-40", "X-03")
async def test_an_agent_reads_its_own_records_only(
        world: tuple[Market, dict[str, Record]]) -> None:
    made, rec = world
    for name in ("a.admin", "a.viewer"):
        mine = await _all_pages(made.people[name], 100)
        assert len(mine) == 5 and rec["ot:B"].record_id not in mine
        await ok(made.people[name].get("/v1/commissions", params={"agent_id": "B"}), 404)
        await ok(made.people[name].get(f"/v1/commissions/{rec['ot:B'].record_id}"), 404)
        await ok(made.people[name].get(f"/v1/commissions/{rec['ot:X'].record_id}"))
    assert await _all_pages(made.people["b.admin"], 100) == [rec["ot:B"].record_id]
    await ok(made.people["buyer"].get("/v1/commissions"), 403)
    await ok(made.people["a.admin"].get("/v1/commission-approvals"), 403)
    await ok(made.people["operator"].get(f"/v1/commissions/{rec['ot:B'].record_id}"))


def _states(totals: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    return {t["state"]: (t["records"], t["amount_fen"]) for t in totals if t["records"]}


@pytest.mark.req("H-40", "H-34")
async def test_totals_by_state_kind_agent_and_batch(
        settings: Settings, world: tuple[Market, dict[str, Record]]) -> None:
    made, rec = world
    async with connect(settings.require_database()) as conn:
        await commissions.transition(conn, [rec["nc:S1:2"].record_id], "invalidate", "system",
                                     commissions.SYSTEM, T0, settings.orders_topic,
                                     reason="三无")
    platform = await ok(made.people["finance"].get("/v1/commissions/summary",
                                                   params={"month": "2026-03"}))
    assert len(platform["by_state"]) == 7
    assert _states(platform["by_state"]) == {"available": (1, 500), "frozen": (3, 5000),
                                             "invalid": (1, 1000)}
    assert {a["agent_id"]: a["amount_fen"] for a in platform["by_agent"]} == {
        "A": 5800, "B": 700}
    [batch] = platform["by_batch"]
    assert (batch["batch_id"], batch["records"], batch["agent_commission_fen"],
            batch["returned_fen"]) == ("S1", 2, 4000, 1000)
    mine = await ok(made.people["a.viewer"].get("/v1/commissions/summary",
                                                params={"month": "2026-03"}))
    assert mine["agent_id"] == "A" and mine["by_agent"] == [] and mine["by_batch"] == []
    kinds = {k["kind"]: (k["records"], k["amount_fen"]) for k in mine["by_kind"]}
    assert kinds == {"per_order": (1, 500), "one_time": (1, 300), "number_card": (2, 5000),
                     "price_difference": (0, 0)}
    april = await ok(made.people["a.admin"].get("/v1/commissions/summary",
                                                params={"month": "2026-04"}))
    assert _states(april["by_state"]) == {"frozen": (1, 200)}


@pytest.mark.req("H-40")
async def test_the_dashboard_counts_states_pending_approvals_and_reversals(
        settings: Settings, world: tuple[Market, dict[str, Record]]) -> None:
    _, rec = world
    await unfreeze(settings, DUE + timedelta(days=1))
    async with connect(settings.require_database()) as conn:
        await commissions.transition(conn, [rec["nc:S1:2"].record_id], "invalidate", "system",
                                     commissions.SYSTEM, T0, settings.orders_topic)
        states = {r[0]: (r[1], r[2]) for r in await (await conn.execute(
            commission_series.BY_STATE)).fetchall()}
        assert states == {"available": (1, Decimal("5.00")), "frozen": (2, Decimal("42.00")),
                          "invalid": (1, Decimal("10.00")),
                          "unfreezing": (2, Decimal("10.00"))}
        pending = await (await conn.execute(commission_series.APPROVALS_PENDING)).fetchone()
        assert pending is not None and pending[0] == 2
        window = {"start": "cp_now() - interval '1 day'", "end": "cp_now() + interval '1 day'"}
        daily = await (await conn.execute(
            commission_series.REVERSALS_DAILY.format(**window).encode())).fetchall()
        assert [(r[1], r[2]) for r in daily] == [("returned", Decimal("10.00"))]


@pytest.mark.req("H-09")
async def test_price_differences_are_listed_as_their_own_kind_never_frozen(
        settings: Settings, world: tuple[Market, dict[str, Record]]) -> None:
    made, _ = world
    async with connect(settings.require_database()) as conn:
        for n, amount in ((1, 3000), (2, 1000)):
            await ledger.transfer(conn, Transfer(f"pd-{n}", REVENUE, agent_available("A"),
                                                 Fen(amount), FeeType.PRICE_DIFFERENCE))
        await ledger.reverse(conn, "pd-2", "pd-2:refund", fee_type=FeeType.REFUND)
    lines = await ok(made.people["a.admin"].get("/v1/commissions/price-differences"))
    assert [(x["kind"], x["transfer_id"], x["amount_fen"], x["state"]) for x in lines] == [
        ("price_difference", "pd-2", 1000, "reversed"),
        ("price_difference", "pd-1", 3000, "available")]
    await ok(made.people["b.admin"].get("/v1/commissions/price-differences",
                                        params={"agent_id": "A"}), 404)
    assert await ok(made.people["b.admin"].get("/v1/commissions/price-differences")) == []
    await ok(made.people["finance"].get("/v1/commissions/price-differences"), 422)
    summary = await ok(made.people["a.admin"].get("/v1/commissions/summary"))
    [diff] = [k for k in summary["by_kind"] if k["kind"] == "price_difference"]
    assert (diff["records"], diff["amount_fen"]) == (2, 3000)


@pytest.mark.req("H-39", "C-03", "C-08")
async def test_a_record_explains_its_amount_and_its_history(
        settings: Settings, world: tuple[Market, dict[str, Record]]) -> None:
    made, rec = world
    record = rec["ot:X"]
    await unfreeze(settings, DUE + timedelta(days=1))
    approval = commissions.approval_id_of(record.record_id)
    await ok(made.people["finance"].post(f"/v1/commission-approvals/{approval}/approve"))
    got = await ok(made.people["a.viewer"].get(f"/v1/commissions/{record.record_id}"))
    x = got["explanation"]
    assert (x["rule_id"], x["rule_version"], x["kind"], got["state"]) == (
        "rA", 1, "per_order", "available")
    assert x["base"] == {"source": "cost_price", "amount_fen": 5999, "ref": "O-1"}
    assert x["amount"] == {"mode": "percent", "value": 500}
    assert x["tier"]["metric_value"] == 120 and x["cap"] == 10000
    assert x["conditions"][0]["event_id"] == "ev-rn-1"
    assert x["formula"] == "5999 × 500 bp = 299.95 → 300 (half-up)"
    assert "5%" in x["sentence_en"] and "ev-rn-1" in x["sentence_en"]
    assert "成本价快照" in x["sentence_zh"] and "300 分" in x["sentence_zh"]
    assert [(h["subject"], h["from_state"], h["to_state"], h["role"]) for h in got["history"]] == [
        ("commission", None, "frozen", "system"),
        ("commission", "frozen", "unfreezing", "system"),
        ("commission_approval", None, "pending", "system"),
        ("commission_approval", "pending", "approved", "platform_finance"),
        ("commission", "unfreezing", "available", "platform_finance")]
    due = record.produced_at + timedelta(days=7)
    assert datetime.fromisoformat(got["history"][1]["at"]) == due  # the due instant (C-09)
    bare = await ok(made.people["finance"].get(f"/v1/commissions/{rec['ot:Y'].record_id}"))
    assert bare["explanation"]["base"] is None and bare["explanation"]["formula"] is None
    assert bare["explanation"]["conditions"] == [] and bare["explanation"]["sentence_zh"]
    await ok(made.people["finance"].get("/v1/commissions/cm-nope"), 404)


async def _pending(settings: Settings, world: tuple[Market, dict[str, Record]]) -> list[str]:
    await unfreeze(settings, DUE + timedelta(days=40))
    queue = await ok(world[0].people["finance"].get("/v1/commission-approvals",
                                                    params={"state": "pending"}))
    return [a["approval_id"] for a in queue]


@pytest.mark.req("SM-H-APPROVAL", "H-13")
async def test_finance_approves_and_a_decided_approval_is_closed(
        settings: Settings, world: tuple[Market, dict[str, Record]]) -> None:
    made, rec = world
    pending = await _pending(settings, world)
    ot_x, ot_b = (commissions.approval_id_of(rec[k].record_id) for k in ("ot:X", "ot:B"))
    assert pending == [ot_x, ot_b]  # oldest first; ot:Y's rule needs none: available
    queue = await ok(made.people["operator"].get("/v1/commission-approvals"))
    assert (queue[0]["agent_id"], queue[0]["amount_fen"], queue[0]["iccid"]) == ("A", 300, "X")
    for name in ("operator", "a.admin"):
        await ok(made.people[name].post(f"/v1/commission-approvals/{ot_x}/approve"), 403)
    await ok(made.admin.post(f"/v1/commission-approvals/{ot_x}/approve"), 403)  # §7.2: "—"
    done = await ok(made.people["finance"].post(f"/v1/commission-approvals/{ot_x}/approve"))
    assert (done["state"], done["decided_by"]) == ("approved", "user:finance")
    async with connect(settings.require_database()) as conn:
        assert await balances(conn, agent_commission_frozen("A"), agent_available("A")) == {
            agent_commission_frozen("A"): 5000, agent_available("A"): 1000}
    again = await ok(made.people["finance"].post(f"/v1/commission-approvals/{ot_x}/approve"),
                     409)
    assert again["detail"] == {"code": "approval_closed", "message_zh": "审批已关闭",
                               "message_en": "The approval is already closed"}
    await ok(made.people["finance"].post("/v1/commission-approvals/ap-nope/approve"), 404)
    after = await ok(made.people["finance"].get("/v1/commission-approvals"))
    assert [a["state"] for a in after] == ["pending", "approved"]  # pending first


@pytest.mark.req("SM-H-APPROVAL", "C-06")
async def test_rejection_needs_a_reason_and_returns_the_money(
        settings: Settings, world: tuple[Market, dict[str, Record]]) -> None:
    made, rec = world
    await _pending(settings, world)
    ot_b = commissions.approval_id_of(rec["ot:B"].record_id)
    finance = made.people["finance"]
    for body in ({}, {"reason": "   "}):
        refused = await ok(finance.post(f"/v1/commission-approvals/{ot_b}/reject", json=body),
                           422)
        [item] = refused["detail"]
        assert (item["code"], item["message_zh"], item["loc"]) == (
            "reason_required", "请填写驳回原因", ["body", "reason"])
    done = await ok(finance.post(f"/v1/commission-approvals/{ot_b}/reject",
                                 json={"reason": "三无卡"}))
    assert (done["state"], done["reason"]) == ("rejected", "三无卡")
    got = await ok(made.people["b.admin"].get(f"/v1/commissions/{rec['ot:B'].record_id}"))
    assert (got["state"], got["reason"]) == ("rejected", "三无卡")
    async with connect(settings.require_database()) as conn:
        assert await balances(conn, agent_commission_frozen("B")) == {
            agent_commission_frozen("B"): 0}


@pytest.mark.req("SM-H-APPROVAL", "C-05")
async def test_a_batch_is_all_or_none_and_a_key_answers_the_first_result(
        settings: Settings, world: tuple[Market, dict[str, Record]]) -> None:
    made, rec = world
    ot_x, ot_b = await _pending(settings, world)
    finance = made.people["finance"]
    await ok(finance.post(f"/v1/commission-approvals/{ot_b}/reject", json={"reason": "x"}))
    mixed = await ok(finance.post("/v1/commission-approvals/batch", json={
        "approval_ids": [ot_x, ot_b], "decision": "approve"}), 409)
    assert mixed["detail"]["code"] == "approval_closed"
    got = await ok(finance.get(f"/v1/commissions/{rec['ot:X'].record_id}"))
    assert got["state"] == "unfreezing"  # none of the batch was decided
    await ok(finance.post("/v1/commission-approvals/batch", json={
        "approval_ids": [ot_x], "decision": "reject"}), 422)
    key = {"Idempotency-Key": "decide-1"}
    body = {"approval_ids": [ot_x], "decision": "approve"}
    first = await ok(finance.post("/v1/commission-approvals/batch", json=body, headers=key))
    repeat = await ok(finance.post("/v1/commission-approvals/batch", json=body, headers=key))
    assert first == repeat and first[0]["state"] == "approved"
    other = await ok(finance.post("/v1/commission-approvals/batch", json={
        "approval_ids": [ot_x], "decision": "reject", "reason": "no"}, headers=key), 409)
    assert other["detail"]["code"] == "idempotency_conflict"
    single = {"Idempotency-Key": "decide-2"}
    await ok(finance.post(f"/v1/commission-approvals/{ot_x}/approve", headers=single), 409)
