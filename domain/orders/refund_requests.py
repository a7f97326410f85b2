"""Refund requests (§7.2 "refund package order": the platform operator requests, platform
finance approves; SM-G2-ORDER): whether an order could be refunded now, decided the way the
refund itself decides it, and what a request's life refuses."""

from __future__ import annotations

from domain.orders import machines as sm
from domain.orders.errors import PartialRefundNotAllowed, RefundExceedsRefundable
from domain.refusals import Refusal

REFUNDED_KINDS = ("package", "card_purchase")
PARTIAL_STATES = ("completed", "partially_refunded")


class RefundAlreadyRequested(Refusal):
    """At most one open refund request per order *(proposed)*."""

    code = "refund_already_requested"
    message_zh = "该订单已有待审批的退款申请"  # (proposed)
    message_en = "The order already has a refund request waiting for approval"


class RefundRequestDecided(Refusal):
    """Approving a rejected request, rejecting an approved or failed one *(proposed)*."""

    code = "refund_request_decided"
    message_zh = "该退款申请已处理"  # (proposed)
    message_en = "The refund request has already been decided"


def check_refundable(kind: str, state: str, amount_fen: int, refunded_fen: int,
                     amount: int | None) -> None:
    """Refuse as the refund would, now: a state no refund leaves (409 `invalid_transition`),
    a part of a card purchase or of an order not completed (409 `partial_refund_not_allowed`),
    more than what remains (422 `refund_exceeds_refundable`)."""
    sm.step("card_purchase" if kind == "card_purchase" else "package", state,
            "refund_approved", "operator")
    if amount is None:
        return
    if kind == "card_purchase":
        if amount != amount_fen:
            raise PartialRefundNotAllowed()
        return
    left = amount_fen - refunded_fen
    if amount > left:
        raise RefundExceedsRefundable()
    if amount < left and state not in PARTIAL_STATES:
        raise PartialRefundNotAllowed()
