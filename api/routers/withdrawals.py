"""Withdrawals (G2-15, SM-G2-WITHDRAWAL): an agent's admin asks (`available → withdrawing`),
platform finance approves (the payout is asked of the channel) or rejects with a reason (the
money goes back); the channel's payout notification pays it out or returns it."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, status

from api.deps import Caller, Db, Res, actor, forbid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.routers.orders import (
    CONFLICTS,
    Gateway,
    IdempotencyKey,
    new_order_id,
    public,
    visible_order,
)
from api.schemas.orders import OrderPublic, Rejection, WithdrawalCreate
from core.money import BasisPoints, Fen
from store import orders, wallet_orders
from store.errors import NotFound
from store.orders import NewOrder

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/withdrawals", tags=["withdrawals"], responses=FORBIDDEN)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderPublic,
             responses={**CONFLICTS, 422: {"description": "`withdrawal_below_min`"}})
async def request_withdrawal(body: WithdrawalCreate, caller: Caller, db: Db, res: Res,
                             request: Request, idempotency_key: IdempotencyKey = None
                             ) -> OrderPublic:
    """Ask to withdraw from the caller agent's wallet (409 `insufficient_balance`)."""
    if caller.role != "agent_admin" or caller.agent_id is None:
        raise forbid("an agent's admin withdraws from its agent's wallet")
    new = NewOrder(new_order_id("W"), "withdrawal", actor(caller, request),
                   body.model_dump(mode="json"), idempotency_key)
    order, _ = await wallet_orders.request_withdrawal(
        db, new, agent_id=caller.agent_id, amount=Fen(body.amount_fen), account=body.account,
        min_fen=Fen(res.settings.withdrawal_min_fen),
        fee_bp=BasisPoints(res.settings.withdrawal_fee_bp), topic=res.settings.orders_topic)
    return public(order)


async def _withdrawal(db: Db, order_id: str, caller: Caller) -> orders.Order:
    if caller.role not in ("admin", "platform_finance"):
        raise forbid("platform finance approves withdrawals")
    order = await visible_order(db, order_id, caller)
    if order.kind != "withdrawal":
        raise NotFound(f"withdrawal {order_id!r}")
    return order


@router.post("/{order_id}/approve", response_model=OrderPublic,
             responses={**NOT_FOUND, **CONFLICTS})
async def approve(order_id: str, caller: Caller, db: Db, res: Res, request: Request,
                  channel: Gateway) -> OrderPublic:
    """`requested → approved`, then the payout is asked of the channel (by the order's id,
    so asking again is the same payout)."""
    order = await _withdrawal(db, order_id, caller)
    if order.state == "requested":
        order = await wallet_orders.approve_withdrawal(db, order, actor(caller, request),
                                                res.settings.orders_topic)
    if order.state == "approved" and channel is not None:
        try:
            await channel.payout(order.order_id, Fen(order.amount_fen - order.fee_fen),
                                 order.payout_account or "", res.settings.notify_url)
        except Exception as exc:  # approved stays; approving again asks again
            log.warning("payout of %s not asked: %s", order.order_id, exc)
    return public(await orders.get_order(db, order.order_id))


@router.post("/{order_id}/reject", response_model=OrderPublic,
             responses={**NOT_FOUND, **CONFLICTS})
async def reject(order_id: str, body: Rejection, caller: Caller, db: Db, res: Res,
                 request: Request) -> OrderPublic:
    """`requested → rejected` with a reason; the amount goes back to `available`."""
    order = await _withdrawal(db, order_id, caller)
    return public(await wallet_orders.reject_withdrawal(
        db, order, body.reason, actor(caller, request), res.settings.orders_topic))
