"""Wallets (G2-12…G2-16): recharges into a card's, an agent's or an enterprise's wallet, and
balances. Recharges are orders (SM-G2-RECHARGE) paid online through the channel; a confirmed
payment credits the wallet in one ledger transfer and announces `card_recharged` (G2-13).

Who (§7.2): an end user recharges a card; an agent's admin its own wallet (Flow-2 prepay,
G2-14) or a card on a user's behalf; an enterprise's admin its enterprise's wallet. Platform
roles read every wallet; an agent's people their agent's; an enterprise its own."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from api.deps import PLATFORM_READERS, Caller, Db, Principal, Res, actor, forbid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.routers.orders import CONFLICTS, Gateway, IdempotencyKey, ask_payment, new_order_id
from api.routers.orders import public as order_public
from api.schemas.common import Iccid, Ident
from api.schemas.orders import OrderPublic, RechargeCreate, WalletPublic
from core.money import Fen
from domain.ledger import agent_available, card_wallet, enterprise_wallet
from store import ledger, orders
from store.errors import NotFound
from store.orders import NewOrder

router = APIRouter(prefix="/v1/wallets", tags=["wallets"], responses=FORBIDDEN)


def _target(caller: Principal, body: RechargeCreate) -> dict[str, str | None]:
    """The wallet a caller may recharge, as the order's fields."""
    if body.wallet == "card":
        if body.iccid is None:
            raise forbid("name the card (iccid)")
        if caller.role not in ("end_user", "agent_admin"):
            raise forbid(f"{caller.role} may not recharge a card")
        return {"wallet": card_wallet(body.iccid), "iccid": body.iccid,
                "agent_id": caller.agent_id}
    if body.wallet == "agent":
        if caller.role != "agent_admin" or caller.agent_id is None:
            raise forbid("an agent's admin recharges its own wallet")
        return {"wallet": agent_available(caller.agent_id), "agent_id": caller.agent_id}
    if caller.role != "enterprise_admin" or caller.enterprise_id is None:
        raise forbid("an enterprise's admin recharges its own wallet")
    return {"wallet": enterprise_wallet(caller.enterprise_id),
            "enterprise_id": caller.enterprise_id}


@router.post("/recharges", status_code=status.HTTP_201_CREATED, response_model=OrderPublic,
             responses={**CONFLICTS})
async def recharge(body: RechargeCreate, caller: Caller, db: Db, res: Res, request: Request,
                   channel: Gateway, idempotency_key: IdempotencyKey = None) -> OrderPublic:
    """A recharge order (`pending_payment`, with `pay_url`); credited when the channel
    confirms the payment; cancelled after 30 minutes unpaid (proposed)."""
    target = _target(caller, body)
    new = NewOrder(new_order_id("R"), "recharge", actor(caller, request),
                   body.model_dump(mode="json"), idempotency_key)
    order, _ = await orders.create_recharge(
        db, new, wallet=str(target["wallet"]), amount=Fen(body.amount_fen),
        topic=res.settings.orders_topic, agent_id=target.get("agent_id"),
        iccid=target.get("iccid"), enterprise_id=target.get("enterprise_id"))
    return order_public(await ask_payment(db, order, channel, res.settings.notify_url,
                                          "wallet recharge"))


async def _wallet(db: Db, account: str) -> WalletPublic:
    found = await ledger.balance(db, account)
    return WalletPublic(account=account, balance_fen=found.posted,
                        available_fen=found.available)


@router.get("/agents/{agent_id}", response_model=WalletPublic, responses=NOT_FOUND)
async def agent_wallet(agent_id: Ident, caller: Caller, db: Db) -> WalletPublic:
    """An agent's available balance (its wallet)."""
    if caller.role not in PLATFORM_READERS and caller.agent_id != agent_id or (
            caller.role == "end_user"):
        raise NotFound(f"wallet of agent {agent_id!r}")
    return await _wallet(db, agent_available(agent_id))


@router.get("/enterprises/{enterprise_id}", response_model=WalletPublic, responses=NOT_FOUND)
async def enterprise_wallet_balance(enterprise_id: Ident, caller: Caller, db: Db
                                    ) -> WalletPublic:
    if not caller.sees(enterprise_id):
        raise NotFound(f"wallet of enterprise {enterprise_id!r}")
    return await _wallet(db, enterprise_wallet(enterprise_id))


@router.get("/cards/{iccid}", response_model=WalletPublic, responses=NOT_FOUND)
async def card_wallet_balance(iccid: Iccid, caller: Caller, db: Db) -> WalletPublic:
    """A card's wallet: platform roles, and the agent people and end users of its agent."""
    if caller.role not in PLATFORM_READERS and caller.agent_id is None:
        raise NotFound(f"wallet of card {iccid!r}")
    return await _wallet(db, card_wallet(iccid))
