"""The cards pages in Chromium: a pool running dry stops its card and the card page says why
in words; stopping and resuming by hand through the confirmation; filtering the list."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Dialog, Page, expect

from api.console.i18n import translations
from api.console.words import REASONS
from tests.support.api import ADMIN, setup_tenant, signed_body
from tests.support.browser import Console, log_in, serious_violations, shoot
from tests.support.cards import iccids
from tests.support.dates import wait_out_month_end
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.req("CONSOLE")]
ZH = translations("zh-CN").gettext
SECRET = "browser-push-secret"  # noqa: S105 - the simulated operator's push secret
CARDS = iccids(6, "8986000000")
DRY, SPARE = CARDS[0], CARDS[1]
MB = 1 << 20


async def _fleet(client: httpx.AsyncClient) -> dict[str, str]:
    """acme with a pool `fleet` of six OneLink cards; returns its admin key's header."""
    key = await setup_tenant(client)
    made = await client.post("/v1/pools", json={"pool_id": "fleet", "enterprise_id": "acme",
                                                "limit_bytes": 1 << 40})
    assert made.status_code == 201, made.text
    imported = await client.post("/v1/cards/import", json={"enterprise_id": "acme", "cards": [
        {"iccid": i, "operator": "onelink", "pool_id": "fleet" if i in (DRY, SPARE) else None}
        for i in CARDS]})
    assert imported.status_code == 200, imported.text
    secret = await client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET})
    assert secret.status_code == 204, secret.text
    return key


async def _push(client: httpx.AsyncClient, iccid: str, size: int) -> None:
    end = datetime.now(UTC).replace(microsecond=0)
    record = {"record_id": f"b-{iccid}", "iccid": iccid, "bytes": size,
              "start": (end - timedelta(minutes=5)).isoformat(), "end": end.isoformat()}
    body, headers = signed_body({"records": [record]}, SECRET)
    answer = await client.post("/v1/upstream/onelink/usage", content=body, headers=headers)
    assert answer.status_code == 202, answer.text


async def test_a_dry_pool_stops_the_card_and_the_page_says_why(
        page: Page, console: Console, worker: WorkerProcess) -> None:
    wait_out_month_end(120)  # the records are dated by this machine's clock
    async with console.api() as client:
        key = await _fleet(client)
        limited = await client.patch("/v1/pools/fleet", json={"limit_bytes": 2 * MB},
                                     headers=key)
        assert limited.status_code == 200, limited.text
        await _push(client, DRY, 3 * MB)

        async def stopped() -> bool:
            card = (await client.get(f"/v1/cards/{DRY}", headers=ADMIN)).json()
            return "pool_exhausted" in card["stop_reasons"]

        await eventually_async(stopped, timeout=60, what="the pool's card stopped")
    await log_in(page, "li.wei", await console.user("li.wei", "enterprise_admin"))
    await page.goto(f"/console/e/acme/cards/{DRY}")
    reasons = page.get_by_test_id("reasons")
    await expect(reasons).to_contain_text(ZH(REASONS["pool_exhausted"][0]))
    await expect(reasons).to_contain_text(ZH(REASONS["pool_exhausted"][1]))
    await expect(page.locator("#card-state h2 .badge")).to_have_text(ZH("stopped"))
    await expect(page.get_by_test_id("cycle-usage")).to_have_text("3.00 MB")
    await expect(page.locator(".uplot-chart canvas")).to_have_count(1)
    await expect(page.locator(".chart canvas")).to_have_count(1)
    assert await serious_violations(page) == []
    await shoot(page, "card")


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()


async def test_stop_and_resume_by_hand_with_the_confirmation(
        page: Page, console: Console) -> None:
    async with console.api() as client:
        await _fleet(client)
    await log_in(page, "li.wei", await console.user("li.wei", "enterprise_admin"))
    await page.goto(f"/console/e/acme/cards/{SPARE}")
    state = page.locator("#card-state")
    await expect(state).to_contain_text(ZH("No stop reason: the card may use data."))
    questions: list[str] = []
    page.on("dialog", lambda d: questions.append(d.message))
    page.on("dialog", _accept)
    await page.get_by_role("button", name=ZH("Stop"), exact=True).click()
    await expect(page.get_by_test_id("reasons")).to_contain_text(ZH(REASONS["manual"][1]))
    await expect(page.get_by_role("status")).to_have_text(ZH("The card is stopped by hand."))
    assert SPARE in questions[0]
    assert await serious_violations(page) == []
    await page.get_by_role("button", name=ZH("Resume"), exact=True).click()
    await expect(state).to_contain_text(ZH("No stop reason: the card may use data."))
    await expect(page.get_by_role("status")).to_have_text(ZH("The stop by hand is lifted."))
    assert len(questions) == 2
    async with console.api() as client:
        card = (await client.get(f"/v1/cards/{SPARE}")).json()
    assert card["stop_reasons"] == [] and card["desired_status"] == "active"


async def test_filtering_the_list(page: Page, console: Console) -> None:
    async with console.api() as client:
        await _fleet(client)
        stopped = await client.post(f"/v1/cards/{CARDS[4]}/stop")
        assert stopped.status_code == 200, stopped.text
    await log_in(page, "li.wei", await console.user("li.wei", "enterprise_viewer"))
    await page.goto("/console/e/acme/cards")
    rows = page.locator("#cards-table tbody tr")
    await expect(rows).to_have_count(len(CARDS))
    assert await serious_violations(page) == []
    await shoot(page, "cards")
    await page.get_by_label(ZH("Status"), exact=True).select_option("stopped")
    await expect(rows).to_have_count(1)
    await expect(page).to_have_url(re.compile(r"status=stopped"))
    await expect(rows.first).to_contain_text(CARDS[4])
    await page.get_by_label(ZH("Status"), exact=True).select_option("")
    await page.get_by_label(ZH("Pool"), exact=True).select_option("fleet")
    await expect(rows).to_have_count(2)
    await page.get_by_label(ZH("ICCID (start) or MSISDN"), exact=True).fill(SPARE)
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(SPARE)
    await rows.first.get_by_role("link", name=SPARE).click()
    await expect(page.get_by_test_id("iccid")).to_have_text(SPARE)
    await expect(page.get_by_role("button", name=ZH("Stop"), exact=True)).to_have_count(0)
