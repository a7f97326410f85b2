"""Refund requests (§7.2 "refund package order", SM-G2-ORDER "refund approved →
refunding"): the platform operator (or admin) requests a refund of a package order or card
purchase, the order does not move; platform finance (or admin) approves it, which runs the
refund `POST /v1/orders/{id}/refund` runs, or rejects it with a reason. A refund refused at
approval time (the order moved meanwhile) leaves the request `failed` with the refusal."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from api.deps import PLATFORM_READERS, Caller, Db, Principal, Res, actor, forbid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.routers.orders import (
    Gateway,
    IdempotencyKey,
    may_see,
    pay_refund,
    public,
    refundable_order,
)
from api.schemas.orders import OrderPublic
from api.schemas.refund_requests import (
    RefundRequestCreate,
    RefundRequestPublic,
    RefundRequestRejection,
)
from domain.orders.refund_requests import RefundRequestDecided
from store import orders, refund_requests
from store.db import Conn
from store.errors import NotFound
from store.refund_requests import RefundRequest, State

router = APIRouter(tags=["refund requests"], responses=FORBIDDEN)
REQUESTERS = ("admin", "platform_operator")
APPROVERS = ("admin", "platform_finance")
REQUEST_CONFLICTS: dict[int | str, dict[str, Any]] = {409: {"description": (
    "`refund_already_requested`, `refund_request_decided`, `invalid_transition`, "
    "`partial_refund_not_allowed`, `idempotency_conflict`, `payment_unavailable`")}}


def view(req: RefundRequest, order: OrderPublic | None = None) -> RefundRequestPublic:
    return RefundRequestPublic.model_validate(req, from_attributes=True).model_copy(
        update={"order": order})


@router.post("/v1/orders/{order_id}/refund-requests", status_code=status.HTTP_201_CREATED,
             response_model=RefundRequestPublic,
             responses={**NOT_FOUND, **REQUEST_CONFLICTS,
                        422: {"description": "`refund_exceeds_refundable`"}})
async def request_refund(order_id: str, body: RefundRequestCreate, caller: Caller, db: Db,
                         res: Res, request: Request, idempotency_key: IdempotencyKey = None
                         ) -> RefundRequestPublic:
    """Request a refund (`requested`): refused now as the refund would be (409
    `invalid_transition`, `partial_refund_not_allowed`; 422 `refund_exceeds_refundable`) and
    while the order has an open request (409 `refund_already_requested`)."""
    if caller.role not in REQUESTERS:
        raise forbid("the platform operator requests refunds")
    order = await refundable_order(db, order_id, caller)
    made = await refund_requests.create(
        db, f"RR{uuid.uuid4().hex[:20]}", order.order_id, body.amount_fen, body.reason,
        actor(caller, request), res.settings.orders_topic, idempotency_key)
    return view(made)


@router.get("/v1/refund-requests", response_model=list[RefundRequestPublic])
async def list_refund_requests(caller: Caller, db: Db,
                               state: Annotated[State | None, Query()] = None
                               ) -> list[RefundRequestPublic]:
    """Platform roles: the requests (newest first, at most 200), of one state or all."""
    if caller.role not in PLATFORM_READERS:
        raise forbid("the platform reads refund requests")
    return [view(r) for r in await refund_requests.search(db, state)]


async def _visible(db: Conn, request_id: str, caller: Principal) -> RefundRequest:
    req = await refund_requests.get(db, request_id)
    if not may_see(caller, await orders.get_order(db, req.order_id)):
        raise NotFound(f"refund request {request_id!r}")
    return req


@router.get("/v1/refund-requests/{request_id}", response_model=RefundRequestPublic,
            responses=NOT_FOUND)
async def get_refund_request(request_id: str, caller: Caller, db: Db) -> RefundRequestPublic:
    """Whoever sees the order reads its refund requests (§7.2: R, own)."""
    req = await _visible(db, request_id, caller)
    return view(req, public(await orders.get_order(db, req.order_id)))


@router.post("/v1/refund-requests/{request_id}/approve", response_model=RefundRequestPublic,
             responses={**NOT_FOUND, **REQUEST_CONFLICTS,
                        422: {"description": "`refund_exceeds_refundable`"}})
async def approve_refund_request(request_id: str, caller: Caller, db: Db, res: Res,
                                 request: Request, channel: Gateway) -> RefundRequestPublic:
    """`requested → approved` and the order's refund in one transaction (`→ refunding`),
    then its money goes back as `POST /v1/orders/{id}/refund` sends it. A repeat answers
    the same (asking the channel again while the order is `refunding`). A refund refused
    now leaves the request `failed` and answers the refusal (again on a repeat)."""
    if caller.role not in APPROVERS:
        raise forbid("platform finance approves refunds")
    await _visible(db, request_id, caller)
    req = await refund_requests.approve(db, request_id, actor(caller, request),
                                        res.settings.orders_topic)
    if req.state != "approved":
        raise refund_requests.refusal(req)
    paid = await pay_refund(db, res, await orders.get_order(db, req.order_id), channel)
    return view(req, paid)


@router.post("/v1/refund-requests/{request_id}/reject", response_model=RefundRequestPublic,
             responses={**NOT_FOUND, **REQUEST_CONFLICTS})
async def reject_refund_request(request_id: str, body: RefundRequestRejection, caller: Caller,
                                db: Db, res: Res, request: Request) -> RefundRequestPublic:
    """`requested → rejected` with a reason (required); the order does not move. A repeat
    answers the rejected request; a request approved or failed is 409
    `refund_request_decided`."""
    if caller.role not in APPROVERS:
        raise forbid("platform finance rejects refunds")
    req = await _visible(db, request_id, caller)
    if req.state == "rejected":
        return view(req)
    if req.state != "requested":
        raise RefundRequestDecided()
    return view(await refund_requests.decide(db, req, "rejected", actor(caller, request),
                                             res.settings.orders_topic, body.reason))
