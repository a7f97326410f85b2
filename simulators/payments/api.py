"""The payment channel's HTTP face under `/_pay` (see README, "The payment-channel simulator").

The merchant (the platform, through `connectors.payments`) creates payments, refunds and
payouts; the payer pays on the checkout page (`pay_url`) or with `POST …/pay`; tests read
`/_pay/stats` and `/_pay/notifications` and turn `/_pay/knobs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from core.money import Fen, yuan
from simulators.beijing import local
from simulators.knobs import KnobsError
from simulators.payments.book import (
    Conflict,
    Payment,
    PaymentStatus,
    Payout,
    PayoutStatus,
    Refund,
    Unknown,
)
from simulators.payments.channel import NoSecret, PayChannel
from simulators.payments.notify import Attempt

PREFIX = "/_pay"
Amount = Annotated[StrictInt, Field(gt=0, le=10**12)]  # fen; a float is refused (C-01)
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Url = Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s]+$")]
Text = Annotated[str, Field(min_length=1, max_length=256)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentCreate(_In):
    merchant_order_id: Key
    amount_fen: Amount
    notify_url: Url
    subject: Text


class RefundCreate(_In):
    refund_id: Key
    amount_fen: Amount


class PayoutCreate(_In):
    payout_id: Key
    amount_fen: Amount
    account: Text
    notify_url: Url


class PaymentPublic(BaseModel):
    payment_id: str
    merchant_order_id: str
    amount_fen: int
    subject: str
    notify_url: str
    status: PaymentStatus
    pay_url: str
    created_at: datetime
    paid_at: datetime | None
    reason: str | None
    refunded_fen: int


class RefundPublic(BaseModel):
    refund_id: str
    payment_id: str
    amount_fen: int
    status: str = "succeeded"
    refunded_at: datetime


class PayoutPublic(BaseModel):
    payout_id: str
    amount_fen: int
    account: str
    status: PayoutStatus
    created_at: datetime
    finished_at: datetime | None
    reason: str | None


class AttemptPublic(BaseModel):
    seq: int
    notify_id: str
    kind: str
    subject: str
    notify_url: str
    repeat: int
    attempt: int
    outcome: str
    http_status: int | None
    at: float
    payload: str


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except Unknown as exc:
        raise HTTPException(404, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    except NoSecret as exc:
        raise HTTPException(503, str(exc)) from None


def _when(t: float | None) -> datetime | None:
    return None if t is None else local(t)


def _payment(request: Request, p: Payment) -> PaymentPublic:
    pay_url = str(request.url_for("checkout", payment_id=p.payment_id))
    return PaymentPublic(payment_id=p.payment_id, merchant_order_id=p.merchant_order_id,
                         amount_fen=p.amount_fen, subject=p.subject, notify_url=p.notify_url,
                         status=p.status, pay_url=pay_url, created_at=local(p.created_at),
                         paid_at=_when(p.paid_at), reason=p.reason,
                         refunded_fen=p.refunded_fen)


def _refund(r: Refund) -> RefundPublic:
    return RefundPublic(refund_id=r.refund_id, payment_id=r.payment_id,
                        amount_fen=r.amount_fen, refunded_at=local(r.refunded_at))


def _payout(p: Payout) -> PayoutPublic:
    return PayoutPublic(payout_id=p.payout_id, amount_fen=p.amount_fen, account=p.account,
                        status=p.status, created_at=local(p.created_at),
                        finished_at=_when(p.finished_at), reason=p.reason)


def _created(response: Response, new: bool) -> None:
    response.status_code = 201 if new else 200


def _attempt(a: Attempt) -> AttemptPublic:
    return AttemptPublic(seq=a.seq, notify_id=a.notify_id, kind=a.kind, subject=a.subject,
                         notify_url=a.notify_url, repeat=a.repeat, attempt=a.attempt,
                         outcome=a.outcome, http_status=a.http_status, at=a.at,
                         payload=a.payload)


def _merchant_routes(api: APIRouter, channel: PayChannel) -> None:
    @api.post("/payments", response_model=PaymentPublic, status_code=201)
    async def create_payment(body: PaymentCreate, request: Request, response: Response
                             ) -> PaymentPublic:
        """Idempotent by `merchant_order_id`: 201 when created, 200 with the original."""
        with _refusals():
            payment, new = channel.create_payment(body.merchant_order_id, body.amount_fen,
                                                  body.notify_url, body.subject)
        _created(response, new)
        return _payment(request, payment)

    @api.get("/payments/{payment_id}", response_model=PaymentPublic)
    async def get_payment(payment_id: str, request: Request) -> PaymentPublic:
        with _refusals():
            return _payment(request, channel.book.payment(payment_id))

    @api.post("/payments/{payment_id}/close", response_model=PaymentPublic)
    async def close_payment(payment_id: str, request: Request) -> PaymentPublic:
        """The merchant gives up an unpaid payment (its order timed out); 409 once paid."""
        with _refusals():
            return _payment(request, channel.close(payment_id))

    @api.post("/payments/{payment_id}/refunds", response_model=RefundPublic, status_code=201)
    async def refund(payment_id: str, body: RefundCreate, response: Response) -> RefundPublic:
        """Idempotent by `refund_id`; partial refunds add up to at most the paid amount."""
        with _refusals():
            made, new = channel.refund(payment_id, body.refund_id, body.amount_fen)
        _created(response, new)
        return _refund(made)

    @api.get("/refunds/{refund_id}", response_model=RefundPublic)
    async def get_refund(refund_id: str) -> RefundPublic:
        found = channel.book.refunds.get(refund_id)
        if found is None:
            raise HTTPException(404, f"no refund {refund_id}")
        return _refund(found)

    @api.post("/payouts", response_model=PayoutPublic, status_code=201)
    async def create_payout(body: PayoutCreate, response: Response) -> PayoutPublic:
        """Idempotent by `payout_id`; answered `processing`, then notified paid or failed."""
        with _refusals():
            payout, new = channel.create_payout(body.payout_id, body.amount_fen, body.account,
                                                body.notify_url)
        _created(response, new)
        return _payout(payout)

    @api.get("/payouts/{payout_id}", response_model=PayoutPublic)
    async def get_payout(payout_id: str) -> PayoutPublic:
        found = channel.book.payouts.get(payout_id)
        if found is None:
            raise HTTPException(404, f"no payout {payout_id}")
        return _payout(found)


_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>收银台 CardPulse Pay</title></head><body style="font-family:sans-serif;margin:3em">
<h1>¥{amount}</h1><p>{subject}</p><p>订单号 {order} · <b>{status}</b></p>{action}
</body></html>"""
_BUTTON = '<form method="post"><button type="submit">确认付款 Pay</button></form>'


def _page(payment: Payment) -> HTMLResponse:
    action = _BUTTON if payment.status == "created" else ""
    return HTMLResponse(_PAGE.format(amount=yuan(Fen(payment.amount_fen)),
                                     subject=escape(payment.subject),
                                     order=escape(payment.merchant_order_id),
                                     status=payment.status, action=action))


def _payer_routes(api: APIRouter, channel: PayChannel) -> None:
    @api.post("/payments/{payment_id}/pay", response_model=PaymentPublic)
    async def pay(payment_id: str, request: Request) -> PaymentPublic:
        """What the payer does after scanning: succeeded or declined (knobs), then notified.
        Paying a decided payment again changes nothing; a closed one is 409."""
        with _refusals():
            return _payment(request, channel.pay(payment_id))

    @api.get("/checkout/{payment_id}", response_class=HTMLResponse, name="checkout")
    async def checkout(payment_id: str) -> HTMLResponse:
        """The `pay_url`: the amount, the subject and a Pay button."""
        with _refusals():
            return _page(channel.book.payment(payment_id))

    @api.post("/checkout/{payment_id}", response_class=HTMLResponse)
    async def checkout_pay(payment_id: str) -> HTMLResponse:
        with _refusals():
            return _page(channel.pay(payment_id))


def _test_routes(api: APIRouter, channel: PayChannel) -> None:
    @api.get("/stats")
    async def stats() -> dict[str, Any]:
        """Payments, payouts and refunds by status; notification attempts by outcome."""
        return channel.stats()

    @api.get("/notifications", response_model=list[AttemptPublic])
    async def notifications(after: int = Query(0, ge=0), notify_id: str | None = None,
                            limit: int = Query(1000, ge=1, le=10_000)) -> list[AttemptPublic]:
        """Delivery attempts after sequence number `after` (the last 10,000 kept)."""
        found = [a for a in channel.notifier.log if a.seq > after
                 and (notify_id is None or a.notify_id == notify_id)]
        return [_attempt(a) for a in found[:limit]]

    @api.get("/knobs")
    async def get_knobs() -> dict[str, Any]:
        return channel.knobs.model_dump()

    @api.put("/knobs")
    async def put_knobs(changes: dict[str, Any]) -> dict[str, Any]:
        try:
            return channel.update(changes).model_dump()
        except KnobsError as exc:
            raise HTTPException(422, str(exc)) from None


def router(channel: PayChannel) -> APIRouter:
    """Every `/_pay` route, sharing `channel`."""
    api = APIRouter(prefix=PREFIX, tags=["payment channel (simulated)"])
    _merchant_routes(api, channel)
    _payer_routes(api, channel)
    _test_routes(api, channel)
    return api
