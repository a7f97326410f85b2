"""The delivery project centre in Chromium: a provider's admin finds the timed-out project
(the exclamation mark names the side), opens it, attaches a file, writes a message and a note;
the steps show where the project waits; axe finds no serious violation on either page."""

from __future__ import annotations

import re

import psycopg
import pytest
from playwright.async_api import FilePayload, Page, expect

from core.passwords import hash_password
from core.settings import Settings
from tests.support.browser import PASSWORD, Console, log_in, serious_violations, shoot
from tests.support.delivery_views import seed

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.req("CONSOLE")]


@pytest.mark.req("I-38", "I-39", "I-46", "I-47", "I-48", "I-49")
async def test_a_provider_admin_works_on_a_timed_out_project(
        page: Page, console: Console, settings: Settings) -> None:
    url = settings.require_database()
    await seed(url)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("UPDATE users SET password_hash = %s WHERE login = 'prov.admin'",
                           (hash_password(PASSWORD),))
    await log_in(page, "prov.admin", PASSWORD, first=False)
    await page.goto("/console/delivery/projects")
    mark = page.locator("[data-testid=timeout-P-RUN]")
    await expect(mark).to_have_attribute("data-tooltip",
                                         re.compile("^服务端超时 · 方案确认 · 截止 "))
    await expect(page.locator("tr[data-project=P-CUST]")).to_contain_text(
        "进入提交需求 等待客户处理")
    assert await serious_violations(page) == []
    await shoot(page, "delivery-projects")

    await page.locator("tr[data-project=P-RUN]").get_by_role("link", name="详情").click()
    await expect(page.locator("[data-step=n2]")).to_contain_text("进入方案确认 等待服务商处理")
    await expect(page.locator("[data-step=n3]")).to_contain_text("未开始")
    await page.set_input_files("input[name=file]", files=FilePayload(
        name="方案.pdf", mimeType="application/pdf", buffer=b"%PDF-1.4 test"))
    await page.get_by_test_id("upload").click()
    await expect(page.get_by_test_id("files")).to_contain_text("方案.pdf")
    await page.fill("#messages textarea", "方案已上传，请查看")
    await page.get_by_test_id("send-message").click()
    await expect(page.locator("#messages")).to_contain_text("方案已上传，请查看")
    await page.fill("#notes textarea", "客户要求加急")
    await page.get_by_test_id("add-note").click()
    await expect(page.locator("#notes")).to_contain_text("客户要求加急")
    assert await serious_violations(page) == []
    await shoot(page, "delivery-project")


VENDOR_PAGES = ("/console/delivery/templates", "/console/delivery/products",
                "/console/delivery/dashboard", "/console/delivery/queue",
                "/console/delivery/mine", "/console/delivery/users", "/console/delivery/loads",
                "/console/delivery/holidays?year=2026", "/console/delivery/roles",
                "/console/delivery/message-templates", "/console/delivery/inbox",
                "/console/delivery/purchased")


@pytest.mark.req("I-25", "I-55", "I-61", "X-02", "X-04")
async def test_a_vendor_admin_opens_every_delivery_page(
        page: Page, console: Console, settings: Settings) -> None:
    """The vendor admin (also its tenant's provider admin, I-02) reaches each page of its
    X-02 menus from the navigation, and axe finds no serious violation on any of them."""
    url = settings.require_database()
    await seed(url)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("UPDATE users SET password_hash = %s WHERE login = 'vend.admin'",
                           (hash_password(PASSWORD),))
    await log_in(page, "vend.admin", PASSWORD, first=False)
    for path in VENDOR_PAGES:
        answer = await page.goto(path)
        assert answer is not None and answer.status == 200, path
        menu = page.locator(f"aside nav a[href='{path.split('?')[0]}']")
        await expect(menu).to_have_attribute("aria-current", "page")
        assert await serious_violations(page) == [], path
    # 站内信: the reminders also go by email to the address the person gives
    await page.goto("/console/delivery/inbox")
    await page.locator("details summary").click()
    await page.fill("#inbox-email", "vend.admin@studio.example")
    await page.get_by_test_id("email-form").locator("button[type=submit]").click()
    await expect(page.get_by_test_id("notice")).to_contain_text("vend.admin@studio.example")
    await expect(page.locator("details summary")).to_contain_text("vend.admin@studio.example")
    assert await serious_violations(page) == []
