"""The console's pool pages over HTTP: the list and one pool for an administrator and a
viewer, the forms only for the administrator, a forged or token-less change refused, another
tenant's pages not found, the fields' problems in the viewer's language, and a change of the
limits that the API sees."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from domain.usage.records import UsageRecord
from store.usage import OperatorRecords, write_usage
from tests.support.api import ADMIN, setup_tenant
from tests.support.dates import SHANGHAI, mid_cycle, move_clock
from tests.support.people import person

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
GiB, MiB = 1 << 30, 1 << 20
ICCID = "89860000000000000951"
PAGE = "/console/e/acme/pools/fleet"


async def tenant_with_pool(client: httpx.AsyncClient) -> None:
    await setup_tenant(client)
    made = await client.post("/v1/pools", headers=ADMIN, json={
        "pool_id": "fleet", "enterprise_id": "acme", "limit_bytes": 10 * GiB,
        "per_card_limit_bytes": 512 * MiB})
    assert made.status_code == 201, made.text
    card = await client.post("/v1/cards", headers=ADMIN, json={
        "iccid": ICCID, "enterprise_id": "acme", "operator": "onelink", "pool_id": "fleet"})
    assert card.status_code == 201, card.text


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def form(csrf: dict[str, str], **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf["X-CSRF-Token"], **fields}


async def pool(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/v1/pools/fleet", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_an_administrator_sees_the_pools_and_changes_the_limits(
        client: httpx.AsyncClient) -> None:
    await tenant_with_pool(client)
    csrf = await person(client, "li.wei", "enterprise_admin")
    listed = await client.get("/console/e/acme/pools")
    assert listed.status_code == 200 and "流量池" in listed.text
    assert 'href="/console/e/acme/pools/fleet"' in listed.text and "10.00 GB" in listed.text
    assert 'action="/console/e/acme/pools"' in listed.text  # the create form
    page = await client.get(PAGE)
    assert page.status_code == 200 and "data-echarts" in page.text
    assert f'href="/console/e/acme/cards/{ICCID}"' in page.text
    assert 'href="/console/e/acme/cards?pool=fleet"' in page.text
    assert f'action="{PAGE}"' in page.text and 'value="10"' in page.text
    changed = await client.post(PAGE, data=form(csrf, limit_number="1.5", limit_unit="GB",
                                                cap_number="", cap_unit="MB"))
    assert changed.status_code == 303 and changed.headers["location"] == f"{PAGE}?changed=1"
    after = await pool(client)
    assert (after["limit_bytes"], after["per_card_limit_bytes"]) == (3 * GiB // 2, None)
    shown = await client.get(changed.headers["location"])
    assert "流量池上限已保存" in shown.text and "1.50 GB" in shown.text


async def test_an_unchanged_form_changes_nothing_and_a_cap_is_set_in_mb(
        client: httpx.AsyncClient) -> None:
    await tenant_with_pool(client)
    csrf = await person(client, "li.wei", "enterprise_admin")
    same = await client.post(PAGE, data=form(csrf, limit_number="10", limit_unit="GB",
                                             cap_number="512", cap_unit="MB"))
    assert same.status_code == 303
    assert (await pool(client))["per_card_limit_bytes"] == 512 * MiB
    capped = await client.post(PAGE, data=form(csrf, limit_number="10", limit_unit="GB",
                                               cap_number="300", cap_unit="MB"))
    assert capped.status_code == 303
    assert (await pool(client))["per_card_limit_bytes"] == 300 * MiB


async def test_problems_are_shown_next_to_their_fields(client: httpx.AsyncClient) -> None:
    await tenant_with_pool(client)
    csrf = await person(client, "li.wei", "enterprise_admin")
    bad = await client.post(PAGE, data=form(csrf, limit_number="-1", limit_unit="GB",
                                            cap_number="lots", cap_unit="MB"))
    assert bad.status_code == 422
    assert "数量不能为负数" in bad.text and "请输入数字" in bad.text
    assert 'id="limit-problem"' in bad.text and 'id="cap-problem"' in bad.text
    assert 'value="-1"' in bad.text  # what was typed stays in the form
    assert (await pool(client))["limit_bytes"] == 10 * GiB
    client.cookies.set("cardpulse_lang", "en")
    english = await client.post(PAGE, data=form(csrf, limit_number="", limit_unit="GB"))
    assert english.status_code == 422 and "Enter an amount." in english.text
    huge = await client.post(PAGE, data=form(csrf, limit_number="1e30", limit_unit="GB"))
    assert huge.status_code == 422 and "The amount is too large." in huge.text


async def test_creating_a_pool_with_the_form(client: httpx.AsyncClient) -> None:
    await tenant_with_pool(client)
    csrf = await person(client, "li.wei", "enterprise_admin")
    made = await client.post("/console/e/acme/pools", data=form(
        csrf, pool_id="trucks", limit_number="500", limit_unit="MB", cap_number="",
        cap_unit="MB"))
    assert made.status_code == 303
    assert made.headers["location"] == "/console/e/acme/pools/trucks?created=1"
    answer = (await client.get("/v1/pools/trucks", headers=ADMIN)).json()
    assert (answer["limit_bytes"], answer["per_card_limit_bytes"]) == (500 * MiB, None)
    taken = await client.post("/console/e/acme/pools", data=form(
        csrf, pool_id="trucks", limit_number="1", limit_unit="GB"))
    assert taken.status_code == 422 and "该流量池编号已被使用" in taken.text
    bad = await client.post("/console/e/acme/pools", data=form(
        csrf, pool_id="no spaces", limit_number="x", limit_unit="GB"))
    assert bad.status_code == 422 and 'id="pool_id-problem"' in bad.text
    assert 'id="limit-problem"' in bad.text
    long = await client.post("/console/e/acme/pools", data=form(
        csrf, pool_id="x" * 65, limit_number="1", limit_unit="GB"))
    assert long.status_code == 422 and "流量池编号由 1 到 64 个" in long.text


@pytest.mark.parametrize(("login", "role", "tenant"), [
    ("wang.fang", "enterprise_viewer", "acme"), ("zhao.ops", "platform_ops", None)])
async def test_a_viewer_sees_no_forms_and_may_not_change(
        client: httpx.AsyncClient, login: str, role: str, tenant: str | None) -> None:
    await tenant_with_pool(client)
    csrf = await person(client, login, role, tenant)
    for path in ("/console/e/acme/pools", PAGE):
        page = await client.get(path)
        assert page.status_code == 200 and 'method="post" action="/console/e' not in page.text
    forged = await client.post(PAGE, data=form(csrf, limit_number="1", limit_unit="GB"))
    assert forged.status_code == 403
    created = await client.post("/console/e/acme/pools", data=form(
        csrf, pool_id="mine", limit_number="1", limit_unit="GB"))
    assert created.status_code == 403
    assert (await pool(client))["limit_bytes"] == 10 * GiB


async def test_a_change_without_the_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await tenant_with_pool(client)
    await person(client, "li.wei", "enterprise_admin")
    refused = await client.post(PAGE, data={"limit_number": "1", "limit_unit": "GB"})
    assert refused.status_code == 403
    wrong = await client.post(PAGE, data={"csrf_token": "guess", "limit_number": "1",
                                          "limit_unit": "GB"})
    assert wrong.status_code == 403
    assert (await pool(client))["limit_bytes"] == 10 * GiB


async def test_another_tenants_pools_are_not_found(client: httpx.AsyncClient) -> None:
    await tenant_with_pool(client)
    await setup_tenant(client, "other")
    made = await client.post("/v1/pools", headers=ADMIN, json={
        "pool_id": "theirs", "enterprise_id": "other", "limit_bytes": GiB})
    assert made.status_code == 201
    csrf = await person(client, "li.wei", "enterprise_admin")
    for path in ("/console/e/other/pools", "/console/e/other/pools/theirs",
                 "/console/e/acme/pools/theirs", "/console/e/other/pools.csv"):
        assert (await client.get(path)).status_code == 404, path
    forged = await client.post("/console/e/other/pools/theirs", data=form(
        csrf, limit_number="1", limit_unit="GB"))
    assert forged.status_code == 404
    via_own = await client.post("/console/e/acme/pools/theirs", data=form(
        csrf, limit_number="1", limit_unit="GB"))
    assert via_own.status_code == 404
    assert (await client.get("/v1/pools/theirs", headers=ADMIN)).json()["limit_bytes"] == GiB


async def test_the_pools_export(client: httpx.AsyncClient) -> None:
    await tenant_with_pool(client)
    await person(client, "wang.fang", "enterprise_viewer")
    answer = await client.get("/console/e/acme/pools.csv")
    assert answer.status_code == 200 and answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][0] == "流量池" and rows[1][:3] == ["fleet", "0", str(10 * GiB)]
    xlsx = await client.get("/console/e/acme/pools.xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert (await client.get("/console/e/acme/pools.pdf")).status_code == 422


async def test_the_forecast_in_words_in_the_tenants_time_zone(
        client: httpx.AsyncClient, db_url: str) -> None:
    await tenant_with_pool(client)
    moved = await move_clock(client, mid_cycle())
    now = moved.now()
    records = [UsageRecord(f"r{h}", ICCID, GiB // 4, ms(now - timedelta(hours=h)) - 60_000,
                           ms(now - timedelta(hours=h))) for h in range(1, 17)]  # 4 GiB
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await write_usage(conn, [OperatorRecords("onelink", ms(now), records)])
    await person(client, "wang.fang", "enterprise_viewer")
    client.cookies.set("cardpulse_lang", "en")
    page = await client.get(PAGE)
    forecast = (await client.get("/v1/pools/fleet/forecast", headers=ADMIN)).json()
    exhausts_at = datetime.fromisoformat(forecast["exhausts_at"]).astimezone(SHANGHAI)
    # 4 GiB in 24 hours: 170.67 MB an hour; 6 GiB left, 36 hours from now.
    assert forecast["rate_bytes_per_hour"] == GiB / 6
    assert ("At the current rate of 170.67 MB/h, the pool runs dry around "
            f"{exhausts_at:%Y-%m-%d %H:%M}.") in page.text
    client.cookies.set("cardpulse_lang", "zh-CN")
    chinese = await client.get(PAGE)
    assert f"流量池预计在 {exhausts_at:%Y-%m-%d %H:%M} 左右耗尽" in chinese.text
