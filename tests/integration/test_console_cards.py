"""The console's cards over HTTP: the list's filters and keyset paging, its exports, the card
page, stop and resume by hand, and who may not see or change what."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import httpx
import psycopg
import pytest
from python_calamine import CalamineWorkbook

from api.console.i18n import translations
from api.console.words import REASONS
from domain.usage.records import UsageRecord
from store.usage import OperatorRecords, write_usage
from tests.support.api import ADMIN, setup_tenant
from tests.support.cards import iccids
from tests.support.dates import mid_cycle, move_clock
from tests.support.people import NEW_PASSWORD, log_in, person

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
ZH = translations("zh-CN").gettext
LINK = re.compile(r'href="/console/e/acme/cards/(\d+)"')
ONELINK = iccids(70, "8986000000")
JASPER = iccids(40, "8986010000")
CTCC = iccids(10, "8986030000")
OTHER = iccids(1, "8986009999")[0]
HTMX = {"HX-Request": "true"}


def number(iccid: str) -> str:
    return "1440" + iccid[-9:]


async def _import(client: httpx.AsyncClient, tenant: str, operator: str, cards: list[str],
                  pool: str | None) -> None:
    answer = await client.post("/v1/cards/import", headers=ADMIN, json={
        "enterprise_id": tenant, "cards": [
            {"iccid": i, "operator": operator, "pool_id": pool, "package_bytes": 1 << 30,
             "msisdn": number(i) if operator == "onelink" else None} for i in cards]})
    assert answer.status_code == 200, answer.text


@pytest.fixture
async def fleet(client: httpx.AsyncClient) -> dict[str, str]:
    """120 cards of acme (onelink in pool `main`, jasper in the used-up pool `dry`, ctcc in
    none), three of them stopped by hand, and one card of `other`; returns the CSRF header of
    an enterprise admin of acme who is logged in."""
    await setup_tenant(client)
    await setup_tenant(client, "other")
    for pool, limit in (("main", 1 << 40), ("dry", 0)):
        made = await client.post("/v1/pools", headers=ADMIN, json={
            "pool_id": pool, "enterprise_id": "acme", "limit_bytes": limit})
        assert made.status_code == 201, made.text
    await _import(client, "acme", "onelink", ONELINK, "main")
    await _import(client, "acme", "jasper", JASPER, "dry")
    await _import(client, "acme", "ctcc", CTCC, None)
    await _import(client, "other", "ctcc", [OTHER], None)
    for iccid in (ONELINK[5], ONELINK[60], CTCC[2]):
        stopped = await client.post(f"/v1/cards/{iccid}/stop", headers=ADMIN)
        assert stopped.status_code == 200, stopped.text
    return await person(client, "li.wei", "enterprise_admin")


async def listed(client: httpx.AsyncClient, **params: str) -> tuple[list[str], str]:
    answer = await client.get("/console/e/acme/cards", params=params)
    assert answer.status_code == 200, answer.text
    return LINK.findall(answer.text), answer.text


def cursor(page: str, rel: str) -> str | None:
    found = re.search(r'href="[^"]*after=(\d*)" rel="' + rel + '"', page)
    return found.group(1) if found else None


async def test_the_list_pages_forward_and_back_in_iccid_order(
        client: httpx.AsyncClient, fleet: dict[str, str]) -> None:
    everything = sorted(ONELINK + JASPER + CTCC)
    first, page = await listed(client)
    assert first == everything[:50] and cursor(page, "prev") is None
    assert ZH("Matching cards: %(count)s") % {"count": 120} in page  # fewer than the cap
    second, page = await listed(client, after=cursor(page, "next") or "")
    assert second == everything[50:100] and cursor(page, "prev") == ""
    third, page = await listed(client, after=cursor(page, "next") or "")
    assert third == everything[100:] and cursor(page, "next") is None
    back, _ = await listed(client, after=cursor(page, "prev") or "")
    assert back == second


async def test_every_filter_and_a_combination(client: httpx.AsyncClient,
                                              fleet: dict[str, str]) -> None:
    manual = sorted([ONELINK[5], ONELINK[60], CTCC[2]])
    stopped = sorted(manual + JASPER)
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"status": "stopped"}, stopped[:50]),
        ({"status": "active"}, sorted(set(ONELINK + CTCC) - set(manual))[:50]),
        ({"reason": "manual"}, manual),
        ({"reason": "pool_exhausted"}, JASPER),
        ({"reason": "package_quota"}, []),
        ({"operator": "ctcc"}, CTCC),
        ({"pool": "dry"}, JASPER),
        ({"q": ONELINK[0][:-1]}, ONELINK[:10]),
        ({"q": number(ONELINK[7])}, [ONELINK[7]]),
        ({"operator": "onelink", "status": "stopped"}, [ONELINK[5], ONELINK[60]]),
        ({"pool": "main", "reason": "manual", "q": ONELINK[60][:-1]}, [ONELINK[60]]),
    ]
    for params, expected in cases:
        shown, _ = await listed(client, **params)
        assert shown == expected, params
    bad = await client.get("/console/e/acme/cards", params={"status": "asleep"})
    assert bad.status_code == 422
    letters = await client.get("/console/e/acme/cards", params={"q": "abc"})
    assert letters.status_code == 200 and LINK.findall(letters.text) == []
    assert ZH("Search by the digits of an ICCID or an MSISDN.") in letters.text


async def test_htmx_gets_only_the_table_and_filtered_pages_keep_their_filters(
        client: httpx.AsyncClient, fleet: dict[str, str]) -> None:
    answer = await client.get("/console/e/acme/cards", params={"status": "active"},
                              headers=HTMX)
    assert answer.status_code == 200 and "<html" not in answer.text
    assert answer.text.lstrip().startswith('<div id="cards-table"')
    assert 'href="/console/e/acme/cards?status=active&after=' in answer.text
    assert 'href="/console/e/acme/cards.csv?status=active"' in answer.text


async def test_exports_follow_the_filters_and_keep_iccids_as_text(
        client: httpx.AsyncClient, fleet: dict[str, str]) -> None:
    answer = await client.get("/console/e/acme/cards.csv", params={"reason": "pool_exhausted"})
    assert answer.status_code == 200 and answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][0] == "ICCID" and [r[0] for r in rows[1:]] == JASPER
    assert rows[1][7] == ZH(REASONS["pool_exhausted"][0])
    everything = await client.get("/console/e/acme/cards.csv")
    assert everything.content.decode("utf-8-sig").count("\n") == 121
    book = await client.get("/console/e/acme/cards.xlsx", params={"operator": "ctcc"})
    assert book.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(book.content)).get_sheet_by_index(0)
    table = sheet.to_python()
    assert [row[0] for row in table[1:]] == CTCC
    assert all(isinstance(row[0], str) for row in table[1:])


async def test_the_card_page_explains_the_stop_and_shows_usage(
        client: httpx.AsyncClient, fleet: dict[str, str], db_url: str) -> None:
    moved = await move_clock(client, mid_cycle())
    at = int((moved.now() - timedelta(hours=2)).timestamp() * 1000)
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await write_usage(conn, [OperatorRecords("jasper", at, [
            UsageRecord("r1", JASPER[3], 3 << 20, at - 60_000, at)])])
    await log_in(client, "li.wei", NEW_PASSWORD)  # sessions follow the platform clock
    answer = await client.get(f"/console/e/acme/cards/{JASPER[3]}")
    assert answer.status_code == 200, answer.text
    page = answer.text
    assert ZH(REASONS["pool_exhausted"][1]) in page and ZH(REASONS["pool_exhausted"][0]) in page
    assert 'href="/console/e/acme/pools/dry"' in page and "3.00 MB" in page
    assert "data-uplot=" in page and "data-echarts=" in page
    assert 'hx-post="/console/e/acme/cards/' + JASPER[3] + '/stop"' in page
    manual = await client.get(f"/console/e/acme/cards/{ONELINK[5]}")
    assert ZH(REASONS["manual"][1]) in manual.text
    assert 'hx-post="/console/e/acme/cards/' + ONELINK[5] + '/resume"' in manual.text
    client.cookies.set("cardpulse_lang", "en")
    english = await client.get(f"/console/e/acme/cards/{ONELINK[5]}")
    assert "Why it is stopped" in english.text and REASONS["manual"][1] in english.text
    listed_en = await client.get("/console/e/acme/cards", params={"reason": "manual"})
    assert "Matching cards: 3" in listed_en.text


async def test_stop_and_resume_in_the_console_change_the_card_as_the_api_does(
        client: httpx.AsyncClient, fleet: dict[str, str]) -> None:
    card = ONELINK[1]
    stopped = await client.post(f"/console/e/acme/cards/{card}/stop", headers=fleet | HTMX)
    assert stopped.status_code == 200, stopped.text
    assert 'id="card-state"' in stopped.text and "<html" not in stopped.text
    assert ZH(REASONS["manual"][0]) in stopped.text
    view = (await client.get(f"/v1/cards/{card}")).json()
    assert (view["desired_status"], view["stop_reasons"]) == ("stopped", ["manual"])
    resumed = await client.post(f"/console/e/acme/cards/{card}/resume", headers=fleet | HTMX)
    assert resumed.status_code == 200
    view = (await client.get(f"/v1/cards/{card}")).json()
    assert (view["desired_status"], view["stop_reasons"]) == ("active", [])
    plain = await client.post(f"/console/e/acme/cards/{card}/stop", headers=fleet)
    assert plain.status_code == 303 and plain.headers["location"].endswith(card)


async def test_viewers_other_tenants_and_forged_requests_are_refused(
        client: httpx.AsyncClient, fleet: dict[str, str]) -> None:
    no_csrf = await client.post(f"/console/e/acme/cards/{ONELINK[1]}/stop", headers=HTMX)
    assert no_csrf.status_code == 403
    foreign = await client.get(f"/console/e/acme/cards/{OTHER}")
    assert foreign.status_code == 404
    elsewhere = await client.get("/console/e/other/cards")
    assert elsewhere.status_code == 404
    csrf = await person(client, "wang.fang", "enterprise_viewer")
    page = await client.get(f"/console/e/acme/cards/{ONELINK[1]}")
    assert page.status_code == 200 and "/stop" not in page.text and "/resume" not in page.text
    forged = await client.post(f"/console/e/acme/cards/{ONELINK[1]}/stop",
                               headers=csrf | HTMX)
    assert forged.status_code == 403
    assert (await client.get(f"/v1/cards/{ONELINK[1]}")).json()["stop_reasons"] == []
