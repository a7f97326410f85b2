"""Card products and card purchases (G2-01, G1-15…G1-17).

* `PUT /v1/cards/{iccid}/product`: the product (a package) a card is registered with; a card
  whose product is a `number_card` package is a number card (its operator's card events become
  `number_card_event` orders). Platform only.
* `POST /v1/card-purchases`: physical cards of a product bought by an end user (one card) or
  an enterprise's admin (any quantity), paid online or from the enterprise's wallet; the
  platform completes it (`POST /v1/orders/{id}/complete`), which allocates the cards from the
  stock and registers them under the buyer's enterprise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from api.deps import Caller, Db, Res, actor, forbid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.routers.orders import (
    CONFLICTS,
    Gateway,
    IdempotencyKey,
    ask_payment,
    new_order_id,
    public,
)
from api.schemas.orders import CardProduct, CardProductSet, CardPurchaseCreate, OrderPublic
from store import card_events, card_purchases
from store.orders import NewOrder

router = APIRouter(tags=["card purchases"], responses=FORBIDDEN)
PLATFORM_WRITERS = ("admin", "platform_operator")


@router.put("/v1/cards/{iccid}/product", response_model=CardProduct, responses=NOT_FOUND)
async def set_card_product(iccid: Annotated[str, Path(max_length=20)], body: CardProductSet,
                           caller: Caller, db: Db) -> CardProduct:
    """Register a card with a product (`null`: none); a `number_card` product makes it a
    number card."""
    if caller.role not in PLATFORM_WRITERS:
        raise forbid("the platform sets a card's product")
    line = await card_events.set_product(db, iccid, body.product_id)
    return CardProduct(iccid=iccid, product_id=body.product_id, business_line=line)


@router.post("/v1/card-purchases", status_code=status.HTTP_201_CREATED,
             response_model=OrderPublic, responses={**NOT_FOUND, **CONFLICTS})
async def create_card_purchase(body: CardPurchaseCreate, caller: Caller, db: Db, res: Res,
                               request: Request, channel: Gateway,
                               idempotency_key: IdempotencyKey = None) -> OrderPublic:
    """Buy `quantity` cards of a product at its card price (amount = quantity × price):
    an end user one card online; an enterprise's admin any number, online or from its
    wallet (`enterprise_wallet`: paid at once, 409 `insufficient_balance` leaves nothing).
    409 `insufficient_stock` when the stock holds fewer unopened cards of the product."""
    if caller.role == "enterprise_admin" and caller.enterprise_id is not None:
        enterprise_id: str | None = caller.enterprise_id
    elif caller.role == "end_user":
        enterprise_id = None
        if body.quantity != 1:
            raise forbid("an end user buys a single card (G1-17)")
        if body.method != "online":
            raise forbid("an end user pays a card online")
    else:
        raise forbid(f"{caller.role} may not buy cards")
    new = NewOrder(new_order_id("C"), "card_purchase", actor(caller, request),
                   body.model_dump(mode="json"), idempotency_key)
    order, _ = await card_purchases.create_card_purchase(
        db, new, product_id=body.product_id, quantity=body.quantity, method=body.method,
        enterprise_id=enterprise_id, agent_id=caller.agent_id,
        stock=res.settings.card_stock_enterprise, topic=res.settings.orders_topic)
    return public(await ask_payment(db, order, channel, res.settings.notify_url,
                                    f"{body.quantity} x card {body.product_id}"))
