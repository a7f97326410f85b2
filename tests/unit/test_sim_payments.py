"""The payment-channel simulator in process (ASGI, callbacks recorded, no sockets): its rules,
knobs and seeded randomness, and the platform's client against it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from connectors.payments import PaymentChannel, PaymentChannelClient, PaymentChannelError
from core.money import Fen
from simulators.payments.channel import PayChannel
from simulators.payments.knobs import PayKnobs, pay_knobs_from_env
from simulators.payments.notify import acknowledged, backoff_s
from tests.support.payments import Recorded, pay_in_process
from tests.support.waiting import eventually_async

ORDER = {"merchant_order_id": "order-1", "amount_fen": 9000, "subject": "10GB 套餐",
         "notify_url": "http://platform/notify"}


async def create(http: httpx.AsyncClient, **changes: Any) -> httpx.Response:
    return await http.post("/_pay/payments", json={**ORDER, **changes})


async def paid(http: httpx.AsyncClient, **changes: Any) -> str:
    """A succeeded payment's id."""
    payment_id: str = (await create(http, **changes)).json()["payment_id"]
    assert (await http.post(f"/_pay/payments/{payment_id}/pay")).json()["status"] == "succeeded"
    return payment_id


async def delivered(channel: PayChannel, recorded: Recorded) -> list[dict[str, Any]]:
    """The bodies sent, once no delivery is pending."""
    async def settled() -> bool:
        processing = any(p.status == "processing" for p in channel.book.payouts.values())
        return not processing and channel.notifier.copies["pending"] == 0

    await eventually_async(settled, what="deliveries settled")
    return [orjson.loads(body) for _, body, _ in recorded.sent]


@pytest.mark.req("C-05", "G2-10")
async def test_creating_a_payment_twice_gives_the_same_payment() -> None:
    async with pay_in_process() as (http, _, _):
        first = await create(http)
        again = await create(http)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == again.json()
        assert first.json()["status"] == "created" and first.json()["pay_url"].startswith(
            "http://sim/_pay/checkout/")
        other_terms = await create(http, amount_fen=1)
        assert other_terms.status_code == 409 and "other terms" in other_terms.json()["detail"]


@pytest.mark.req("C-01")
@pytest.mark.parametrize("amount", [0, -5, 90.5, "9000", True])
async def test_amounts_are_whole_positive_fen(amount: object) -> None:
    async with pay_in_process() as (http, _, _):
        assert (await create(http, amount_fen=amount)).status_code == 422


@pytest.mark.req("G2-10")
async def test_paying_notifies_once_and_paying_again_changes_nothing() -> None:
    async with pay_in_process() as (http, channel, recorded):
        payment_id = await paid(http)
        again = await http.post(f"/_pay/payments/{payment_id}/pay")
        assert again.status_code == 200 and again.json()["status"] == "succeeded"
        [body] = await delivered(channel, recorded)
        assert body["kind"] == "payment" and body["payment_id"] == payment_id
        assert (body["amount_fen"], body["status"]) == (9000, "succeeded")


async def test_a_closed_payment_cannot_be_paid_and_a_paid_one_cannot_be_closed() -> None:
    async with pay_in_process() as (http, _, _):
        payment_id = (await create(http)).json()["payment_id"]
        closed = await http.post(f"/_pay/payments/{payment_id}/close")
        assert closed.json()["status"] == "closed"
        assert (await http.post(f"/_pay/payments/{payment_id}/pay")).status_code == 409
        other = await paid(http, merchant_order_id="order-2")
        assert (await http.post(f"/_pay/payments/{other}/close")).status_code == 409
        assert (await http.get("/_pay/payments/pay_nothing")).status_code == 404


@pytest.mark.req("C-05")
async def test_refunds_add_up_to_at_most_the_paid_amount() -> None:
    async with pay_in_process() as (http, _, _):
        unpaid = (await create(http, merchant_order_id="order-0")).json()["payment_id"]
        refused = await http.post(f"/_pay/payments/{unpaid}/refunds",
                                  json={"refund_id": "r0", "amount_fen": 1})
        assert refused.status_code == 409
        payment_id = await paid(http)
        url = f"/_pay/payments/{payment_id}/refunds"
        first = await http.post(url, json={"refund_id": "r1", "amount_fen": 5000})
        repeat = await http.post(url, json={"refund_id": "r1", "amount_fen": 5000})
        assert (first.status_code, repeat.status_code) == (201, 200)
        over = await http.post(url, json={"refund_id": "r2", "amount_fen": 4001})
        assert over.status_code == 409 and "exceeds the 4000 fen" in over.json()["detail"]
        reused = await http.post(url, json={"refund_id": "r1", "amount_fen": 10})
        assert reused.status_code == 409
        rest = await http.post(url, json={"refund_id": "r2", "amount_fen": 4000})
        assert rest.status_code == 201
        view = (await http.get(f"/_pay/payments/{payment_id}")).json()
        assert view["refunded_fen"] == 9000


async def test_without_a_secret_the_channel_takes_no_money() -> None:
    async with pay_in_process(secret=None) as (http, _, _):
        refused = await create(http)
        assert refused.status_code == 503 and "CARDPULSE_PAYMENT_SECRET" in refused.text


async def test_decline_next_counts_down_then_payments_succeed() -> None:
    async with pay_in_process(decline_next=2) as (http, channel, recorded):
        statuses = [(await http.post(f"/_pay/payments/{pid}/pay")).json()["status"]
                    for pid in [(await create(http, merchant_order_id=f"o{i}")).json()[
                        "payment_id"] for i in range(3)]]
        assert statuses == ["declined", "declined", "succeeded"]
        assert (await http.get("/_pay/knobs")).json()["decline_next"] == 0
        bodies = await delivered(channel, recorded)
        assert [b["status"] for b in bodies] == statuses
        assert bodies[0]["paid_at"] is None and bodies[0]["reason"]


async def outcomes(seed: int) -> list[str]:
    async with pay_in_process(decline_rate=0.5, seed=seed) as (http, _, _):
        found = []
        for i in range(12):
            pid = (await create(http, merchant_order_id=f"o{i}")).json()["payment_id"]
            found.append((await http.post(f"/_pay/payments/{pid}/pay")).json()["status"])
        return found


async def test_the_seed_makes_declines_reproducible() -> None:
    first, again, other = await outcomes(7), await outcomes(7), await outcomes(8)
    assert first == again and {"declined", "succeeded"} == set(first)
    assert other != first


async def test_repeated_callbacks_carry_one_notify_id() -> None:
    async with pay_in_process(repeat_callbacks=3, callback_jitter_ms=5) as (
            http, channel, recorded):
        await paid(http)
        bodies = await delivered(channel, recorded)
        assert len(bodies) == 3 and len({b["notify_id"] for b in bodies}) == 1


async def test_a_lost_or_unacknowledged_attempt_is_retried_until_success() -> None:
    async with pay_in_process(drop_first=1) as (http, channel, recorded):
        recorded.answers = [(500, b"busy"), (200, b"ok"), (200, b" success\n")]
        await paid(http)
        await delivered(channel, recorded)
        attempts = (await http.get("/_pay/notifications")).json()
        assert [a["outcome"] for a in attempts] == [
            "dropped", "refused", "refused", "acknowledged"]
        assert [a["http_status"] for a in attempts] == [None, 500, 200, 200]
        stats = (await http.get("/_pay/stats")).json()["notifications"]
        assert stats["copies_acknowledged"] == 1 and stats["attempts_refused"] == 2


async def test_after_max_attempts_the_channel_gives_up() -> None:
    async with pay_in_process(max_attempts=2) as (http, channel, recorded):
        recorded.answers = [(500, b"")] * 5
        await paid(http)
        await delivered(channel, recorded)
        assert len(recorded.sent) == 2
        assert (await http.get("/_pay/stats")).json()["notifications"]["copies_gave_up"] == 1


@pytest.mark.req("G2-15", "C-05")
async def test_payouts_are_idempotent_and_fail_as_the_knobs_say() -> None:
    async with pay_in_process(payout_fail_next=1) as (http, channel, recorded):
        body = {"payout_id": "w1", "amount_fen": 100, "account": "6222 0000",
                "notify_url": "http://platform/notify"}
        first = await http.post("/_pay/payouts", json=body)
        assert first.status_code == 201 and first.json()["status"] == "processing"
        assert (await http.post("/_pay/payouts", json=body)).status_code == 200
        assert (await http.post("/_pay/payouts", json={**body, "amount_fen": 5})
                ).status_code == 409
        await http.post("/_pay/payouts", json={**body, "payout_id": "w2"})
        bodies = await delivered(channel, recorded)
        assert [(b["payout_id"], b["status"]) for b in bodies] == [("w1", "failed"),
                                                                    ("w2", "paid")]
        assert (await http.get("/_pay/payouts/w1")).json()["status"] == "failed"


async def test_business_times_follow_the_channel_s_clock_offset() -> None:
    """`time_offset_s` moves `paid_at` as a test moves the platform clock (three days here)."""
    async with pay_in_process(time_offset_s=3 * 86_400) as (http, channel, recorded):
        payment_id = await paid(http)
        [body] = await delivered(channel, recorded)
        view = (await http.get(f"/_pay/payments/{payment_id}")).json()
        assert view["paid_at"] == body["paid_at"]
        moved = datetime.fromisoformat(body["paid_at"]) - datetime.now(UTC)
        assert timedelta(days=2) < moved < timedelta(days=4)
        stamp = int(recorded.sent[0][2]["X-Cardpulse-Timestamp"])
        assert abs(stamp - time.time()) < 3600  # the signature stays on the wall clock


async def test_the_checkout_page_pays() -> None:
    async with pay_in_process() as (http, _, _):
        created = (await create(http, subject="<b>套餐</b>")).json()
        page = await http.get(created["pay_url"])
        assert "¥90.00" in page.text and "&lt;b&gt;" in page.text and "<form" in page.text
        after = await http.post(created["pay_url"])
        assert "succeeded" in after.text and "<form" not in after.text


def test_knobs_from_the_environment() -> None:
    env = {"CARDPULSE_PAY_DECLINE_RATE": "0.25", "CARDPULSE_PAY_REPEAT_CALLBACKS": "3",
           "CARDPULSE_PAY_DROP_FIRST": " ", "CARDPULSE_TEST_RANDOM_SEED": "42"}
    assert pay_knobs_from_env(env) == PayKnobs(decline_rate=0.25, repeat_callbacks=3, seed=42)
    own_seed = {"CARDPULSE_TEST_RANDOM_SEED": "42", "CARDPULSE_PAY_SEED": "5"}
    assert pay_knobs_from_env(own_seed).seed == 5
    with pytest.raises(ValueError, match="CARDPULSE_PAY_DECLINE_RATE='2'"):
        pay_knobs_from_env({"CARDPULSE_PAY_DECLINE_RATE": "2"})


async def test_knobs_over_http_refuse_nonsense() -> None:
    async with pay_in_process() as (http, _, _):
        answer = await http.put("/_pay/knobs", json={"repeat_callbacks": 0})
        assert answer.status_code == 422 and "repeat_callbacks" in answer.text
        assert (await http.put("/_pay/knobs", json={"nope": 1})).status_code == 422
        changed = await http.put("/_pay/knobs", json={"callback_delay_ms": 5})
        assert changed.json()["callback_delay_ms"] == 5


def test_backoff_doubles_up_to_the_cap_and_only_success_acknowledges() -> None:
    knobs = PayKnobs(retry_base_ms=100, retry_cap_ms=500)
    assert [backoff_s(knobs, n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.5]
    assert acknowledged(200, b"success") and acknowledged(204, b"success\r\n")
    assert not acknowledged(200, b"SUCCESS") and not acknowledged(500, b"success")
    assert not acknowledged(200, b"")


async def test_the_client_maps_the_channel_s_answers() -> None:
    async with pay_in_process() as (http, _, _):
        client: PaymentChannel = PaymentChannelClient(http, "http://sim/_pay/")
        payment = await client.create_payment("order-9", Fen(100), "http://p/n", "s")
        assert (payment.status, payment.amount_fen) == ("created", 100)
        assert (await client.get_payment(payment.payment_id)) == payment
        other = await paid(http, merchant_order_id="order-10")
        refund = await client.refund(other, "r-10", Fen(9000))
        assert await client.get_refund("r-10") == refund
        with pytest.raises(PaymentChannelError) as refused:
            await client.refund(payment.payment_id, "r1", Fen(1))
        assert (refused.value.status_code, refused.value.retryable) == (409, False)
        closed = await client.close_payment(payment.payment_id)
        assert closed.status == "closed"
        with pytest.raises(PaymentChannelError) as unknown:
            await client.get_payout("no/such")
        assert (unknown.value.status_code, unknown.value.retryable) == (404, False)


async def test_the_client_retries_what_may_succeed_later() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/down"):
            raise httpx.ConnectError("refused", request=request)
        if request.url.path.endswith("/busy"):
            return httpx.Response(503, json={"detail": "busy"})
        return httpx.Response(200, json={"payment_id": "p"})  # not a payment

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = PaymentChannelClient(http, "http://channel")
        for payment_id in ("down", "busy", "odd"):
            with pytest.raises(PaymentChannelError) as failed:
                await client.get_payment(payment_id)
            assert failed.value.retryable, payment_id
