"""What G2 refuses (C-06). Messages marked *(proposed)* are the spec's proposals; the seed
gives none of them verbatim."""

from __future__ import annotations

from domain.refusals import Refusal


class TransitionRefused(Refusal):
    """The order is not in a state where this event may happen (or not by this actor)."""

    code = "invalid_transition"
    message_zh = "订单当前状态不允许此操作"  # (proposed)
    message_en = "The order's state does not allow this operation"

    def __init__(self, kind: str, state: str, event: str) -> None:
        super().__init__(f"{kind} order in {state!r}: {event!r} is not allowed")
        self.state = state
        self.event = event


class WithdrawalBelowMin(Refusal):
    """G2-15 *(proposed)*."""

    code = "withdrawal_below_min"
    message_zh = "提现金额低于最低提现金额"
    message_en = "Amount is below the minimum withdrawal"
    field = "amount_fen"


class FirstPurchaseWalletOnly(Refusal):
    """G2-11 (message *(proposed)*)."""

    code = "first_purchase_wallet_only"
    message_zh = "该套餐首次购买仅支持钱包支付"
    message_en = "The first purchase of this package can only be paid from the wallet"


class IdempotencyConflict(Refusal):
    """C-05: the key was used before for another request."""

    code = "idempotency_conflict"
    message_zh = "幂等键已用于不同的请求"
    message_en = "The idempotency key was already used for a different request"


class PaymentUnavailable(Refusal):
    """The payment channel could not be reached to create a payment (retry later)."""

    code = "payment_unavailable"
    message_zh = "支付渠道暂不可用"  # (proposed)
    message_en = "The payment channel is unavailable; retry later"


class ReasonRequired(Refusal):
    """SM-G2-WITHDRAWAL: a rejection carries a reason."""

    code = "reason_required"
    message_zh = "驳回须填写原因"  # (proposed)
    message_en = "A rejection needs a reason"
    field = "reason"


class NumberCardNotSold(Refusal):
    """G2-09: number cards are paid to the factory; the platform sells no package of them."""

    code = "number_card_not_sold"
    message_zh = "号卡套餐由运营商/厂家直接收款"  # (proposed)
    message_en = "Number-card packages are paid to the operator or factory directly"


class InsufficientStock(Refusal):
    """G2-01/G1-17 *(proposed)*: the stock holds fewer cards of the product than ordered."""

    code = "insufficient_stock"
    message_zh = "库存不足"
    message_en = "Insufficient stock"


class CardsNotSold(Refusal):
    """The product has no card price (or is not listed): its cards are not for sale."""

    code = "cards_not_sold"
    message_zh = "该产品暂不销售实体卡"  # (proposed)
    message_en = "This product's cards are not for sale"


class RefundExceedsRefundable(Refusal):
    """A refund larger than what remains refundable of the order (SM-G2-ORDER), or than the
    recharge's amount (SM-G2-RECHARGE)."""

    code = "refund_exceeds_refundable"
    message_zh = "退款金额超过可退金额"  # (proposed)
    message_en = "The refund amount exceeds what remains refundable"
    field = "amount_fen"


class PartialRefundNotAllowed(Refusal):
    """SM-G2-ORDER: only a completed order is refunded in part; before completion the refund
    is full (the escrow still holds all of it)."""

    code = "partial_refund_not_allowed"
    message_zh = "仅已完成的订单可部分退款"  # (proposed)
    message_en = "Only a completed order can be refunded in part"


class NotIntercepted(Refusal):
    """G1-18: releasing an order that no price risk intercepted (or that was released)."""

    code = "not_intercepted"
    message_zh = "订单未被拦截"  # (proposed)
    message_en = "The order is not intercepted"
