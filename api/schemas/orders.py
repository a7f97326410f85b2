"""G2 orders, recharges, wallets and withdrawals (specs/business.md §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Iccid, Ident, Strict

Fen = Annotated[int, Field(gt=0, le=10**12, description="integer fen (C-01)")]
Method = Literal["online", "wallet", "agent_wallet"]


class PackageOrderCreate(Strict):
    """A package for one card (G2-02, G2-03): `online` or `wallet` (Flow 1, the card's
    user pays the retail price), `agent_wallet` (Flow 2, the selling agent pays its cost)."""

    package_id: Ident
    iccid: Iccid
    method: Method
    agent_id: Ident | None = Field(default=None, description=(
        "the selling agent (default: the caller's agent; an enterprise names it)"))


class RechargeCreate(Strict):
    """Money prestored into a wallet (G2-12…G2-14): a card's (`iccid`), the caller agent's
    (`agent`) or the caller enterprise's (`enterprise`)."""

    wallet: Literal["card", "agent", "enterprise"]
    iccid: Iccid | None = None
    amount_fen: Fen


class WithdrawalCreate(Strict):
    """An agent's cash-out (G2-15) to `account` (a bank card or channel account)."""

    amount_fen: Fen
    account: Annotated[str, Field(min_length=1, max_length=64)]


class Rejection(Strict):
    """Why: a withdrawal's rejection, an order's refund."""

    reason: Annotated[str, Field(min_length=1, max_length=200)]


class RefundCreate(Strict):
    """A refund (SM-G2-ORDER, SM-G2-RECHARGE): why, and how much (absent: all that remains
    refundable; a package order is refunded in part only once completed)."""

    reason: Annotated[str, Field(min_length=1, max_length=200)]
    amount_fen: Fen | None = None


class OrderPublic(BaseModel):
    order_id: str
    kind: Literal["package", "recharge", "withdrawal", "number_card_event", "card_purchase"]
    state: str
    method: str | None
    agent_id: str | None
    iccid: str | None
    enterprise_id: str | None
    wallet: str | None
    package_id: str | None
    amount_fen: int = Field(description="what the payer pays (withdrawal: the amount asked)")
    fee_fen: int
    price_chain: dict[str, Any] | None = Field(description="the G1-13 snapshot")
    price_risks: list[str]
    intercepted: bool
    payment_id: str | None
    pay_url: str | None = Field(description="where the payer pays (online)")
    reason: str | None
    created_at: datetime
    updated_at: datetime
    pay_due_at: datetime | None
    paid_at: datetime | None
    finished_at: datetime | None
    package_before: int | None = Field(
        default=None, description="the card's package_bytes before this order applied its "
                                  "package (G2-20: what a refund restores)")
    package_added: int | None = Field(
        default=None, description="the bytes this order added to its card (null: not applied)")
    package_applied_at: datetime | None = None
    package_reverted_at: datetime | None = None
    activation_asked_at: datetime | None = Field(
        default=None, description="when fulfilment asked for the card to be opened (G2-17)")
    counted: bool = Field(
        default=False, description="in its card's package count (G2-19)")
    event_type: str | None = Field(
        default=None, description="number_card_event: the operator's card event type")
    quantity: int | None = Field(default=None, description="card_purchase: how many cards")
    allocated: list[str] | None = Field(
        default=None, description="card_purchase: the cards allocated at completion")
    refunded_fen: int = Field(default=0, description="paid back so far (refunds in parts)")
    released_at: datetime | None = Field(
        default=None, description="when a platform user released the interception (G1-18)")
    released_by: str | None = None


class CardProductSet(Strict):
    """The product (a package) a card is registered with; null: none (a traffic card)."""

    product_id: Ident | None


class CardProduct(BaseModel):
    iccid: str
    product_id: str | None
    business_line: str | None = Field(description="number_card: the card is a number card")


class CardPurchaseCreate(Strict):
    """Physical cards of a product at its `card_price_fen` (G2-01, G1-17): an end user buys
    one, online; an enterprise's admin any number, online or from its wallet."""

    product_id: Ident
    quantity: Annotated[int, Field(ge=1, le=100_000)] = 1
    method: Literal["online", "enterprise_wallet"] = "online"


class WalletPublic(BaseModel):
    account: str
    balance_fen: int
    available_fen: int


class StatementLinePublic(BaseModel):
    at: datetime
    transfer_id: str
    counterparty: str
    amount_fen: int = Field(description="> 0 credits the wallet, < 0 debits it")
    fee_type: str
    order_id: str | None
    balance_after_fen: int


class StatementPublic(BaseModel):
    """G2-25: every entry with time, order, fee type, amount and balance after; the closing
    balance equals the ledger's."""

    account: str
    opening_fen: int
    closing_fen: int
    debits_fen: int
    credits_fen: int
    lines: list[StatementLinePublic]


class PackageOrderBatchItem(PackageOrderCreate):
    """One order of a batch, with its own idempotency key (C-05)."""

    idempotency_key: Annotated[str, Field(min_length=1, max_length=128)]


class PackageOrderBatch(Strict):
    """Up to 500 package orders in one request (`POST /v1/orders/batch`)."""

    orders: Annotated[list[PackageOrderBatchItem], Field(min_length=1, max_length=500)]


class RefusalPublic(BaseModel):
    code: str
    message_zh: str
    message_en: str


class BatchResultPublic(BaseModel):
    """One item's answer, with the status the single create would answer: 201 and the order
    (made now, or first made under its key), or 409 / 422 and the refusal."""

    idempotency_key: str
    status: int
    order: OrderPublic | None = None
    error: RefusalPublic | None = None


class PackageOrderBatchPublic(BaseModel):
    results: list[BatchResultPublic]
