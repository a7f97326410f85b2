"""The payment channel over real HTTP: the platform's client creates payments, refunds and
payouts on the simulator, and a real receiver gets the signed callbacks, verifies them and
acknowledges them (or not, as the test plans)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connectors.payments import PaymentChannelError
from core.money import Fen
from core.payments import PaymentNotification, PayoutNotification, RefundNotification
from tests.support.payments import QUICK, SECRET, Receiver, pay_world, served
from tests.support.simulator import Simulator

pytestmark = pytest.mark.integration


@pytest.mark.req("G2-10", "G2-13")
async def test_a_paid_payment_is_notified_signed_to_the_receiver() -> None:
    async with pay_world() as world:
        payment = await world.client.create_payment("order-1", Fen(9000), world.notify_url,
                                                     "10GB 套餐")
        assert payment.status == "created"
        assert (await world.pay(payment.payment_id))["status"] == "succeeded"
        [got] = await world.receiver.wait_for(1)
        notification = got.notification
        assert isinstance(notification, PaymentNotification)
        assert (notification.payment_id, notification.merchant_order_id) == (
            payment.payment_id, "order-1")
        assert (notification.amount_fen, notification.status) == (9000, "succeeded")
        assert notification.paid_at == (await world.client.get_payment(
            payment.payment_id)).paid_at
        stats = await world.settled()
        assert stats["notifications"]["copies_acknowledged"] == 1
        assert stats["payments"]["succeeded"] == 1


@pytest.mark.req("G2-10")
async def test_a_declined_payment_is_notified_declined() -> None:
    async with pay_world(decline_next=1) as world:
        payment = await world.client.create_payment("order-1", Fen(100), world.notify_url, "s")
        assert (await world.pay(payment.payment_id))["status"] == "declined"
        [got] = await world.receiver.wait_for(1)
        notification = got.notification
        assert isinstance(notification, PaymentNotification)
        assert notification.status == "declined" and notification.paid_at is None


@pytest.mark.req("C-05", "G2-13")
async def test_repeated_callbacks_in_any_order_carry_the_same_notify_id() -> None:
    async with pay_world(repeat_callbacks=3, callback_jitter_ms=30, seed=3) as world:
        first = await world.client.create_payment("order-1", Fen(100), world.notify_url, "s")
        second = await world.client.create_payment("order-2", Fen(200), world.notify_url, "s")
        await world.pay(first.payment_id)
        await world.pay(second.payment_id)
        got = await world.receiver.wait_for(6)
        by_payment: dict[str, set[str]] = {}
        for received in got:
            notification = received.notification
            assert isinstance(notification, PaymentNotification)
            by_payment.setdefault(notification.payment_id, set()).add(notification.notify_id)
        assert {k: len(v) for k, v in by_payment.items()} == {first.payment_id: 1,
                                                              second.payment_id: 1}
        await world.settled()
        assert len(world.receiver.got) == 6


@pytest.mark.req("G2-13")
async def test_the_channel_retries_until_the_receiver_answers_success() -> None:
    receiver = Receiver(answers=[(503, b"busy"), (200, b"received"), (200, b"success")])
    async with pay_world(receiver, drop_first=1) as world:
        payment = await world.client.create_payment("order-1", Fen(100), world.notify_url, "s")
        await world.pay(payment.payment_id)
        await world.settled()
        assert len(receiver.got) == 3  # the dropped first attempt never arrived
        assert len({r.body for r in receiver.got}) == 1
        attempts = await world.attempts()
        assert [a["outcome"] for a in attempts] == ["dropped", "refused", "refused",
                                                    "acknowledged"]


@pytest.mark.req("C-05")
async def test_partial_refunds_are_notified_and_an_over_refund_is_refused() -> None:
    async with pay_world() as world:
        payment = await world.client.create_payment("order-1", Fen(9000), world.notify_url,
                                                     "s")
        await world.pay(payment.payment_id)
        refund = await world.client.refund(payment.payment_id, "refund-1", Fen(3000))
        assert refund.amount_fen == 3000
        again = await world.client.refund(payment.payment_id, "refund-1", Fen(3000))
        assert again == refund
        with pytest.raises(PaymentChannelError, match="exceeds the 6000 fen") as over:
            await world.client.refund(payment.payment_id, "refund-2", Fen(6001))
        assert (over.value.status_code, over.value.retryable) == (409, False)
        got = await world.receiver.wait_for(2)
        kinds = {type(r.notification) for r in got}
        assert kinds == {PaymentNotification, RefundNotification}
        [refunded] = [r.notification for r in got
                      if isinstance(r.notification, RefundNotification)]
        assert (refunded.refund_id, refunded.amount_fen) == ("refund-1", 3000)
        assert (await world.client.get_payment(payment.payment_id)).refunded_fen == 3000


@pytest.mark.req("G2-15", "C-05")
async def test_payouts_are_notified_paid_or_failed() -> None:
    async with pay_world(payout_fail_next=1) as world:
        failed = await world.client.payout("w-1", Fen(5000), "6222 0000 1111", world.notify_url)
        assert failed.status == "processing"
        again = await world.client.payout("w-1", Fen(5000), "6222 0000 1111", world.notify_url)
        assert (again.payout_id, again.amount_fen) == ("w-1", 5000)  # perhaps finished by now
        await world.client.payout("w-2", Fen(100), "6222 0000 1111", world.notify_url)
        got = await world.receiver.wait_for(2)
        outcomes = {}
        for received in got:
            notification = received.notification
            assert isinstance(notification, PayoutNotification)
            outcomes[notification.payout_id] = notification.status
        assert outcomes == {"w-1": "failed", "w-2": "paid"}
        assert (await world.client.get_payout("w-1")).reason
        await world.settled()
        assert len(world.receiver.got) == 2


@pytest.mark.req("C-05")
async def test_creating_the_same_payment_twice_over_http_gives_one_payment() -> None:
    async with pay_world() as world:
        first = await world.client.create_payment("order-1", Fen(100), world.notify_url, "s")
        again = await world.client.create_payment("order-1", Fen(100), world.notify_url, "s")
        assert again == first
        assert (await world.settled())["payments"]["created"] == 1


async def test_the_simulator_process_serves_the_channel_with_the_configured_secret(
        tmp_path: Path) -> None:
    """`cardpulse simulator` as `up` starts it: the secret and knobs from its environment."""
    receiver = Receiver()
    env = {"CARDPULSE_PAYMENT_SECRET": SECRET, "CARDPULSE_PAY_REPEAT_CALLBACKS": "2",
           **{f"CARDPULSE_PAY_{k.upper()}": str(v) for k, v in QUICK.items()}}
    async with served(receiver) as receiver_url:
        sim = Simulator.with_env(tmp_path, env)
        try:
            async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
                created = await http.post("/_pay/payments", json={
                    "merchant_order_id": "order-1", "amount_fen": 100, "subject": "s",
                    "notify_url": receiver_url + "/notify"})
                assert created.status_code == 201, created.text
                await http.post(f"/_pay/payments/{created.json()['payment_id']}/pay")
                got = await receiver.wait_for(2)
                assert {r.notification.notify_id for r in got} == {
                    got[0].notification.notify_id}
        finally:
            sim.close()
