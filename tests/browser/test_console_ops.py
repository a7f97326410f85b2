"""The settings and ops pages in Chromium: the platform administrator replays a dead letter
(usage for a card registered after it arrived) and it is counted; an enterprise administrator
makes an API key and a user, each secret shown once; every page passes axe's serious checks."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Dialog, Page, expect

from core.clock import now
from tests.support.api import setup_tenant, signed_body
from tests.support.browser import Console, log_in, serious_violations, shoot
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.req("CONSOLE")]
SECRET = "browser-push-secret-0123"
LATE = "89860000000000009999"


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()


async def _unknown_card_usage(console: Console) -> int:
    """Usage pushed for a card nobody registered: the worker keeps it as a dead letter, then
    the card is registered. Returns the letter's id."""
    end = (now() - timedelta(hours=1)).isoformat()
    start = (now() - timedelta(hours=2)).isoformat()
    async with console.api() as client:
        await setup_tenant(client)
        await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET})
        raw, headers = signed_body({"records": [{"record_id": "late-1", "iccid": LATE,
                                                 "bytes": 700, "start": start, "end": end}]},
                                   SECRET)
        pushed = await client.post("/v1/upstream/onelink/usage", content=raw, headers=headers)
        assert pushed.status_code == 202, pushed.text

        async def kept() -> list[dict[str, Any]] | None:
            found = (await client.get("/v1/dead-letters?reason=unknown_card")).json()
            return found or None

        [letter] = await eventually_async(kept, timeout=60, what="the dead letter")
        made = await client.post("/v1/cards", json={"iccid": LATE, "enterprise_id": "acme",
                                                    "operator": "onelink"})
        assert made.status_code == 201, made.text
    return int(letter["id"])


async def test_ops_replays_a_dead_letter(page: Page, console: Console,
                                         worker: WorkerProcess) -> None:
    letter = await _unknown_card_usage(console)
    await log_in(page, "root", await console.user("root", "admin", None))
    await expect(page).to_have_url("/console/ops/enterprises?changed=password")
    await expect(page.locator("main a[href='/console/e/acme']")).to_be_visible()
    assert await serious_violations(page) == []
    await shoot(page, "enterprises")
    await page.goto("/console/ops/dead-letters")
    row = page.locator(f"tr[data-letter='{letter}']")
    await expect(row).to_contain_text("late-1")
    assert await serious_violations(page) == []
    await shoot(page, "dead-letters")
    await row.locator("input[name=ids]").check()
    page.once("dialog", _accept)
    await page.locator("#replay-form > .actions button[type=submit]").click()
    await expect(page.get_by_role("status")).to_contain_text("1")
    await expect(row.locator(".badge.ok")).to_be_visible()
    await expect(row.locator("input[name=ids]")).to_have_count(0)
    async with console.api() as client:
        async def counted() -> int | None:
            view = (await client.get(f"/v1/cards/{LATE}")).json()
            return 1 if view["cycle_usage_bytes"] == 700 else None

        await eventually_async(counted, timeout=60, what="the replayed usage counted")
    await page.goto("/console/ops/health")
    await expect(page.locator("[data-process=api] .badge.ok")).to_be_visible()
    assert await serious_violations(page) == []
    await shoot(page, "health")


async def test_an_enterprise_admin_makes_a_key_and_a_user_each_shown_once(
        page: Page, console: Console) -> None:
    async with console.api() as client:
        await setup_tenant(client)
    await log_in(page, "li.wei", await console.user("li.wei", "enterprise_admin"))
    await page.goto("/console/e/acme/keys")
    await page.select_option("#key-role", "enterprise_viewer")
    await page.locator("main form button[type=submit]").click()
    shown = page.get_by_test_id("shown-once")
    await expect(shown).to_have_text(re.compile(r"^cpk_[0-9a-f]{12}_"))
    key = (await shown.inner_text()).strip()
    assert await serious_violations(page) == []
    await shoot(page, "keys")
    async with console.api() as client:
        answer = await client.get("/v1/enterprises/acme/alerts",
                                  headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
    await page.reload()
    await expect(page.get_by_test_id("shown-once")).to_have_count(0)
    assert key not in await page.content()
    await page.goto("/console/e/acme/users")
    await page.fill("#new-login", "wang.fang")
    await page.select_option("#new-role", "enterprise_viewer")
    await page.locator("main form button[type=submit]").click()
    await expect(page.get_by_test_id("shown-once")).to_have_text(
        re.compile(r"^[A-Za-z0-9]{16}$"))
    await expect(page.locator("main table")).to_contain_text("wang.fang")
    assert await serious_violations(page) == []
    await shoot(page, "users")
