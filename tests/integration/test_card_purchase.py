"""Card purchases (G2-01, G1-17, `card_purchase`): physical cards of a product at its card price,
bought by an enterprise in bulk (from its wallet) or by an end user one at a time (online);
completed by the platform, which allocates unopened stock cards and registers them under the
buying enterprise; the money `payer → order escrow → platform:revenue`; too little stock is
refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.settings import Settings
from domain.ledger import PAYMENT_CHANNEL, REVENUE, enterprise_wallet, order_escrow
from tests.support.orders import Shop, recharge, shop
from tests.support.pricing import agent, ok, package

pytestmark = pytest.mark.integration
STOCK = [f"8986001230000001{n:04d}" for n in range(5)]
PRICE = 1500


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    """Product `sim1` (a card costs 1500 fen), five unopened stock cards of it, enterprise
    `buyer` with its admin, an end user of agent A, a platform operator."""
    async with shop(settings) as made:
        admin = made.market.admin
        await package(admin, "sim1", card_price_fen=PRICE)
        for enterprise in ("stock", "buyer"):
            await ok(admin.post("/v1/enterprises", json={"enterprise_id": enterprise,
                                                         "name": enterprise}), 201)
        for iccid in STOCK:
            await ok(admin.post("/v1/cards", json={"iccid": iccid, "enterprise_id": "stock",
                                                   "operator": "onelink", "opened": False}), 201)
            await ok(admin.put(f"/v1/cards/{iccid}/product", json={"product_id": "sim1"}))
        await agent(admin, "A")
        await made.market.person("boss", "enterprise_admin", enterprise="buyer")
        await made.market.person("wang", "end_user", agent="A")
        await made.market.person("operator", "platform_operator")
        yield made


async def buy(client: Any, quantity: int, method: str, code: int = 201) -> Any:
    return await ok(client.post("/v1/card-purchases", json={
        "product_id": "sim1", "quantity": quantity, "method": method}), code)


@pytest.mark.req("G2-01", "G1-17")
async def test_an_enterprise_buys_cards_in_bulk_from_its_wallet_and_gets_them_registered(
        world: Shop) -> None:
    boss = world.who("boss")
    await recharge(world, boss, "enterprise", 5000)
    made = await buy(boss, 3, "enterprise_wallet")
    assert (made["kind"], made["state"], made["quantity"], made["amount_fen"]) == (
        "card_purchase", "paid", 3, 3 * PRICE)
    wallet, escrow = enterprise_wallet("buyer"), order_escrow(made["order_id"])
    assert await world.balances(wallet, escrow) == {wallet: 500, escrow: 3 * PRICE}

    done = await ok(world.who("operator").post(f"/v1/orders/{made['order_id']}/complete"))
    assert (done["state"], done["allocated"]) == ("completed", STOCK[:3])
    assert await world.balances(escrow, REVENUE) == {escrow: 0, REVENUE: 3 * PRICE}
    for iccid in STOCK[:3]:  # G1-17: registered under the buyer, still to be opened
        card = await ok(boss.get(f"/v1/cards/{iccid}"))
        assert (card["enterprise_id"], card["stop_reasons"]) == ("buyer", ["not_opened"])
    assert [m[3] for m in await world.order_moves(made["order_id"])] == ["retail", "retail"]

    short = await buy(boss, 3, "enterprise_wallet", 409)  # two cards left
    assert short["detail"] == {"code": "insufficient_stock", "message_zh": "库存不足",
                               "message_en": "Insufficient stock"}
    poor = await buy(boss, 2, "enterprise_wallet", 409)  # 500 fen left of the wallet
    assert poor["detail"]["code"] == "insufficient_balance"
    assert await world.balances(wallet) == {wallet: 500}


@pytest.mark.req("G2-01", "G1-17")
async def test_an_end_user_buys_one_card_online(world: Shop) -> None:
    wang = world.who("wang")
    await buy(wang, 2, "online", 403)  # C-end users buy single cards
    made = await buy(wang, 1, "online")
    assert (made["state"], made["amount_fen"]) == ("pending_payment", PRICE) and made["pay_url"]
    paid = await world.pay(made, "paid")
    escrow = order_escrow(made["order_id"])
    assert await world.balances(escrow) == {escrow: PRICE}

    done = await ok(world.who("operator").post(f"/v1/orders/{paid['order_id']}/complete"))
    assert (done["state"], done["allocated"]) == ("completed", STOCK[:1])
    assert await world.balances(escrow, REVENUE, PAYMENT_CHANNEL) == {
        escrow: 0, REVENUE: PRICE, PAYMENT_CHANNEL: -PRICE}
    again = await ok(world.who("operator").post(f"/v1/orders/{paid['order_id']}/complete"),
                     409)
    assert again["detail"]["code"] == "invalid_transition"


async def test_a_product_without_a_card_price_sells_no_cards(world: Shop) -> None:
    await package(world.market.admin, "nocards")
    refused = await ok(world.who("boss").post("/v1/card-purchases", json={
        "product_id": "nocards", "quantity": 1}), 409)
    assert refused["detail"]["code"] == "cards_not_sold"


@pytest.mark.req("G2-01")
async def test_a_paid_purchase_not_yet_delivered_is_refunded_to_the_payer(world: Shop) -> None:
    boss, wang = world.who("boss"), world.who("wang")
    await recharge(world, boss, "enterprise", 3000)
    from_wallet = await buy(boss, 2, "enterprise_wallet")
    refunded = await ok(world.market.admin.post(
        f"/v1/orders/{from_wallet['order_id']}/refund", json={"reason": "客户取消"}))
    assert refunded["state"] == "refunded"
    wallet, escrow = enterprise_wallet("buyer"), order_escrow(from_wallet["order_id"])
    assert await world.balances(wallet, escrow) == {wallet: 3000, escrow: 0}

    online = await world.pay(await buy(wang, 1, "online"), "paid")
    asked = await ok(world.market.admin.post(f"/v1/orders/{online['order_id']}/refund",
                                             json={"reason": "客户取消"}))
    assert asked["state"] == "refunding"
    await world.reaches(online["order_id"], "refunded")  # on the channel's notification
    escrow = order_escrow(online["order_id"])
    assert await world.balances(escrow, PAYMENT_CHANNEL, REVENUE) == {
        escrow: 0, PAYMENT_CHANNEL: -3000, REVENUE: 0}  # only the enterprise's recharge left
    late = await ok(world.who("operator").post(f"/v1/orders/{online['order_id']}/complete"),
                    409)
    assert late["detail"]["code"] == "invalid_transition"
    assert await ok(world.market.admin.get(f"/v1/cards/{STOCK[0]}"))  # still in stock
