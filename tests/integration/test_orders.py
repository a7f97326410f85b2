"""G2 orders through the API with the payment-channel simulator over real HTTP: the spec's
worked examples to the fen (G2-02, G2-03, G2-05, G2-06, G2-13), callbacks repeated and out
of order, declines, the payment timeout on the platform clock, 50 concurrent Flow-2 orders,
idempotent creates."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.settings import Settings
from domain.ledger import REVENUE, agent_available, card_wallet, order_escrow
from tests.support.orders import CARD, Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        yield made


@pytest.mark.req("G2-02", "G2-10", "G2-24", "G1-13", "SM-G2-ORDER")
async def test_flow_1_the_end_user_pays_retail_the_agent_gets_the_difference(world: Shop
                                                                            ) -> None:
    made = await order(world.who("buyer"), "online")
    assert (made["state"], made["amount_fen"], made["method"]) == ("pending_payment", 9000,
                                                                   "online")
    assert made["pay_url"] and made["payment_id"]
    assert [lv["cost_price_fen"] for lv in made["price_chain"]["levels"]] == [6000]
    assert made["price_chain"]["retail_price_fen"] == 9000 and made["price_risks"] == []
    paid = await world.pay(made, "fulfilling")
    assert paid["paid_at"] is not None
    escrow = order_escrow(made["order_id"])
    assert await world.balances(escrow) == {escrow: 9000}
    done = await ok(world.market.admin.post(f"/v1/orders/{made['order_id']}/complete"))
    assert done["state"] == "completed"
    assert await world.balances(escrow, REVENUE, agent_available("A")) == {
        escrow: 0, REVENUE: 6000, agent_available("A"): 3000}
