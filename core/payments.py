"""Payment-channel notifications: their wire schema and how the platform verifies one.

A payment channel (Alipay/WeChat Pay style; `make run` starts a simulated one under `/_pay` of
the simulator, `simulators/payments/`) tells the platform asynchronously that a payment
succeeded or was declined, a refund was made, or a payout (withdrawal) was paid or failed. It
POSTs one JSON notification to the `notify_url` the platform gave it, signed like the operator
pushes (`core.signing`): `X-Cardpulse-Timestamp` (unix seconds, the sender's clock) and
`X-Cardpulse-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with the shared
secret `CARDPULSE_PAYMENT_SECRET`. It repeats a notification until the receiver answers 2xx
with the body `success` (or it gives up), and may send it more than once, late or out of order.

What the receiving endpoint (the orders module's, G2) must do, in this order:
1. Read the raw body (before any JSON parsing) and call `verify_notification` with the two
   headers, the body and `time.time()`: the skew window is an agreement with the sender's
   clock, which the platform's test clock does not move (see `core.clock`). A
   `NotificationProblem` is answered with its `status_code` and nothing changes (the channel
   retries; a forged or stale request never gets `success`).
2. Check the notification against what the platform stored: the payment/refund/payout exists,
   and `amount_fen` and `merchant_order_id` equal the stored ones; a mismatch is recorded for
   a person and must not move money.
3. Apply it idempotently: dedupe by `notify_id` and, for the state change, by the subject
   (`Notification.subject`: `payment:<payment_id>` confirms an order at most once, SM-G2-ORDER
   "payment confirmed (idempotent by payment id)"), with a compare-and-set on the order's
   state in the same transaction as the ledger transfer. A notification for an order that is
   no longer `pending_payment` (cancelled after the 30-minute timeout, say) is recorded and
   acknowledged; what happens to that money is the orders module's decision (a refund).
4. Only after that is durable, answer 200 with the plain-text body `success` (`ACK_BODY`).
   A repeat of an applied notification also gets `success`; anything else makes the channel
   retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
)

from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signature_problem

ACK_BODY = b"success"  # what a receiver answers (HTTP 2xx) once a notification is applied
ACK_MEDIA_TYPE = "text/plain"
DEFAULT_MAX_SKEW_S = 300

Amount = Annotated[StrictInt, Field(gt=0)]  # fen (C-01): a JSON float is refused
Id = Annotated[str, Field(min_length=1, max_length=64)]


class _Wire(BaseModel):
    # Channels add fields over time; a signed notification with more fields is still good.
    model_config = ConfigDict(frozen=True, extra="ignore")

    notify_id: Id
    amount_fen: Amount


class PaymentNotification(_Wire):
    """A payment ended: `succeeded` (with `paid_at`) or `declined` (with a `reason`)."""

    kind: Literal["payment"]
    payment_id: Id
    merchant_order_id: Id
    status: Literal["succeeded", "declined"]
    paid_at: AwareDatetime | None = None
    reason: str | None = None

    @property
    def subject(self) -> str:
        return f"payment:{self.payment_id}"


class RefundNotification(_Wire):
    """A refund of (part of) a succeeded payment was made."""

    kind: Literal["refund"]
    refund_id: Id
    payment_id: Id
    merchant_order_id: Id
    status: Literal["succeeded"]
    refunded_at: AwareDatetime

    @property
    def subject(self) -> str:
        return f"refund:{self.refund_id}"


class PayoutNotification(_Wire):
    """A payout (an agent's withdrawal) was `paid` or `failed` (with a `reason`)."""

    kind: Literal["payout"]
    payout_id: Id
    status: Literal["paid", "failed"]
    finished_at: AwareDatetime
    reason: str | None = None

    @property
    def subject(self) -> str:
        return f"payout:{self.payout_id}"


Notification = Annotated[PaymentNotification | RefundNotification | PayoutNotification,
                         Field(discriminator="kind")]
NOTIFICATION: TypeAdapter[Notification] = TypeAdapter(Notification)


@dataclass(frozen=True)
class NotificationProblem:
    """Why a callback is refused: answer `status_code` (401 unsigned, 400 unreadable)."""

    status_code: int
    reason: str


def notification_body(notification: Notification) -> bytes:
    """The JSON body a channel sends for `notification` (times in RFC 3339 with offset)."""
    return NOTIFICATION.dump_json(notification)


def notification_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    """The headers that sign `body`, sent at unix time `now`."""
    stamp = str(int(now))
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body),
            "Content-Type": "application/json"}


def verify_notification(
    secret: str | Sequence[str] | None, timestamp: str | None, signature: str | None,
    body: bytes, now: float, max_skew_s: int = DEFAULT_MAX_SKEW_S,
) -> Notification | NotificationProblem:
    """The notification in `body` if it is signed with `secret` (or one of several, during a
    rotation) within `max_skew_s` of `now`, else the problem. Constant-time comparison."""
    secrets = [secret] if isinstance(secret, str) else list(secret or [])
    if not any(secrets):
        return NotificationProblem(401, "no payment secret is configured "
                                        "(CARDPULSE_PAYMENT_SECRET)")
    problem = signature_problem(secrets, timestamp, signature, body, now, max_skew_s)
    if problem:
        return NotificationProblem(401, problem)
    try:
        return NOTIFICATION.validate_json(body)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                          for e in exc.errors())
        return NotificationProblem(400, f"not a payment notification: {where}")

