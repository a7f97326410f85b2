"""The simulated channel at run time: its knobs, book, seeded dice, clock and notifier.

Business times (`paid_at`, `refunded_at`, `finished_at`) come from a `core.clock.PlatformClock`
moved by the `time_offset_s` knob, so a test that moves the platform's clock can move the
channel's alike; signature timestamps stay on the wall clock, as between real parties.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.clock import PlatformClock
from core.payments import (
    Notification,
    PaymentNotification,
    PayoutNotification,
    RefundNotification,
)
from simulators.beijing import local
from simulators.knobs import changed
from simulators.payments.book import PayBook, Payment, Payout, Refund
from simulators.payments.knobs import PayKnobs
from simulators.payments.notify import HttpSender, Notifier, Sender


class NoSecret(RuntimeError):
    """No CARDPULSE_PAYMENT_SECRET: the channel cannot sign, so it takes no money (503)."""


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass
class PayChannel:
    """What every `/_pay` route shares. `secret` signs notifications; None refuses payments."""

    knobs: PayKnobs
    secret: str | None
    wall: Callable[[], float] = time.time
    sender: Sender | None = None
    book: PayBook = field(default_factory=PayBook.empty)
    clock: PlatformClock = field(init=False)
    notifier: Notifier = field(init=False)
    rng: random.Random = field(init=False)  # declines and payout failures
    jitter: random.Random = field(init=False)  # callback delays, apart: they vary in number

    def __post_init__(self) -> None:
        self._http = HttpSender()
        self.clock = PlatformClock(self.wall)
        self.clock.set_offset(self.knobs.time_offset_s)
        self.notifier = Notifier(self.sender or self._http, self.wall)
        self._reseed()

    def _reseed(self) -> None:
        self.rng = random.Random(self.knobs.seed)
        self.jitter = random.Random(f"{self.knobs.seed}-jitter")

    def update(self, changes: Mapping[str, Any]) -> PayKnobs:
        """Apply a subset of knobs; a given `seed` restarts the random sequence."""
        self.knobs = changed(self.knobs, changes)
        self.clock.set_offset(self.knobs.time_offset_s)
        if "seed" in changes:
            self._reseed()
        return self.knobs

    def _signing(self) -> str:
        if not self.secret:
            raise NoSecret("CARDPULSE_PAYMENT_SECRET is not set: the simulated channel "
                           "cannot sign notifications")
        return self.secret

    def _draw(self, next_knob: str, rate: float) -> bool:
        """One decision: the `next_knob` countdown first, else with probability `rate`."""
        hit = self.rng.random() < rate  # drawn every time: the sequence counts decisions
        left = int(getattr(self.knobs, next_knob))
        if left > 0:
            self.knobs = self.knobs.model_copy(update={next_knob: left - 1})
            return True
        return hit

    def _notify(self, url: str, notification: Notification) -> None:
        self.notifier.notify(url, notification, self._signing(), self.knobs, self.jitter)

    def create_payment(self, merchant_order_id: str, amount_fen: int, notify_url: str,
                       subject: str) -> tuple[Payment, bool]:
        self._signing()
        new = Payment(_new_id("pay"), merchant_order_id, amount_fen, notify_url, subject,
                      self.clock.time())
        return self.book.create_payment(new)

    def pay(self, payment_id: str) -> Payment:
        """The payer scans and pays: succeeded or declined (knobs), then the notification."""
        self._signing()
        undecided = self.book.payment(payment_id).status == "created"
        declined = undecided and self._draw("decline_next", self.knobs.decline_rate)
        payment, decided = self.book.pay(payment_id, self.clock.time(), declined)
        if decided:
            self._notify(payment.notify_url, PaymentNotification(
                kind="payment", notify_id=_new_id("ntf"), payment_id=payment.payment_id,
                merchant_order_id=payment.merchant_order_id, amount_fen=payment.amount_fen,
                status="declined" if payment.status == "declined" else "succeeded",
                paid_at=None if payment.paid_at is None else local(payment.paid_at),
                reason=payment.reason))
        return payment

    def close(self, payment_id: str) -> Payment:
        return self.book.close(payment_id)

    def refund(self, payment_id: str, refund_id: str, amount_fen: int) -> tuple[Refund, bool]:
        self._signing()
        refund, new = self.book.refund(Refund(refund_id, payment_id, amount_fen,
                                              self.clock.time()))
        if new:
            payment = self.book.payment(payment_id)
            self._notify(payment.notify_url, RefundNotification(
                kind="refund", notify_id=_new_id("ntf"), refund_id=refund_id,
                payment_id=payment_id, merchant_order_id=payment.merchant_order_id,
                amount_fen=amount_fen, status="succeeded",
                refunded_at=local(refund.refunded_at)))
        return refund, new

    def create_payout(self, payout_id: str, amount_fen: int, account: str, notify_url: str
                      ) -> tuple[Payout, bool]:
        """Accept a payout (`processing`); it finishes, paid or failed, right after."""
        self._signing()
        fails = (payout_id not in self.book.payouts
                 and self._draw("payout_fail_next", self.knobs.payout_failure_rate))
        payout, new = self.book.create_payout(Payout(payout_id, amount_fen, account, notify_url,
                                                     self.clock.time(), fails))
        if new:
            asyncio.get_running_loop().call_soon(self._finish_payout, payout_id)
        return payout, new

    def _finish_payout(self, payout_id: str) -> None:
        now = self.clock.time()
        payout = self.book.finish_payout(payout_id, now)
        self._notify(payout.notify_url, PayoutNotification(
            kind="payout", notify_id=_new_id("ntf"), payout_id=payout_id,
            amount_fen=payout.amount_fen, status="failed" if payout.fails else "paid",
            finished_at=local(now), reason=payout.reason))

    def stats(self) -> dict[str, Any]:
        return {**self.book.counts(), "notifications": self.notifier.stats()}

    async def aclose(self) -> None:
        """Stop pending deliveries and close the HTTP client."""
        await self.notifier.aclose()
        await self._http.aclose()
