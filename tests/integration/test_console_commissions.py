"""The console's commission pages over HTTP (§5 H, §7.2 "H commission"): an agent's people
read their own agent's commissions by state and kind with a month picker, each line's
explanation and history, and its monthly activation report (another agent's: 404); every
platform role reads every agent's; only platform finance approves or rejects unfreezes, in a
batch or singly, a rejection needing its reason (请填写驳回原因 at the field); exports."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from psycopg.types.json import Jsonb

from api.console.exports import XLSX_TYPE
from core.money import Fen
from core.settings import Settings
from domain.imports.kinds import SettlementHeader, SettlementLine
from domain.ledger import agent_available, agent_commission_frozen
from store import commissions, imports, settlements
from store.agents import Actor
from store.commissions import Record
from store.db import Conn
from store.imports import Applied, ImportTask
from tests.support.commissions import commission_market, new, produce, unfreeze
from tests.support.imports import xlsx
from tests.support.ledger import balances, connect
from tests.support.pricing import Market, package

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
T0 = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 2026-03 in Shanghai
MONTH = "2026-03"
MONEY = "/console/ops/money"
EXPLAINED = {
    "base": {"source": "cost_price", "amount_fen": 6000, "ref": "O-1"},
    "amount": {"mode": "percent", "value": 500},
    "conditions": [{"name": "real_name", "met_at": "2026-03-09T10:00:00+08:00",
                    "event_id": "ev-rn-1", "detail": "real_name_verified"}]}
World = tuple[Market, dict[str, Record]]


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    """A: a per-order line available, two one-time lines frozen (X explained); B: one frozen.
    Each person reads the pages in English; the platform's administrator and ops too."""
    async with commission_market(settings, T0) as made:
        await made.person("root", "admin")
        await made.person("ops", "platform_ops")
        for package_id in ("p90", "p50"):
            await package(made.admin, package_id)
        records = await produce(
            settings,
            new("po:1", T0, state="available", part="per_order", amount=500),
            new("ot:X", T0 + timedelta(hours=1), amount=300, iccid="X",
                explanation=EXPLAINED),
            new("ot:W", T0 + timedelta(hours=2), amount=200, iccid="W"),
            new("ot:B", T0 + timedelta(hours=4), rule="rB", amount=700, iccid="Z"))
        async with connect(settings.require_database()) as conn:  # as the rule store writes
            await conn.execute("UPDATE commission_rules SET terms = %s WHERE kind = 'one_time'",
                               (Jsonb({"recharge": {"mode": "first", "threshold_fen": 5000}}),))
        for client in made.people.values():
            client.cookies.set("cardpulse_lang", "en")
        yield made, {r.idem_key: r for r in records}


async def _unfreeze_all(settings: Settings) -> None:
    """The H-13 timer runs past the 7-day freeze: the lines needing approval start it."""
    await unfreeze(settings, T0 + timedelta(days=8))


def _approval_ids(*records: Record) -> list[str]:
    return [commissions.approval_id_of(r.record_id) for r in records]


async def _balances(settings: Settings, *accounts: str) -> dict[str, int]:
    async with connect(settings.require_database()) as conn:
        return await balances(conn, *accounts)


def _text(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text[page.text.find("<main"):][:1500]
    return page.text


async def _decide(client: httpx.AsyncClient, ids: list[str], decision: str,
                  reason: str = "") -> httpx.Response:
    return await client.post(f"{MONEY}/commission-approvals/decide", data={
        "approval_ids": ids, "decision": decision, "reason": reason})


@pytest.mark.req("H-40")
async def test_an_agent_sees_its_commissions_by_state_and_kind_for_a_month(world: World
                                                                           ) -> None:
    made, rec = world
    for who in ("a.admin", "a.viewer"):
        page = _text(await made.people[who].get(
            "/console/a/A/commissions", params={"month": MONTH}))
        assert rec["ot:X"].record_id in page and rec["po:1"].record_id in page
        assert rec["ot:B"].record_id not in page  # B's line
        assert 'data-testid="total-frozen">5.00 元' in page  # 3.00 + 2.00
        assert 'data-testid="total-available">5.00 元' in page
        assert "One-time commission" in page and "Per-order commission" in page
    filtered = _text(await made.people["a.viewer"].get(
        "/console/a/A/commissions", params={"month": MONTH, "state": "available"}))
    assert rec["po:1"].record_id in filtered and rec["ot:X"].record_id not in filtered
    april = _text(await made.people["a.viewer"].get(
        "/console/a/A/commissions", params={"month": "2026-04"}))
    assert rec["ot:X"].record_id not in april
    chinese = made.people["a.admin"]
    chinese.cookies.set("cardpulse_lang", "zh-CN")
    assert "冻结" in _text(await chinese.get("/console/a/A/commissions",
                                           params={"month": MONTH}))


@pytest.mark.req("H-39")
async def test_a_line_says_why_its_amount_with_rule_base_formula_conditions_and_history(
        world: World) -> None:
    made, rec = world
    line = rec["ot:X"]
    page = _text(await made.people["a.viewer"].get(f"/console/a/A/commissions/"
                                                   f"{line.record_id}"))
    assert "rA" in page and "version 1" in page
    assert "60.00 元" in page and "cost_price" in page and "5.00 %" in page
    assert "ev-rn-1" in page and "real_name" in page
    assert 'data-testid="history"' in page  # produced frozen: who and when
    platform = _text(await made.people["finance"].get(f"{MONEY}/commissions/"
                                                      f"{line.record_id}"))
    assert "ev-rn-1" in platform


async def test_another_agents_pages_and_lines_are_not_found(world: World) -> None:
    made, rec = world
    b_line = rec["ot:B"].record_id
    for path in ("/console/a/B/commissions", f"/console/a/B/commissions/{b_line}",
                 "/console/a/B/activations", "/console/a/B/commissions.csv"):
        assert (await made.people["a.admin"].get(path)).status_code == 404, path
    # B's line under A's own pages: still not found
    got = await made.people["a.admin"].get(f"/console/a/A/commissions/{b_line}")
    assert got.status_code == 404
    # end users and agents have no platform page
    for who in ("buyer", "a.admin"):
        for path in (f"{MONEY}/commissions", f"{MONEY}/commission-approvals"):
            assert (await made.people[who].get(path)).status_code == 404, (who, path)


@pytest.mark.req("H-40")
async def test_the_platform_sees_every_agent_with_totals_per_agent(world: World) -> None:
    made, rec = world
    for who in ("root", "ops", "finance", "operator"):
        page = _text(await made.people[who].get(f"{MONEY}/commissions",
                                                 params={"month": MONTH}))
        assert 'data-testid="totals-by-agent"' in page
        assert 'data-agent="A"' in page and 'data-agent="B"' in page
        assert rec["ot:B"].record_id in page and rec["ot:X"].record_id in page
    only_b = _text(await made.people["finance"].get(
        f"{MONEY}/commissions", params={"month": MONTH, "agent_id": "B"}))
    assert rec["ot:B"].record_id in only_b and rec["ot:X"].record_id not in only_b


@pytest.mark.req("H-40")
async def test_the_lists_export_as_csv_and_xlsx(world: World) -> None:
    made, rec = world
    got = await made.people["a.viewer"].get("/console/a/A/commissions.csv",
                                            params={"month": MONTH})
    assert got.status_code == 200 and got.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Line" and len(rows) == 4
    assert {r[0] for r in rows[1:]} == {rec[k].record_id for k in ("po:1", "ot:X", "ot:W")}
    xlsx = await made.people["finance"].get(f"{MONEY}/commissions.xlsx",
                                            params={"month": MONTH})
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")


@pytest.mark.req("SM-H-APPROVAL")
async def test_finance_approves_two_in_a_batch_and_the_agent_sees_them_available(
        world: World, settings: Settings) -> None:
    made, rec = world
    await _unfreeze_all(settings)
    ids = _approval_ids(rec["ot:X"], rec["ot:W"])
    queue = _text(await made.people["finance"].get(f"{MONEY}/commission-approvals"))
    assert all(i in queue for i in ids) and 'data-testid="approve-chosen"' in queue
    before = await _balances(settings, agent_available("A"), agent_commission_frozen("A"))
    page = await _decide(made.people["finance"], ids, "approve")
    assert "2 unfreezes approved." in _text(page)
    after = await _balances(settings, agent_available("A"), agent_commission_frozen("A"))
    assert after[agent_available("A")] - before[agent_available("A")] == 500
    assert before[agent_commission_frozen("A")] - after[agent_commission_frozen("A")] == 500
    agent = _text(await made.people["a.viewer"].get(f"/console/a/A/commissions/"
                                                    f"{rec['ot:X'].record_id}"))
    assert 'data-testid="line-state">Available (unfrozen)' in agent
    assert "finance" in agent  # who approved, in the history
    again = await _decide(made.people["finance"], ids[:1], "approve")
    assert again.status_code == 409 and "The approval is already closed" in again.text


@pytest.mark.req("SM-H-APPROVAL")
async def test_a_rejection_needs_its_reason_at_the_field(world: World,
                                                         settings: Settings) -> None:
    made, rec = world
    await _unfreeze_all(settings)
    ids = _approval_ids(rec["ot:W"])
    chinese = made.people["finance"]
    chinese.cookies.set("cardpulse_lang", "zh-CN")
    refused = await _decide(chinese, ids, "reject", "  ")
    assert refused.status_code == 422
    assert 'data-testid="problem-reason">请填写驳回原因' in refused.text
    assert 'aria-invalid="true"' in refused.text
    done = await _decide(chinese, ids, "reject", "duplicate card")
    assert done.status_code == 200
    assert "duplicate card" in done.text
    line = _text(await made.people["a.viewer"].get(f"/console/a/A/commissions/"
                                                   f"{rec['ot:W'].record_id}"))
    assert 'data-testid="line-state">Rejected' in line and "duplicate card" in line


@pytest.mark.req("SM-H-APPROVAL")
async def test_only_finance_sees_and_makes_decisions(world: World,
                                                     settings: Settings) -> None:
    made, rec = world
    await _unfreeze_all(settings)
    ids = _approval_ids(rec["ot:X"])
    for who in ("root", "ops", "operator"):
        page = _text(await made.people[who].get(f"{MONEY}/commission-approvals"))
        assert ids[0] in page and 'data-testid="approve-chosen"' not in page, who
        forged = await _decide(made.people[who], ids, "approve")
        assert forged.status_code == 403, who
    for who in ("a.admin", "buyer"):
        assert (await _decide(made.people[who], ids, "approve")).status_code == 404, who
    assert (await _decide(made.people["finance"], ["nope"], "approve")).status_code == 404


@pytest.mark.req("H-30")
async def test_the_monthly_activation_report_shows_the_snapshots_and_says_cards_repeat(
        world: World, settings: Settings) -> None:
    made, _ = world
    async with connect(settings.require_database()) as conn:
        for agent_id, month, count in (("A", "2026-01", 10), ("A", "2026-02", 20),
                                       ("B", "2026-01", 3)):
            await conn.execute(
                "INSERT INTO activation_snapshots (agent_id, month, activations, taken_at)"
                " VALUES (%s, %s, %s, %s)", (agent_id, month, count, T0))
    page = _text(await made.people["a.viewer"].get("/console/a/A/activations",
                                                   params={"year": "2026"}))
    assert 'data-testid="several-months"' in page and "several months" in page
    assert ">10<" in page and ">20<" in page and ">3<" not in page
    every = _text(await made.people["finance"].get(f"{MONEY}/activations",
                                                   params={"year": "2026"}))
    assert ">3<" in every and ">20<" in every
    exported = await made.people["a.admin"].get("/console/a/A/activations.csv",
                                                params={"year": "2026"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r[1:3] for r in rows[1:]] == [["2026-01", "10"], ["2026-02", "20"]]


async def test_a_month_that_is_not_one_is_refused(world: World) -> None:
    made, _ = world
    got: Any = await made.people["a.admin"].get("/console/a/A/commissions",
                                                params={"month": "2026-13"})
    assert got.status_code == 422


async def test_an_agent_reads_its_own_rules_and_the_platform_every_agents(world: World
                                                                          ) -> None:
    made, _ = world
    own = _text(await made.people["a.viewer"].get("/console/a/A/commission-rules"))
    assert 'data-rule="rA"' in own and 'data-rule="rN"' in own
    assert 'data-rule="rB"' not in own
    assert (await made.people["a.admin"].get("/console/a/B/commission-rules")).status_code \
        == 404
    for who in ("root", "finance", "ops"):
        every = _text(await made.people[who].get(f"{MONEY}/commission-rules"))
        assert 'data-rule="rA"' in every and 'data-rule="rB"' in every, who
    only_b = _text(await made.people["finance"].get(f"{MONEY}/commission-rules",
                                                    params={"agent_id": "B"}))
    assert 'data-rule="rB"' in only_b and 'data-rule="rA"' not in only_b


async def _accept_all(conn: Conn, task: ImportTask, rows: Sequence[Any]) -> Applied:
    return Applied((), {"applied": len(rows)})


@pytest.mark.req("X-05", "H-41")
async def test_the_operator_imports_a_file_and_finance_reads_the_task_and_its_failures(
        world: World) -> None:
    made, _ = world
    imports.register("real_name", _accept_all)
    try:
        body = xlsx(["ICCID", "是否实名"], [["89860000000000000099", "是"], ["", "是"]])
        operator = made.people["operator"]
        form = _text(await operator.get(f"{MONEY}/imports"))
        assert 'data-testid="upload-real_name"' in form
        page = await operator.post(f"{MONEY}/imports/real_name", files={
            "file": ("real-name.xlsx", body, XLSX_TYPE)})
        assert "The file is imported as a task" in _text(page)
        finance = made.people["finance"]
        listed = _text(await finance.get(f"{MONEY}/imports"))
        assert "real-name.xlsx" in listed and "All failed" in listed
        assert 'data-testid="upload-real_name"' not in listed  # finance reads only
        link = listed.split('href="/console/ops/money/imports/')[1].split('"')[0]
        failures = await finance.get(f"{MONEY}/imports/{link}")
        assert failures.status_code == 200 and failures.content.startswith(b"PK")
        template = await finance.get(f"{MONEY}/imports/templates/real_name.xlsx")
        assert template.status_code == 200 and template.content.startswith(b"PK")
        forged = await finance.post(f"{MONEY}/imports/real_name", files={
            "file": ("again.xlsx", body, XLSX_TYPE)})
        assert forged.status_code == 403
    finally:
        imports.unregister("real_name")
    refused = await made.people["operator"].post(f"{MONEY}/imports/real_name", files={
        "file": ("later.xlsx", body, XLSX_TYPE)})
    assert refused.status_code == 409
    assert "This kind of import is not available yet" in refused.text


async def _save_rule(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    return await client.post(f"{MONEY}/commission-rules", data=fields)


@pytest.mark.req("H-06", "H-07", "H-28")
async def test_the_operator_creates_rules_of_each_kind_and_refusals_show_at_the_field(
        world: World) -> None:
    made, _ = world
    operator = made.people["operator"]
    editor = _text(await operator.get(f"{MONEY}/commission-rules"))
    assert 'data-testid="rule-editor"' in editor
    common = {"agent_id": "B", "package_ids": "p90", "amount_mode": "percent",
              "amount_value": "300"}
    kinds = {
        "r-po": {"kind": "per_order"},
        "r-ot": {"kind": "long_term", "recharge_mode": "cumulative",
                 "recharge_threshold_fen": "2000", "tiers_metric": "pickup_volume",
                 "tiers_rows": "0:300, 100:400"},
        "r-nc": {"kind": "number_card_settlement", "first_recharge_fen": "5000",
                 "min_tenure_days": "30", "require_not_sanwu": "yes"},
    }
    for rule_id, fields in kinds.items():
        saved = await _save_rule(operator, rule_id=rule_id, **{**common, **fields})
        assert f"Rule {rule_id} version 1 is saved." in _text(saved), saved.text[-3000:]
        assert f'data-rule="{rule_id}"' in saved.text
    combined = await _save_rule(operator, rule_id="r-cb", kind="combined", agent_id="A",
                                business_line="number_card", amount_mode="fixed",
                                amount_value="100", one_time_amount_mode="fixed",
                                one_time_amount_value="500", one_time_recharge_mode="first",
                                one_time_recharge_threshold_fen="5000", gate="count",
                                gate_n="3")
    assert "Rule r-cb version 1 is saved." in _text(combined)
    overlap = await _save_rule(operator, rule_id="r-po2", kind="per_order", **common)
    assert overlap.status_code == 409
    assert 'data-testid="problem-form"' in overlap.text
    tiers = await _save_rule(operator, rule_id="r-t", kind="long_term", **{
        **common, "package_ids": "p50", "tiers_metric": "pickup_volume",
        "tiers_rows": "10:300, 5:400"})
    assert tiers.status_code == 422 and 'data-testid="problem-tiers_rows"' in tiers.text
    deposit = await _save_rule(operator, rule_id="r-d", kind="long_term", **{
        **common, "package_ids": "p50", "tiers_metric": "deposit", "tiers_rows": "0:300"})
    assert deposit.status_code == 422 and 'data-testid="problem-tiers_metric"' in deposit.text
    exceeds = await _save_rule(operator, rule_id="r-x", kind="one_time", agent_id="B",
                               package_ids="p50", amount_mode="fixed", amount_value="9000",
                               recharge_mode="first", recharge_threshold_fen="5000")
    assert exceeds.status_code == 422 and 'data-testid="problem-amount_value"' in exceeds.text
    version = await _save_rule(operator, rule_id="r-po", new_version="yes",
                               kind="per_order", **{**common, "amount_value": "350"})
    assert "Rule r-po version 2 is saved." in _text(version)
    retired = await operator.post(f"{MONEY}/commission-rules/r-po/retire")
    assert "Rule r-po is retired." in _text(retired)
    finance = made.people["finance"]
    read = _text(await finance.get(f"{MONEY}/commission-rules"))
    assert 'data-rule="r-nc"' in read and 'data-testid="rule-editor"' not in read
    assert (await _save_rule(finance, rule_id="r-f", kind="per_order", **common)
            ).status_code == 403
    whatif = await finance.get(f"{MONEY}/commission-rules/r-nc/what-if",
                               params={"start": "2026-03-01", "end": "2026-04-01"})
    assert 'data-testid="whatif"' in _text(whatif)


@pytest.mark.req("H-34", "H-40")
async def test_the_platform_reads_settlement_batches_with_retained_profit_and_lines(
        world: World, settings: Settings) -> None:
    made, _ = world
    async with connect(settings.require_database()) as conn:
        batch = await settlements.import_batch(
            conn, SettlementHeader("F1", "2026-03", Fen(3000)),
            [SettlementLine(2, "89860000000000000777", Fen(1000)),
             SettlementLine(3, "89860000000000000778", Fen(2000))],
            actor=Actor("user:root", "admin"), at=T0, topic=settings.orders_topic)
    for who in ("finance", "ops", "operator"):
        page = _text(await made.people[who].get(f"{MONEY}/settlements"))
        assert f'data-batch="{batch.batch_id}"' in page, who
        assert f'data-testid="retained-{batch.batch_id}">30.00 元' in page  # nothing matched
    unmatched = _text(await made.people["finance"].get(
        f"{MONEY}/settlements/{batch.batch_id}", params={"status": "unmatched"}))
    assert "89860000000000000777" in unmatched and "89860000000000000778" in unmatched
    none = _text(await made.people["finance"].get(
        f"{MONEY}/settlements/{batch.batch_id}", params={"negative": "true"}))
    assert "89860000000000000777" not in none
    exported = await made.people["finance"].get(f"{MONEY}/settlements.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[1][0] == batch.batch_id and rows[1][3] == "3000"
    assert (await made.people["a.admin"].get(f"{MONEY}/settlements")).status_code == 404
