"""The money pages of the console over HTTP, for an agent's people and an end user, in the
spec's world (G2-02…G2-05: platform → A at 60.00, A → A1 at 70.00, both retail 90.00; the
purchase price 50.00): the price book shows the agent's side of the menu only (G1-14), a
retail or downstream price is set through the form and refused at the field in the spec's
words (G1-07, G1-10, G1-11), an invalidated price is shown as such with its reason (G1-12);
another agent's pages are not found and a viewer's forged change is refused; a Flow-2 order
for a customer (G2-03) with its refusal in words, the recharge that makes it possible and its
pay link, the order's history and ledger entries; the statement (G2-25) whose closing balance
is the ledger balance, exported; withdrawals (G2-15); an end user buys at the retail price."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from python_calamine import CalamineWorkbook

from core.clock import now
from core.settings import Settings
from domain.ledger import agent_available
from store import ledger
from tests.support.orders import CARD, Shop, shop, spec_world
from tests.support.pricing import ok

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
PRICES, ORDERS, WALLET = "/console/a/A/prices", "/console/a/A/orders", "/console/a/A/wallet"
WITHDRAWALS = "/console/a/A/withdrawals"
CAP_EN = "An agent&#39;s sale price must not exceed twice its cost price"
CAP_ZH = "代理的销售价格不能大于成本价的两倍"
BELOW_EN = "Sale price must not be lower than the cost price"
BELOW_ZH = "销售价格不能低于成本价"


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        for each in made.market.people.values():
            each.cookies.set("cardpulse_lang", "en")
        yield made


def form(client: httpx.AsyncClient, **fields: str) -> dict[str, str]:
    return {"csrf_token": client.headers["X-CSRF-Token"], **fields}


def problem(page: httpx.Response, name: str) -> str:
    found = re.search(rf'data-testid="problem-{name}">([^<]*)<', page.text)
    assert found is not None, page.text[:3000]
    return found.group(1)


async def ledger_balance(world: Shop, account: str) -> int:
    async with await psycopg.AsyncConnection.connect(world.settings.require_database(),
                                                     autocommit=True) as conn:
        return (await ledger.balance(conn, account)).posted


@pytest.mark.req("G1-09", "G1-14")
async def test_the_price_book_shows_the_agents_side_of_the_menu_only(world: Shop) -> None:
    a = world.who("a.admin")
    page = await a.get(PRICES)
    assert page.status_code == 200, page.text
    assert "60.00 元" in page.text and "90.00 元" in page.text  # own cost, own retail
    assert "70.00 元" in page.text  # the cost it set for A1
    assert "50.00" not in page.text  # never the purchase price
    assert 'action="/console/a/A/prices/retail"' in page.text
    assert 'action="/console/a/A/prices/downstream"' in page.text
    a1 = await world.who("a1.admin").get("/console/a/A1/prices")
    assert a1.status_code == 200 and "70.00 元" in a1.text
    assert "60.00" not in a1.text and "50.00" not in a1.text  # never the upstream's cost
    assert "/console/a/A1/orders" in a1.text  # the agent navigation


@pytest.mark.req("G1-10", "G1-11", "G1-09")
async def test_a_retail_price_is_refused_at_the_field_in_the_spec_words(world: Shop) -> None:
    a = world.who("a.admin")
    capped = await a.post(f"{PRICES}/retail", data=form(a, package_id="p90", amount="120.01"))
    assert capped.status_code == 422 and problem(capped, "amount") == CAP_EN
    a.cookies.set("cardpulse_lang", "zh-CN")
    below = await a.post(f"{PRICES}/retail", data=form(a, package_id="p90", amount="59.99"))
    assert below.status_code == 422 and problem(below, "amount") == BELOW_ZH
    capped_zh = await a.post(f"{PRICES}/retail", data=form(a, package_id="p90", amount="121"))
    assert problem(capped_zh, "amount") == CAP_ZH
    a.cookies.set("cardpulse_lang", "en")
    typo = await a.post(f"{PRICES}/retail", data=form(a, package_id="p90", amount="9O"))
    assert typo.status_code == 422 and "at most two decimals" in problem(typo, "amount")
    saved = await a.post(f"{PRICES}/retail", data=form(a, package_id="p90", amount="120.00"))
    assert saved.status_code == 303 and saved.headers["location"] == f"{PRICES}?saved=1"
    listed = await ok(a.get("/v1/prices", params={"kind": "retail", "agent_id": "A"}))
    assert [p["amount_fen"] for p in listed] == [12000]


@pytest.mark.req("G1-09")
async def test_a_retail_price_for_a_period_refused_or_saved(world: Shop) -> None:
    a = world.who("a.admin")
    today = now().astimezone(ZoneInfo("Asia/Shanghai"))
    typed = [(today + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M") for days in (-2, 3, 5)]
    past = await a.post(f"{PRICES}/retail", data=form(
        a, package_id="p90", amount="100", valid_from=typed[0]))
    assert past.status_code == 422
    assert problem(past, "valid_from") == "A price cannot take effect in the past"
    empty = await a.post(f"{PRICES}/retail", data=form(
        a, package_id="p90", amount="100", valid_from=typed[2], valid_to=typed[1]))
    assert problem(empty, "valid_to") == "A price must end after it takes effect"
    nonsense = await a.post(f"{PRICES}/retail", data=form(
        a, package_id="p90", amount="100", valid_from="tomorrow"))
    assert problem(nonsense, "valid_from").startswith("Enter a date and time")
    later = await a.post(f"{PRICES}/retail", data=form(
        a, package_id="p90", amount="100.00", valid_from=typed[1], valid_to=typed[2]))
    assert later.status_code == 303
    page = await a.get(PRICES)
    assert f"{typed[1].replace('T', ' ')} – {typed[2].replace('T', ' ')}" in page.text
    assert "100.00 元" in page.text and "90.00 元" in page.text


@pytest.mark.req("G1-07", "G1-10", "G1-12")
async def test_a_downstream_cost_price_and_the_retail_price_it_invalidates(world: Shop) -> None:
    a = world.who("a.admin")
    over = await a.post(f"{PRICES}/downstream",
                        data=form(a, target="A1", package_id="p90", amount="120.01"))
    assert over.status_code == 422 and problem(over, "amount") == CAP_EN
    under = await a.post(f"{PRICES}/downstream",
                         data=form(a, target="A1", package_id="p90", amount="59.00"))
    assert under.status_code == 422 and problem(under, "amount") == BELOW_EN
    saved = await a.post(f"{PRICES}/downstream",
                         data=form(a, target="A1", package_id="p90", amount="95.00"))
    assert saved.status_code == 303
    # A1 sells at 90.00, now below its cost of 95.00: its retail price is invalid (G1-12)
    a1 = await world.who("a1.admin").get("/console/a/A1/prices")
    assert 'data-testid="invalid-warning"' in a1.text and 'data-testid="invalid-price"' in a1.text
    assert BELOW_EN in a1.text and "95.00 元" in a1.text


@pytest.mark.req("G1-14")
async def test_another_agents_pages_are_not_found_and_a_viewer_changes_nothing(
        world: Shop) -> None:
    a, viewer, buyer = world.who("a.admin"), world.who("a.viewer"), world.who("buyer")
    for path in ("/console/a/B/prices", "/console/a/B/orders", "/console/a/B/wallet",
                 "/console/a/B/withdrawals", "/console/a/A1/prices"):
        assert (await a.get(path)).status_code == 404, path
    assert (await buyer.get(PRICES)).status_code == 404
    assert (await a.get("/console/me/orders")).status_code == 404
    for path in (PRICES, ORDERS, WALLET, WITHDRAWALS):
        page = await viewer.get(path)
        assert page.status_code == 200 and 'method="post" action="/console/a' not in page.text
    for path, fields in ((f"{PRICES}/retail", {"package_id": "p90", "amount": "100"}),
                         (f"{PRICES}/downstream", {"target": "A1", "package_id": "p90",
                                                   "amount": "80"}),
                         (ORDERS, {"package_id": "p90", "iccid": CARD}),
                         (f"{WALLET}/recharge", {"amount": "100"}),
                         (WITHDRAWALS, {"amount": "1", "account": "x"})):
        assert (await viewer.post(path, data=form(viewer, **fields))).status_code == 403, path
    assert (await a.get("/console")).headers["location"] == PRICES


async def recharge_agent(world: Shop, client: httpx.AsyncClient, amount: str) -> dict[str, Any]:
    page = await client.post(f"{WALLET}/recharge", data=form(client, amount=amount))
    assert page.status_code == 200 and 'data-testid="pay-url"' in page.text, page.text[:3000]
    made = [o for o in await ok(client.get("/v1/orders", params={"kind": "recharge"}))
            if o["state"] == "pending_payment"][0]
    assert made["pay_url"] in page.text.replace("&amp;", "&")
    return await world.pay(made, "credited")


@pytest.mark.req("G2-03", "G2-14", "G2-25")
async def test_a_flow_2_order_for_a_customer_and_the_statement_of_the_wallet(
        world: Shop) -> None:
    a = world.who("a.admin")
    poor = await a.post(ORDERS, data=form(a, package_id="p90", iccid=CARD))
    assert poor.status_code == 409 and problem(poor, "order") == "Insufficient balance"
    bad = await a.post(ORDERS, data=form(a, package_id="p90", iccid="123"))
    assert bad.status_code == 422 and problem(bad, "iccid")
    await recharge_agent(world, a, "100.00")
    placed = await a.post(ORDERS, data=form(a, package_id="p90", iccid=CARD))
    assert placed.status_code == 303, placed.text[:3000]
    detail = await a.get(placed.headers["location"])
    assert detail.status_code == 200 and "agent wallet" in detail.text
    assert 'data-state="fulfilling"' in detail.text
    assert "waiting for payment" not in detail.text and "being fulfilled" in detail.text
    assert "60.00 元" in detail.text and "50.00" not in detail.text
    order_id = placed.headers["location"].split("/")[-1].split("?")[0]
    listed = await a.get(ORDERS, params={"kind": "package", "method": "agent_wallet"})
    assert order_id in listed.text
    assert order_id not in (await a.get(ORDERS, params={"kind": "withdrawal"})).text
    assert order_id not in (await a.get(ORDERS, params={"start": "2001-01-01",
                                                        "end": "2001-01-31"})).text
    wallet = await a.get(WALLET)
    balance = await ledger_balance(world, agent_available("A"))
    assert balance == 4000
    closing = re.search(r'data-testid="closing">([^<]*)<', wallet.text)
    assert closing is not None and closing.group(1) == "40.00 元"
    assert "-60.00 元" in wallet.text and "100.00 元" in wallet.text and order_id in wallet.text
    exported = await a.get(f"{WALLET}/statement.csv")
    assert exported.status_code == 200 and exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["Time", "Order", "Fee type", "Amount (fen)", "Balance after (fen)"]
    assert [int(r[4]) for r in rows[1:]] == [10000, 4000] and rows[2][1] == order_id
    book = await a.get(f"{ORDERS}.xlsx", params={"kind": "package"})
    table = CalamineWorkbook.from_filelike(io.BytesIO(book.content)).get_sheet_by_index(0)
    assert [row[0] for row in table.to_python()[1:]] == [order_id]
    orders_csv = await a.get(f"{ORDERS}.csv")
    assert orders_csv.content.startswith(b"\xef\xbb\xbf") and order_id in orders_csv.text


@pytest.mark.req("G2-15")
async def test_a_withdrawal_is_refused_at_the_field_then_requested(world: Shop) -> None:
    a = world.who("a.admin")
    await recharge_agent(world, a, "50.00")
    small = await a.post(WITHDRAWALS, data=form(a, amount="0.99", account="bank 1"))
    assert small.status_code == 422 and "minimum" in problem(small, "amount").lower()
    rich = await a.post(WITHDRAWALS, data=form(a, amount="50.01", account="bank 1"))
    assert rich.status_code == 422 and problem(rich, "amount") == "Insufficient balance"
    asked = await a.post(WITHDRAWALS, data=form(a, amount="20.00", account="bank 1"))
    assert asked.status_code == 303
    page = await a.get(asked.headers["location"])
    assert "requested" in page.text and "20.00 元" in page.text and "bank 1" in page.text
    wallet = await a.get(WALLET)
    withdrawing = re.search(r'data-testid="withdrawing">([^<]*)<', wallet.text)
    assert withdrawing is not None and withdrawing.group(1) == "20.00 元"


@pytest.mark.req("G1-14", "G2-02", "G2-13")
async def test_an_end_user_buys_at_the_retail_price_and_sees_its_orders(world: Shop) -> None:
    buyer = world.who("buyer")
    shop_page = await buyer.get("/console/me/buy")
    assert shop_page.status_code == 200 and "90.00 元" in shop_page.text
    assert "60.00" not in shop_page.text and "50.00" not in shop_page.text
    bad = await buyer.post("/console/me/buy",
                           data=form(buyer, package_id="p90", iccid="12", method="online"))
    assert bad.status_code == 422 and problem(bad, "iccid") == "An ICCID has 19 or 20 digits."
    bought = await buyer.post("/console/me/buy",
                              data=form(buyer, package_id="p90", iccid=CARD, method="online"))
    assert bought.status_code == 303
    order = await buyer.get(bought.headers["location"])
    assert 'data-testid="pay-url"' in order.text and "90.00 元" in order.text
    mine = await buyer.get("/console/me/orders")
    assert bought.headers["location"].split("/")[-1].split("?")[0] in mine.text
    wallet = await buyer.get("/console/me/wallet")
    assert wallet.status_code == 200 and CARD in wallet.text
    recharged = await buyer.post("/console/me/wallet/recharge",
                                 data=form(buyer, iccid=CARD, amount="30"))
    assert recharged.status_code == 200 and 'data-testid="pay-url"' in recharged.text
    assert (await buyer.get("/console/me/orders/nope")).status_code == 404
    assert (await world.who("a.admin").get("/console/me/buy")).status_code == 404
