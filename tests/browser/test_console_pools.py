"""The pool pages in Chromium: an enterprise administrator sees the pools and a pool with this
cycle's use (pushed, signed, counted by the worker), sets its limit in the form and sees the
notice and the new limit; a viewer sees no form. Screenshots `pools` and `pool`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Page, expect

from domain.usage.cycles import cycle_bounds
from tests.support.api import setup_tenant, signed_body
from tests.support.browser import Console, log_in, serious_violations, shoot
from tests.support.dates import wait_out_month_end
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.req("CONSOLE")]
GiB, MiB = 1 << 30, 1 << 20
SECRET = "pool-pages-push-secret-0123"
CARDS = ["89860000000000000971", "89860000000000000972", "89860000000000000973"]


async def pool_with_cards(client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    made = await client.post("/v1/pools", json={"pool_id": "fleet", "enterprise_id": "acme",
                                                "limit_bytes": 2 * GiB})
    assert made.status_code == 201, made.text
    for iccid in CARDS:
        card = await client.post("/v1/cards", json={"iccid": iccid, "enterprise_id": "acme",
                                                    "operator": "onelink", "pool_id": "fleet"})
        assert card.status_code == 201, card.text


def records_of_recent_hours() -> list[dict[str, object]]:
    """A record per card for each of the last (up to) 12 hours of this cycle, dated by this
    machine's clock (the console process's platform clock is not moved)."""
    now = datetime.now(UTC)
    start, _end = cycle_bounds(now, "Asia/Shanghai")
    hours = min(12, int((now - start) / timedelta(hours=1)))
    out: list[dict[str, object]] = []
    for hour in range(hours + 1):
        end = max(now - timedelta(hours=hour, seconds=30), start + timedelta(seconds=1))
        for n, iccid in enumerate(CARDS):
            out.append({"record_id": f"r-{hour}-{n}", "iccid": iccid,
                        "bytes": (20 + 7 * n + 3 * (hour % 4)) * MiB,
                        "start": (end - timedelta(minutes=5)).isoformat(),
                        "end": end.isoformat()})
    return out


async def push_usage(client: httpx.AsyncClient) -> int:
    """Push this cycle's usage and wait until the worker has counted it; returns the bytes."""
    secret = await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET})
    assert secret.status_code == 204, secret.text
    records = records_of_recent_hours()
    raw, headers = signed_body({"records": records}, SECRET)
    pushed = await client.post("/v1/upstream/onelink/usage", content=raw, headers=headers)
    assert pushed.status_code == 202, pushed.text
    total = sum(int(str(r["bytes"])) for r in records)

    async def counted() -> bool:
        used: int = (await client.get("/v1/pools/fleet")).json()["used_bytes"]
        return used == total

    await eventually_async(counted, timeout=60, what="the pool's use counted")
    return total


async def test_an_administrator_sets_a_pool_limit(page: Page, console: Console,
                                                  worker: WorkerProcess) -> None:
    wait_out_month_end(900)  # the pushed hours and the pages read one cycle
    async with console.api() as client:
        await pool_with_cards(client)
        await push_usage(client)
    await log_in(page, "li.wei", await console.user("li.wei", "enterprise_admin"))
    await page.goto("/console/e/acme/pools")
    await expect(page.locator("h1")).to_contain_text("流量池")
    await expect(page.get_by_test_id("pools").get_by_role("link", name="fleet")).to_be_visible()
    assert await serious_violations(page) == []
    await shoot(page, "pools")
    await page.get_by_test_id("pools").get_by_role("link", name="fleet").click()
    await expect(page.locator("h1")).to_contain_text("流量池 fleet")
    await expect(page.get_by_test_id("forecast")).to_contain_text("流量池")
    await expect(page.locator("[data-echarts] canvas")).to_have_count(1)
    assert await serious_violations(page) == []
    await shoot(page, "pool")
    await page.fill("#limit-number", "-1")
    await page.get_by_role("button", name="保存").click()
    await expect(page.locator("#limit-problem")).to_have_text("数量不能为负数。")
    await expect(page.locator("#limit-number")).to_have_attribute("aria-invalid", "true")
    assert await serious_violations(page) == []
    await page.fill("#limit-number", "3")
    await page.select_option("#limit-unit", "GB")
    await page.get_by_role("button", name="保存").click()
    await expect(page.get_by_role("status")).to_have_text("流量池上限已保存。")
    await expect(page.get_by_test_id("limit")).to_have_text("3.00 GB")
    async with console.api() as client:
        assert (await client.get("/v1/pools/fleet")).json()["limit_bytes"] == 3 * GiB


async def test_a_viewer_sees_no_change_form(page: Page, console: Console) -> None:
    async with console.api() as client:
        await pool_with_cards(client)
    await log_in(page, "wang.fang", await console.user("wang.fang", "enterprise_viewer"))
    await page.goto("/console/e/acme/pools")
    await expect(page.get_by_test_id("pools")).to_be_visible()
    await expect(page.locator("main form")).to_have_count(0)
    await page.goto("/console/e/acme/pools/fleet")
    await expect(page.get_by_test_id("limit")).to_have_text("2.00 GB")
    await expect(page.locator("main form")).to_have_count(0)
    await expect(page.get_by_role("button", name="保存")).to_have_count(0)
    assert await serious_violations(page) == []
