"""What the simulated channel knows: payments, refunds and payouts, and the rules that change
them. Pure (times and outcomes are passed in); `simulators.payments.channel` does the rest.

Every create is idempotent by the caller's key (merchant_order_id, refund_id, payout_id): the
same request again returns the original; the same key with different terms is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PaymentStatus = Literal["created", "succeeded", "declined", "closed"]
PayoutStatus = Literal["processing", "paid", "failed"]


class Conflict(Exception):
    """The request contradicts what the channel already has (answered 409)."""


class Unknown(Exception):
    """No such payment, refund or payout (answered 404)."""


@dataclass
class Payment:
    payment_id: str
    merchant_order_id: str
    amount_fen: int
    notify_url: str
    subject: str
    created_at: float
    status: PaymentStatus = "created"
    paid_at: float | None = None
    reason: str | None = None
    refunded_fen: int = 0


@dataclass(frozen=True)
class Refund:
    refund_id: str
    payment_id: str
    amount_fen: int
    refunded_at: float


@dataclass
class Payout:
    payout_id: str
    amount_fen: int
    account: str
    notify_url: str
    created_at: float
    fails: bool  # decided when requested, reported when it finishes
    status: PayoutStatus = "processing"
    finished_at: float | None = None
    reason: str | None = None


DECLINED = "insufficient funds (simulated)"
PAYOUT_FAILED = "payee account rejected the transfer (simulated)"


@dataclass
class PayBook:
    """Every payment, refund and payout of one run (memory only, like the operator simulator)."""

    payments: dict[str, Payment]
    by_order: dict[str, str]
    refunds: dict[str, Refund]
    payouts: dict[str, Payout]

    @classmethod
    def empty(cls) -> PayBook:
        return cls({}, {}, {}, {})

    def payment(self, payment_id: str) -> Payment:
        found = self.payments.get(payment_id)
        if found is None:
            raise Unknown(f"no payment {payment_id}")
        return found

    def create_payment(self, new: Payment) -> tuple[Payment, bool]:
        """The payment for `new.merchant_order_id` and whether it was created now."""
        known = self.by_order.get(new.merchant_order_id)
        if known is None:
            self.payments[new.payment_id] = new
            self.by_order[new.merchant_order_id] = new.payment_id
            return new, True
        old = self.payments[known]
        if (old.amount_fen, old.notify_url, old.subject) != (
                new.amount_fen, new.notify_url, new.subject):
            raise Conflict(f"merchant_order_id {new.merchant_order_id} already has payment "
                           f"{old.payment_id} with other terms")
        return old, False

    def pay(self, payment_id: str, now: float, declined: bool) -> tuple[Payment, bool]:
        """The payer pays: `succeeded` or `declined`; True when this call decided it."""
        payment = self.payment(payment_id)
        if payment.status in ("succeeded", "declined"):
            return payment, False
        if payment.status == "closed":
            raise Conflict(f"payment {payment_id} is closed")
        payment.status = "declined" if declined else "succeeded"
        payment.paid_at = None if declined else now
        payment.reason = DECLINED if declined else None
        return payment, True

    def close(self, payment_id: str) -> Payment:
        """The merchant closes an unpaid payment (its order timed out): it can no longer be
        paid. Closing a closed or declined payment changes nothing."""
        payment = self.payment(payment_id)
        if payment.status == "succeeded":
            raise Conflict(f"payment {payment_id} is already paid; refund it instead")
        if payment.status == "created":
            payment.status = "closed"
        return payment

    def refund(self, refund: Refund) -> tuple[Refund, bool]:
        """Refund part or all of a succeeded payment; True when the refund is new."""
        old = self.refunds.get(refund.refund_id)
        if old is not None:
            if (old.payment_id, old.amount_fen) != (refund.payment_id, refund.amount_fen):
                raise Conflict(f"refund_id {refund.refund_id} was used with other terms")
            return old, False
        payment = self.payment(refund.payment_id)
        if payment.status != "succeeded":
            raise Conflict(f"payment {payment.payment_id} is {payment.status}, not succeeded")
        left = payment.amount_fen - payment.refunded_fen
        if refund.amount_fen > left:
            raise Conflict(f"refund of {refund.amount_fen} fen exceeds the {left} fen "
                           f"not yet refunded of payment {payment.payment_id}")
        payment.refunded_fen += refund.amount_fen
        self.refunds[refund.refund_id] = refund
        return refund, True

    def create_payout(self, new: Payout) -> tuple[Payout, bool]:
        """The payout `new.payout_id` and whether it was requested now."""
        old = self.payouts.get(new.payout_id)
        if old is None:
            self.payouts[new.payout_id] = new
            return new, True
        if (old.amount_fen, old.account, old.notify_url) != (
                new.amount_fen, new.account, new.notify_url):
            raise Conflict(f"payout_id {new.payout_id} was used with other terms")
        return old, False

    def finish_payout(self, payout_id: str, now: float) -> Payout:
        """The transfer is done: `paid`, or `failed` as decided when it was requested."""
        payout = self.payouts[payout_id]
        payout.status = "failed" if payout.fails else "paid"
        payout.reason = PAYOUT_FAILED if payout.fails else None
        payout.finished_at = now
        return payout

    def counts(self) -> dict[str, dict[str, int]]:
        """How many payments and payouts are in each status, and the refunds."""
        payments = dict.fromkeys(("created", "succeeded", "declined", "closed"), 0)
        for payment in self.payments.values():
            payments[payment.status] += 1
        payouts = dict.fromkeys(("processing", "paid", "failed"), 0)
        for payout in self.payouts.values():
            payouts[payout.status] += 1
        refunded = sum(r.amount_fen for r in self.refunds.values())
        return {"payments": payments, "payouts": payouts,
                "refunds": {"count": len(self.refunds), "amount_fen": refunded}}
