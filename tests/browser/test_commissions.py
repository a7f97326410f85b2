"""The commission pages in Chromium: an agent's viewer sees two frozen commissions and the
explanation of one (why this amount); once their freeze is over, platform finance ticks both
and approves them in one batch (a rejection without a reason is refused at the field first),
and the agent sees them available; axe finds no serious violation on any of the pages."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from playwright.async_api import Page, expect

from core.clock import now
from core.settings import Settings
from domain.orders.report import month_of
from store import commissions
from store.commissions import NewRecord, Record
from tests.support.browser import PASSWORD, Console, log_in, serious_violations, shoot
from tests.support.pricing import agent, ok, package

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.req("CONSOLE")]
EXPLAINED = {"base": {"source": "cost_price", "amount_fen": 6000, "ref": "O-1"},
             "amount": {"mode": "percent", "value": 500},
             "conditions": [{"name": "real_name", "met_at": "2026-03-09T10:00:00+08:00",
                             "event_id": "ev-rn-1", "detail": "real_name_verified"}]}


async def _market(console: Console, settings: Settings) -> list[Record]:
    """Agent A, a one-time rule needing approval, two frozen lines of it (3.00 and 2.00 元)."""
    async with console.api() as admin:
        await agent(admin, "A")
        await package(admin, "p90", 5000)
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids,"
            " amount_mode, amount_value, freeze_days, requires_approval, terms,"
            " effective_from, status, created_by) VALUES ('rA', 1, 'A', 'one_time', '{p90}',"
            " 'percent', 500, 7, true, %s, cp_now() - interval '30 days', 'active',"
            " 'admin')", ('{"recharge": {"mode": "first", "threshold_fen": 5000}}',))
        at = now()
        return await commissions.produce(conn, [NewRecord(
            idem_key=f"one_time:rA:{iccid}", part="one_time", rule_kind="one_time",
            rule_id="rA", rule_version=1, agent_id="A", amount_fen=amount, state="frozen",
            freeze_days=7, requires_approval=True, explanation=EXPLAINED, at=at, timed=True,
            iccid=iccid) for iccid, amount in (("89860000000000000001", 300),
                                               ("89860000000000000002", 200))],
            settings.orders_topic)


async def _agent_viewer(console: Console) -> str:
    async with console.api() as admin:
        made = await ok(admin.post("/v1/users", json={"login": "a.viewer",
                                                      "role": "agent_viewer",
                                                      "agent_id": "A"}), 201)
    return str(made["one_time_password"])


@pytest.mark.req("H-39", "H-40", "SM-H-APPROVAL")
async def test_finance_approves_two_frozen_commissions_and_the_agent_sees_them_available(
        page: Page, console: Console, settings: Settings) -> None:
    lines = await _market(console, settings)
    month = month_of(lines[0].produced_at)
    mine = f"/console/a/A/commissions?month={month}"
    await log_in(page, "a.viewer", await _agent_viewer(console))
    await page.goto(mine)
    for line in lines:
        await expect(page.locator(f"[data-testid=state-{line.record_id}]")).to_have_text("冻结")
    await expect(page.locator("[data-testid=total-frozen]")).to_have_text("5.00 元")
    assert await serious_violations(page) == []
    await shoot(page, "commissions-agent")
    await page.get_by_role("link", name=lines[0].record_id).click()
    await expect(page.locator("[data-testid=formula]")).to_contain_text("6000")
    await expect(page.locator("[data-testid=conditions]")).to_contain_text("ev-rn-1")
    await expect(page.locator("[data-testid=line-state]")).to_have_text("冻结")
    assert await serious_violations(page) == []
    await shoot(page, "commission-explanation")

    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        started = await commissions.unfreeze_due(conn, now() + timedelta(days=8),
                                                 settings.orders_topic)
    assert started == 2
    await page.context.clear_cookies()
    await log_in(page, "fin", await console.user("fin", "platform_finance", None))
    await page.goto("/console/ops/money/commission-approvals")
    await expect(page.locator("[data-testid=approval-queue] tbody tr")).to_have_count(2)
    assert await serious_violations(page) == []
    await shoot(page, "commission-approvals")
    for line in lines:
        await page.locator(f"[data-testid=pick-{line.record_id}]").check()
    await page.locator("[data-testid=reject-chosen]").click()
    await expect(page.locator("[data-testid=problem-reason]")).to_have_text("请填写驳回原因")
    await expect(page.locator("#f-reason")).to_have_attribute("aria-invalid", "true")
    assert await serious_violations(page) == []
    for line in lines:  # still ticked after the refusal
        await expect(page.locator(f"[data-testid=pick-{line.record_id}]")).to_be_checked()
    await page.locator("[data-testid=approve-chosen]").click()
    await expect(page.get_by_role("status")).to_contain_text("已通过 2 笔解冻")
    await expect(page.locator("[data-testid=approval-queue]")).to_have_count(0)
    for line in lines:
        await expect(page.locator(f"[data-testid=decision-{line.record_id}]")
                     ).to_have_text("已审核")

    await page.context.clear_cookies()
    await log_in(page, "a.viewer", PASSWORD, first=False)
    await page.goto(mine)
    for line in lines:
        await expect(page.locator(f"[data-testid=state-{line.record_id}]")
                     ).to_have_text("已发放/已解冻")
    await expect(page.locator("[data-testid=total-available]")).to_have_text("5.00 元")
    assert await serious_violations(page) == []


@pytest.mark.req("H-06", "X-05")
async def test_the_rule_editor_and_the_import_page_pass_axe(page: Page, console: Console,
                                                            settings: Settings) -> None:
    """The platform operator creates a rule, sees a refusal at its field, and opens the
    import page; axe finds no serious violation."""
    await _market(console, settings)
    await log_in(page, "oper", await console.user("oper", "platform_operator", None))
    await page.goto("/console/ops/money/commission-rules")
    await expect(page.locator("[data-testid=rule-editor]")).to_be_visible()
    assert await serious_violations(page) == []
    await page.fill("#f-rule_id", "A-rebate")
    await page.fill("#f-agent_id", "A")
    await page.select_option("#f-kind", "long_term")
    await page.fill("#f-package_ids", "p90")
    await page.fill("#f-amount_value", "300")
    await page.select_option("#f-tiers_metric", "deposit")
    await page.fill("#f-tiers_rows", "0:300")
    await page.locator("[data-testid=save-rule]").click()
    await expect(page.locator("[data-testid=problem-tiers_metric]")).to_have_text(
        "暂不支持该阶梯条件")
    assert await serious_violations(page) == []
    await page.select_option("#f-tiers_metric", "pickup_volume")
    await page.locator("[data-testid=save-rule]").click()
    await expect(page.get_by_role("status")).to_contain_text("规则 A-rebate 版本 1 已保存")
    await expect(page.locator("tr[data-rule=A-rebate]")).to_be_visible()
    await shoot(page, "commission-rules")
    await page.goto("/console/ops/money/imports")
    await expect(page.locator("[data-testid=upload-real_name]")).to_be_visible()
    assert await serious_violations(page) == []
    await shoot(page, "commission-imports")
