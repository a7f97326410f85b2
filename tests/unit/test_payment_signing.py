"""Verifying payment-channel callbacks (`core.payments`): signed over "<timestamp>.<body>",
fresh within the skew window, read into a typed notification, or refused saying why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.payments import (
    NotificationProblem,
    PaymentNotification,
    PayoutNotification,
    RefundNotification,
    notification_body,
    notification_headers,
    verify_notification,
)
from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

pytestmark = pytest.mark.req("G2-10", "G2-13")
SECRET = "channel-secret-0123456789"
NOW = 1_800_000_000.0
PAID = PaymentNotification(kind="payment", notify_id="ntf_1", payment_id="pay_1",
                           merchant_order_id="order-1", amount_fen=9000, status="succeeded",
                           paid_at=datetime(2027, 1, 15, 4, 0, tzinfo=UTC))


def check(body: bytes, headers: dict[str, str], now: float = NOW,
          secret: str | list[str] | None = SECRET) -> object:
    return verify_notification(secret, headers.get(TIMESTAMP_HEADER),
                               headers.get(SIGNATURE_HEADER), body, now)


def signed(body: bytes, at: float = NOW, secret: str = SECRET) -> dict[str, str]:
    return notification_headers(secret, body, at)


def test_a_good_callback_gives_the_typed_notification() -> None:
    body = notification_body(PAID)
    assert check(body, signed(body), now=NOW + 299) == PAID
    assert PAID.subject == "payment:pay_1"


def test_the_signature_is_the_push_signature_formula() -> None:
    body = notification_body(PAID)
    assert signed(body)[SIGNATURE_HEADER] == sign(SECRET, int(NOW), body)
    assert signed(body)[TIMESTAMP_HEADER] == str(int(NOW))


@pytest.mark.parametrize("notification", [
    RefundNotification(kind="refund", notify_id="ntf_2", refund_id="r1", payment_id="pay_1",
                       merchant_order_id="order-1", amount_fen=1, status="succeeded",
                       refunded_at=datetime(2027, 1, 15, tzinfo=UTC)),
    PayoutNotification(kind="payout", notify_id="ntf_3", payout_id="w1", amount_fen=100,
                       status="failed", finished_at=datetime(2027, 1, 15, tzinfo=UTC),
                       reason="account closed"),
])
def test_refunds_and_payouts_read_back_as_their_kind(notification: object) -> None:
    body = notification_body(notification)  # type: ignore[arg-type]
    assert check(body, signed(body)) == notification


def test_a_bad_signature_is_refused_401() -> None:
    body = notification_body(PAID)
    assert check(body, signed(body, secret="someone-else-s-secret")) == NotificationProblem(
        401, "signature does not match")


def test_a_stale_or_future_callback_is_refused() -> None:
    body = notification_body(PAID)
    for at in (NOW - 301, NOW + 301):
        problem = check(body, signed(body, at=at))
        assert isinstance(problem, NotificationProblem) and problem.status_code == 401
        assert "more than 300 s away" in problem.reason


def test_a_replayed_signature_on_another_body_is_refused() -> None:
    """An intercepted callback's headers, replayed with a body changed to another amount."""
    body = notification_body(PAID)
    forged = notification_body(PAID.model_copy(update={"amount_fen": 1}))
    assert check(forged, signed(body)) == NotificationProblem(401, "signature does not match")


def test_an_old_callback_replayed_as_it_was_is_refused_once_stale() -> None:
    body = notification_body(PAID)
    headers = signed(body, at=NOW)
    assert check(body, headers, now=NOW + 60) == PAID  # a repeat: the receiver dedupes it
    assert isinstance(check(body, headers, now=NOW + 3600), NotificationProblem)


def test_missing_headers_or_secret_are_refused_401() -> None:
    body = notification_body(PAID)
    assert check(body, {}) == NotificationProblem(
        401, f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required")
    no_secrets: list[str | list[str] | None] = [None, "", []]
    for secret in no_secrets:
        problem = check(body, signed(body), secret=secret)
        assert isinstance(problem, NotificationProblem) and problem.status_code == 401
        assert "CARDPULSE_PAYMENT_SECRET" in problem.reason


def test_during_a_rotation_either_secret_verifies() -> None:
    body = notification_body(PAID)
    assert check(body, signed(body, secret="old-secret"), secret=[SECRET, "old-secret"]) == PAID


@pytest.mark.req("C-01")
@pytest.mark.parametrize(("body", "where"), [
    (b"not json", "body"),
    (b'{"kind": "payment"}', "payment.notify_id"),
    (b'{"kind": "gift", "notify_id": "n", "amount_fen": 1}', "body"),
    (notification_body(PAID).replace(b'"amount_fen":9000', b'"amount_fen":90.5'),
     "payment.amount_fen"),
    (notification_body(PAID).replace(b'"amount_fen":9000', b'"amount_fen":0'),
     "payment.amount_fen"),
    (notification_body(PAID).replace(b'04:00:00Z"', b'04:00:00"'), "payment.paid_at"),
])
def test_a_signed_body_that_is_no_notification_is_refused_400(body: bytes, where: str) -> None:
    problem = check(body, signed(body))
    assert isinstance(problem, NotificationProblem), problem
    assert problem.status_code == 400 and where in problem.reason, problem.reason
