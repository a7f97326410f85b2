"""Logging in, the one-time password, switching language and the lock-out, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.support.api import setup_tenant
from tests.support.browser import Console, log_in, serious_violations, shoot

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.req("CONSOLE")]


async def test_a_new_user_logs_in_changes_the_password_and_sees_the_overview(
        page: Page, console: Console) -> None:
    async with console.api() as client:
        await setup_tenant(client)
    password = await console.user("li.wei", "enterprise_admin")
    await page.goto("/console")
    await expect(page).to_have_url("/console/login?next=/console")
    await expect(page.locator("h1")).to_have_text("登录 CardPulse")
    assert await serious_violations(page) == []
    await shoot(page, "login")
    await log_in(page, "li.wei", password)
    await expect(page).to_have_url("/console/e/acme?changed=password")
    await expect(page.locator("h1")).to_contain_text("概览")
    await expect(page.get_by_role("status")).to_have_text("密码已修改。")
    assert await serious_violations(page) == []
    await shoot(page, "overview")


async def test_switching_language_changes_the_page(page: Page, console: Console) -> None:
    async with console.api() as client:
        await setup_tenant(client)
    await log_in(page, "li.wei", await console.user("li.wei", "enterprise_viewer"))
    await page.goto("/console/e/acme")
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("h1")).to_contain_text("Overview")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.get_by_role("link", name="中文").click()
    await expect(page.locator("h1")).to_contain_text("概览")


async def test_five_wrong_passwords_lock_the_login(page: Page, console: Console) -> None:
    async with console.api() as client:
        await setup_tenant(client)
    password = await console.user("li.wei", "enterprise_admin")
    for _ in range(5):
        await page.goto("/console/login")
        await page.fill("#login", "li.wei")
        await page.fill("#password", "not the password")
        await page.click("button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("登录失败次数过多")
    await page.fill("#login", "li.wei")
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("分钟后重试")
    await expect(page).to_have_url(re.compile(r"/console/login"))
