"""The payment channel as the API sees it: a port the composition root fills
(`cardpulse/roots/api.py` passes `connectors.payments.PaymentChannelClient`; tests pass one
on the simulator). The API never imports the connector itself (layers, pyproject)."""

from __future__ import annotations

from typing import Protocol

from fastapi import Request

from core.money import Fen


class PaymentRef(Protocol):
    @property
    def payment_id(self) -> str: ...

    @property
    def pay_url(self) -> str: ...


class PaymentGateway(Protocol):
    async def create_payment(self, merchant_order_id: str, amount_fen: Fen, notify_url: str,
                             subject: str) -> PaymentRef: ...

    async def close_payment(self, payment_id: str) -> object: ...

    async def refund(self, payment_id: str, refund_id: str, amount_fen: Fen) -> object: ...

    async def payout(self, payout_id: str, amount_fen: Fen, account: str, notify_url: str
                     ) -> object: ...


def gateway(request: Request) -> PaymentGateway | None:
    """The app's payment channel, None when the app was built without one."""
    found: PaymentGateway | None = getattr(request.app.state, "payments", None)
    return found
