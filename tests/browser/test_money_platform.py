"""The platform's money pages in Chromium: platform finance approves one withdrawal and
rejects another (a rejection without a reason is refused at the field), and the month's money
report shows the figures of a completed Flow-2 order; axe finds no serious violation."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from playwright.async_api import Page, expect

from core.money import Fen
from core.settings import Settings
from domain.ledger import PAYMENT_CHANNEL, FeeType, Transfer, agent_available
from store import ledger
from tests.support.browser import Console, log_in, serious_violations, shoot
from tests.support.people import NEW_PASSWORD
from tests.support.pricing import agent, ok, package, set_price

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.req("CONSOLE")]


async def _agent_admin(console: Console, client: httpx.AsyncClient) -> dict[str, str]:
    """A's admin, logged in: the CSRF header of its session (cookies kept by `client`)."""
    async with console.api() as admin:
        made = await ok(admin.post("/v1/users", json={"login": "a.admin", "role": "agent_admin",
                                                      "agent_id": "A"}), 201)
    signed = await ok(client.post("/v1/session", json={
        "login": "a.admin", "password": made["one_time_password"]}))
    csrf = {"X-CSRF-Token": signed["csrf_token"]}
    changed = await client.put("/v1/session/password", headers=csrf, json={
        "current_password": made["one_time_password"], "new_password": NEW_PASSWORD})
    assert changed.status_code == 204, changed.text
    return csrf


async def _market(console: Console, settings: Settings) -> tuple[str, str]:
    """Agent A with 200 元 in its wallet (as a recharge would credit it), one completed
    Flow-2 order of p90 (cost 60 元), two withdrawals asked. Returns their ids."""
    async with console.api() as admin:
        await agent(admin, "A")
        await package(admin, "p90", 5000)
        await set_price(admin, "cost", "p90", "A", 6000)
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        await ledger.transfer(conn, Transfer("seed:A", PAYMENT_CHANNEL, agent_available("A"),
                                             Fen(20000), FeeType.RECHARGE))
    async with httpx.AsyncClient(base_url=console.base, timeout=30) as own:
        own.headers.update(await _agent_admin(console, own))
        await set_price(own, "retail", "p90", "A", 9000)
        made: dict[str, Any] = await ok(own.post("/v1/orders", json={
            "package_id": "p90", "iccid": "89860012345678901234", "method": "agent_wallet"}),
            201)
        asked = [await ok(own.post("/v1/withdrawals", json={
            "amount_fen": amount, "account": "6222 0000 1111"}), 201) for amount in (3000, 500)]
    async with console.api() as admin:
        await ok(admin.post(f"/v1/orders/{made['order_id']}/complete"))
    return str(asked[0]["order_id"]), str(asked[1]["order_id"])


async def test_finance_decides_withdrawals_and_reads_the_money_report(
        page: Page, console: Console, settings: Settings) -> None:
    first, second = await _market(console, settings)
    await log_in(page, "fin", await console.user("fin", "platform_finance", None))
    await page.goto("/console/ops/money/withdrawals")
    await expect(page.locator(f"[data-testid=approve-{first}]")).to_be_visible()
    assert await serious_violations(page) == []
    await shoot(page, "money-withdrawals")
    await page.locator(f"[data-testid=approve-{first}]").click()
    await expect(page.get_by_role("status")).to_contain_text(first)
    await expect(page.locator(f"[data-testid=state-{first}]")).to_have_text("已审核")
    await page.locator(f"[data-testid=reject-{second}]").click()
    problem = page.locator(f"#problem-{second}")
    await expect(problem).to_have_text("请填写驳回原因。")
    await expect(page.locator(f"#reason-{second}")).to_have_attribute("aria-invalid", "true")
    assert await serious_violations(page) == []
    await page.fill(f"#reason-{second}", "账户信息有误")
    await page.locator(f"[data-testid=reject-{second}]").click()
    await expect(page.locator(f"[data-testid=state-{second}]")).to_have_text("已驳回")
    await expect(page.locator("[data-testid=withdrawal-queue]")).to_have_count(0)
    await page.goto("/console/ops/money/report")
    row = page.locator("tr[data-package=p90][data-flow=flow_2]")
    await expect(row).to_contain_text("流程2")
    await expect(row).to_contain_text("60.00 元")
    await expect(page.locator("tr[data-total=all]")).to_contain_text("10.00 元")  # margin
    await expect(page.locator(".chart canvas").first).to_be_visible()
    assert await serious_violations(page) == []
    await shoot(page, "money-report")


async def test_the_operators_money_pages_pass_axe(page: Page, console: Console,
                                                  settings: Settings) -> None:
    """Packages, agents (with a cost price refused at its field), orders and an order's detail
    with its refund form, as the platform operator sees them."""
    await _market(console, settings)
    async with console.api() as admin:
        await agent(admin, "A1", "A")
        [done] = await ok(admin.get("/v1/orders", params={"kind": "package"}))
    await log_in(page, "oper", await console.user("oper", "platform_operator", None))
    for path, shown in (("/console/ops/money/packages", "[data-testid=packages]"),
                        ("/console/ops/money/agents", "tr[data-agent=A1][data-depth='2']"),
                        ("/console/ops/money/orders", "[data-testid=orders]"),
                        (f"/console/ops/money/orders/{done['order_id']}", "#refund-reason")):
        await page.goto(path)
        await expect(page.locator(shown)).to_be_visible()
        assert await serious_violations(page) == [], path
    await page.goto("/console/ops/money/agents")
    await page.fill("#cost-A", "49.99")
    await page.locator("tr[data-agent=A] form[action$='/cost'] button").click()
    await expect(page.locator("#cost-A-problem")).to_have_text("成本价不能低于进货价")
    assert await serious_violations(page) == []
    await shoot(page, "money-agents")
