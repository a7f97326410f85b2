"""Refunds as the platform makes them (§7.2): the operator requests, finance approves."""

from __future__ import annotations

from typing import Any

from tests.support.orders import Shop
from tests.support.pricing import ok


async def request_refund(world: Shop, order_id: str, reason: str = "退款",
                         amount: int | None = None, by: str = "operator", code: int = 201,
                         key: str | None = None) -> Any:
    body: dict[str, Any] = {"reason": reason}
    if amount is not None:
        body["amount_fen"] = amount
    return await ok(world.who(by).post(f"/v1/orders/{order_id}/refund-requests", json=body,
                                       headers={"Idempotency-Key": key} if key else None), code)


async def approve(world: Shop, request_id: str, by: str = "finance", code: int = 200) -> Any:
    return await ok(world.who(by).post(f"/v1/refund-requests/{request_id}/approve"), code)


async def refund_approved(world: Shop, order_id: str, reason: str = "退款",
                          amount: int | None = None) -> dict[str, Any]:
    """Requested by the operator, approved by finance: the order as the approval answers."""
    made = await request_refund(world, order_id, reason, amount)
    decided = await approve(world, made["request_id"])
    assert decided["state"] == "approved", decided
    return dict(decided["order"])
