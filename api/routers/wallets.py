"""Wallets (G2-12…G2-16): recharges into a card's, an agent's or an enterprise's wallet, and
balances. Recharges are orders (SM-G2-RECHARGE) paid online through the channel; a confirmed
payment credits the wallet in one ledger transfer and announces `card_recharged` (G2-13).

Who (§7.2): an end user recharges a card; an agent's admin its own wallet (Flow-2 prepay,
G2-14) or a card on a user's behalf; an enterprise's admin its enterprise's wallet. Platform
roles read every wallet; an agent's people their agent's; an enterprise its own."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, status
from pydantic import AwareDatetime

from api.deps import (
    PLATFORM_READERS,
    Caller,
    Db,
    Principal,
    Res,
    actor,
    forbid,
    visible_card,
)
from api.openapi import FORBIDDEN, NOT_FOUND
from api.routers.orders import CONFLICTS, Gateway, IdempotencyKey, ask_payment, new_order_id
from api.routers.orders import public as order_public
from api.schemas.orders import (
    OrderPublic,
    RechargeCreate,
    RefundCreate,
    StatementLinePublic,
    StatementPublic,
    WalletPublic,
)
from core.money import Fen
from domain.ledger import agent_available, card_wallet, enterprise_wallet, is_account
from domain.usage.validation import ICCID_RE
from store import ledger, orders, refunds, wallet_orders
from store.errors import NotFound
from store.orders import NewOrder

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/wallets", tags=["wallets"], responses=FORBIDDEN)
WalletKind = Literal["agents", "enterprises", "cards"]


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
    order, _ = await wallet_orders.create_recharge(
        db, new, wallet=str(target["wallet"]), amount=Fen(body.amount_fen),
        topic=res.settings.orders_topic, agent_id=target.get("agent_id"),
        iccid=target.get("iccid"), enterprise_id=target.get("enterprise_id"))
    return order_public(await ask_payment(db, order, channel, res.settings.notify_url,
                                          "wallet recharge"))


@router.post("/recharges/{order_id}/refund", response_model=OrderPublic,
             responses={**NOT_FOUND, **CONFLICTS})
async def refund_recharge(order_id: str, body: RefundCreate, caller: Caller, db: Db, res: Res,
                          request: Request, channel: Gateway,
                          idempotency_key: IdempotencyKey = None) -> OrderPublic:
    """SM-G2-RECHARGE: a platform operator refunds a credited recharge's unspent money
    (`amount_fen`, absent: as much of it as the wallet still holds; 409
    `insufficient_balance` when the wallet holds less): `refunded`, the wallet debited at
    once; the channel is then asked to pay it back to the payer."""
    if caller.role not in ("admin", "platform_operator"):
        raise forbid("a platform operator refunds recharges")
    order = await orders.get_order(db, order_id)
    if order.kind != "recharge":
        raise NotFound(f"recharge {order_id!r}")
    done = await wallet_orders.refund_recharge(
        db, order, actor(caller, request), res.settings.orders_topic, body.reason,
        None if body.amount_fen is None else Fen(body.amount_fen), idempotency_key)
    made = await refunds.by_id(db, refunds.refund_id(order_id, 1))
    if channel is not None and done.payment_id is not None and made is not None:
        try:  # the channel keys it by the refund id: asking again is harmless
            await channel.refund(done.payment_id, made.refund_id, Fen(made.amount_fen))
        except Exception as exc:
            log.warning("refund of recharge %s not asked: %s", order_id, exc)
    return order_public(done)


async def _wallet(db: Db, account: str) -> WalletPublic:
    found = await ledger.balance(db, account)
    return WalletPublic(account=account, balance_fen=found.posted,
                        available_fen=found.available)


async def _account(db: Db, caller: Principal, kind: WalletKind, owner: str) -> str:
    """The wallet's ledger account if the caller may read it (§7.2 "R own"), else 404."""
    gone = NotFound(f"wallet of {kind} {owner!r}")
    if not is_account(f"agent:{owner}:available" if kind != "cards" else f"wallet:{owner}"):
        raise gone  # not an id at all
    if kind == "agents":
        if caller.role not in PLATFORM_READERS and (
                caller.role not in ("agent_admin", "agent_viewer") or caller.agent_id != owner):
            raise gone
        return agent_available(owner)
    if kind == "enterprises":
        if not caller.sees(owner):
            raise gone
        return enterprise_wallet(owner)
    if not ICCID_RE.match(owner):
        raise gone
    if caller.role in PLATFORM_READERS:
        return card_wallet(owner)
    if caller.enterprise_id is not None:
        if not caller.sees((await visible_card(db, owner, caller)).enterprise_id):
            raise gone
        return card_wallet(owner)
    if not await orders.card_reachable(db, owner, caller.agent_id, caller.key_id):
        raise gone
    return card_wallet(owner)


@router.get("/{kind}/{owner_id}", response_model=WalletPublic, responses=NOT_FOUND)
async def wallet(kind: WalletKind, owner_id: Annotated[str, Path(max_length=64)],
                 caller: Caller, db: Db) -> WalletPublic:
    """A wallet's balance: an agent's (`agents/{agent_id}`: platform roles, its admin and
    viewer), an enterprise's (`enterprises/{enterprise_id}`), a card's (`cards/{iccid}`:
    platform roles, its enterprise, the agent people and end users who ordered or recharged
    for it)."""
    return await _wallet(db, await _account(db, caller, kind, owner_id))


@router.get("/{kind}/{owner_id}/statement", response_model=StatementPublic,
            responses=NOT_FOUND)
async def statement(kind: WalletKind, owner_id: Annotated[str, Path(max_length=64)],
                    caller: Caller, db: Db, start: AwareDatetime | None = None,
                    end: AwareDatetime | None = None) -> StatementPublic:
    """G2-25: the wallet's entries with start ≤ time < end (open ends: all)."""
    found = await ledger.statement(db, await _account(db, caller, kind, owner_id), start, end)
    return StatementPublic(
        account=found.account, opening_fen=found.opening, closing_fen=found.closing,
        debits_fen=found.debits, credits_fen=found.credits,
        lines=[StatementLinePublic(
            at=line.entry.at, transfer_id=line.entry.transfer_id,
            counterparty=line.entry.counterparty, amount_fen=line.entry.amount,
            fee_type=line.entry.fee_type, order_id=line.entry.order_id,
            balance_after_fen=line.balance_after) for line in found.lines])
