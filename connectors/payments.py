"""The payment channel as the platform calls it: create, read and close payments, refund them,
pay out withdrawals. Speaks the `/_pay` API of `simulators.payments` (README, "The
payment-channel simulator") on an injected `httpx.AsyncClient`; the base URL is
`Settings.payment_url` (CARDPULSE_PAYMENT_BASE_URL).

Every create is idempotent by the caller's key (merchant_order_id, refund_id, payout_id): after
a timeout, call again with the same key and terms. The outcome of a payment, refund or payout
arrives later as a signed notification (`core.payments`); the reads here are for
reconciliation, not for deciding that money moved.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictInt, ValidationError

from core.money import Fen

PaymentStatus = Literal["created", "succeeded", "declined", "closed"]
PayoutStatus = Literal["processing", "paid", "failed"]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ChannelPayment(_Answer):
    """A payment as the channel sees it; `pay_url` is what the payer opens (a QR code)."""

    payment_id: str
    merchant_order_id: str
    amount_fen: StrictInt
    status: PaymentStatus
    pay_url: str
    created_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    reason: str | None = None
    refunded_fen: StrictInt = 0


class ChannelRefund(_Answer):
    refund_id: str
    payment_id: str
    amount_fen: StrictInt
    refunded_at: AwareDatetime


class ChannelPayout(_Answer):
    payout_id: str
    amount_fen: StrictInt
    status: PayoutStatus
    finished_at: AwareDatetime | None = None
    reason: str | None = None


class PaymentChannelError(Exception):
    """A call failed. `retryable`: the same call (same key) may be sent again later;
    otherwise the channel refused it for good (`status_code` 404, 409 conflict, 422)."""

    def __init__(self, detail: str, *, retryable: bool, status_code: int | None = None
                 ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status_code = status_code


class PaymentChannel(Protocol):
    """What the orders module needs from a payment channel (a test double records calls)."""

    async def create_payment(self, merchant_order_id: str, amount_fen: Fen, notify_url: str,
                             subject: str) -> ChannelPayment: ...

    async def get_payment(self, payment_id: str) -> ChannelPayment: ...

    async def close_payment(self, payment_id: str) -> ChannelPayment: ...

    async def refund(self, payment_id: str, refund_id: str, amount_fen: Fen
                     ) -> ChannelRefund: ...

    async def get_refund(self, refund_id: str) -> ChannelRefund: ...

    async def payout(self, payout_id: str, amount_fen: Fen, account: str, notify_url: str
                     ) -> ChannelPayout: ...

    async def get_payout(self, payout_id: str) -> ChannelPayout: ...


A = TypeVar("A", bound=_Answer)


def _part(key: str) -> str:
    """`key` as one path segment, whatever it contains."""
    return quote(key, safe="")


def _detail(answer: httpx.Response) -> str:
    try:
        body: Any = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)[:200]


class PaymentChannelClient:
    """The real adapter: one channel at `base_url` (e.g. `http://127.0.0.1:8100/_pay`)."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def _call(self, shape: type[A], method: str, path: str,
                    body: dict[str, Any] | None = None) -> A:
        try:
            answer = await self._http.request(method, self._base + path, json=body)
        except httpx.HTTPError as exc:
            raise PaymentChannelError(f"{type(exc).__name__}: {exc}", retryable=True) from None
        if not answer.is_success:
            code = answer.status_code
            raise PaymentChannelError(f"HTTP {code}: {_detail(answer)}", status_code=code,
                                      retryable=code >= 500 or code in (408, 429))
        try:
            return shape.model_validate_json(answer.content)
        except ValidationError as exc:
            raise PaymentChannelError(f"unexpected answer from the channel: {exc}",
                                      retryable=True, status_code=answer.status_code) from None

    async def create_payment(self, merchant_order_id: str, amount_fen: Fen, notify_url: str,
                             subject: str) -> ChannelPayment:
        """A payment for one order (the same order again: the same payment)."""
        return await self._call(ChannelPayment, "POST", "/payments", {
            "merchant_order_id": merchant_order_id, "amount_fen": amount_fen,
            "notify_url": notify_url, "subject": subject})

    async def get_payment(self, payment_id: str) -> ChannelPayment:
        return await self._call(ChannelPayment, "GET", f"/payments/{_part(payment_id)}")

    async def close_payment(self, payment_id: str) -> ChannelPayment:
        """Stop an unpaid payment from being paid (its order was cancelled); a paid one is
        refused (409): refund it instead."""
        return await self._call(ChannelPayment, "POST", f"/payments/{_part(payment_id)}/close")

    async def refund(self, payment_id: str, refund_id: str, amount_fen: Fen) -> ChannelRefund:
        """Refund part or all of a succeeded payment; more than is left is refused (409)."""
        return await self._call(ChannelRefund, "POST", f"/payments/{_part(payment_id)}/refunds",
                                {"refund_id": refund_id, "amount_fen": amount_fen})

    async def get_refund(self, refund_id: str) -> ChannelRefund:
        return await self._call(ChannelRefund, "GET", f"/refunds/{_part(refund_id)}")

    async def payout(self, payout_id: str, amount_fen: Fen, account: str, notify_url: str
                     ) -> ChannelPayout:
        """Pay `amount_fen` out to `account` (a withdrawal); answered `processing`."""
        return await self._call(ChannelPayout, "POST", "/payouts", {
            "payout_id": payout_id, "amount_fen": amount_fen, "account": account,
            "notify_url": notify_url})

    async def get_payout(self, payout_id: str) -> ChannelPayout:
        return await self._call(ChannelPayout, "GET", f"/payouts/{_part(payout_id)}")
