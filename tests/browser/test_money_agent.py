"""The agent's money pages in Chromium: an agent's admin logs in, sets a retail price above
twice its cost and sees the refusal at the field in the spec's words (G1-10), sets a valid one,
places a Flow-2 order for a customer's card (G2-03) and sees its wallet's statement debited
(G2-25); axe finds no serious violation on any of the pages. Screenshots `agent-prices`,
`agent-order`, `agent-wallet`."""

from __future__ import annotations

import psycopg
import pytest
from playwright.async_api import Page, expect

from core.money import Fen
from core.settings import Settings
from domain.ledger import PAYMENT_CHANNEL, FeeType, Transfer, agent_available
from store import ledger
from tests.support.browser import Console, log_in, serious_violations, shoot

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.req("CONSOLE")]
CARD = "89860012345678909876"


async def agent_with_a_cost_price(console: Console, settings: Settings) -> str:
    """Agent A with a cost price of 60.00 for p90 (purchase 50.00) and 100.00 prestored in its
    wallet; returns its admin's one-time password."""
    async with console.api() as client:
        for path, body in (("/v1/agents", {"agent_id": "A", "name": "Agent A"}),
                           ("/v1/packages", {"package_id": "p90", "name": "1 GB",
                                             "business_line": "traffic_card",
                                             "purchase_price_fen": 5000,
                                             "package_bytes": 1 << 30}),
                           ("/v1/prices", {"kind": "cost", "package_id": "p90",
                                           "agent_id": "A", "amount_fen": 6000}),
                           ("/v1/users", {"login": "a.admin", "role": "agent_admin",
                                          "agent_id": "A", "enterprise_id": None})):
            made = await client.post(path, json=body)
            assert made.status_code == 201, made.text
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        await ledger.transfer(conn, Transfer("prestore-A", PAYMENT_CHANNEL, agent_available("A"),
                                             Fen(10000), FeeType.RECHARGE))
    password: str = made.json()["one_time_password"]
    return password


async def no_serious_violation(page: Page) -> None:
    assert await serious_violations(page) == [], page.url


async def test_an_agent_prices_orders_for_a_customer_and_sees_the_statement(
        page: Page, console: Console, settings: Settings) -> None:
    await log_in(page, "a.admin", await agent_with_a_cost_price(console, settings))
    await page.goto("/console/a/A/prices")
    await expect(page.locator("h1")).to_contain_text("价格表")
    await no_serious_violation(page)
    form = page.locator("form[action='/console/a/A/prices/retail']")
    await form.locator("select[name=package_id]").select_option("p90")
    await form.locator("input[name=amount]").fill("130")
    await form.locator("button[type=submit]").click()
    await expect(page.get_by_test_id("problem-amount")).to_have_text(
        "代理的销售价格不能大于成本价的两倍")
    await no_serious_violation(page)
    form = page.locator("form[action='/console/a/A/prices/retail']")
    await form.locator("select[name=package_id]").select_option("p90")
    await form.locator("input[name=amount]").fill("90")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("p.notice")).to_have_text("价格已保存。")
    await expect(page.get_by_test_id("retail")).to_contain_text("90.00 元")
    await shoot(page, "agent-prices")

    await page.goto("/console/a/A/orders")
    await no_serious_violation(page)
    form = page.locator("form[method=post][action='/console/a/A/orders']")
    await form.locator("select[name=package_id]").select_option("p90")
    await form.locator("input[name=iccid]").fill(CARD)
    await form.locator("button[type=submit]").click()
    await expect(page.locator("p.notice")).to_have_text("订单已提交。")
    await expect(page.get_by_test_id("moves")).to_contain_text("60.00 元")
    await no_serious_violation(page)
    await shoot(page, "agent-order")

    await page.goto("/console/a/A/wallet")
    await expect(page.get_by_test_id("statement")).to_contain_text("-60.00 元")
    await expect(page.get_by_test_id("closing")).to_have_text("40.00 元")
    await expect(page.get_by_test_id("available")).to_have_text("40.00 元")
    await no_serious_violation(page)
    await shoot(page, "agent-wallet")
    await page.goto("/console/a/A/withdrawals")
    await no_serious_violation(page)
