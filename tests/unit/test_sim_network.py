"""The simulated operator's pure model: cards, orders, cooldown, holds, usage by Beijing date,
tokens, jobs, limits, faults."""

from __future__ import annotations

from datetime import date

from simulators.beijing import add_months, cycle_start, day_of, midnight, month_end, stamp
from simulators.fleet_state import OWN_STOP, SimNetwork
from simulators.gates import Faults, RateLimiter, TokenBook
from simulators.orders import CardResult

ICCID = "8986001234567890123"
OTHER = ICCID[:-1] + "9"


def test_unseen_card_is_active_and_changes_are_counted() -> None:
    net = SimNetwork(cooldown_s=180)
    assert net.card(ICCID).status == "active"
    assert net.request(ICCID, "stopped", now=0, completion_s=0)[0] == "accepted"
    assert net.request(ICCID, "stopped", now=1, completion_s=0) == ("repeat", None)
    assert net.request(ICCID, "active", now=100, completion_s=0) == ("cooldown", None)
    assert net.request(ICCID, "active", now=181, completion_s=0)[0] == "accepted"
    assert net.card(ICCID).status_changes == 2


def test_an_order_takes_effect_when_due_and_is_logged_then() -> None:
    net = SimNetwork(cooldown_s=180)
    outcome, order = net.request(ICCID, "stopped", now=10, completion_s=5)
    assert outcome == "accepted" and order is not None and order.state == "inProgress"
    card = net.card(ICCID)
    assert (card.status, card.target, card.last_change) == ("active", "stopped", 10)
    assert net.request(ICCID, "stopped", now=12, completion_s=5) == ("repeat", None)
    net.settle(now=14.9)
    assert card.status == "active"
    net.settle(now=15)
    assert (order.state, card.status, card.stop_reason) == ("completed", "stopped", OWN_STOP)
    assert net.changes_after(0, 10) == [(1, ICCID, "stopped", 15)]  # when it took effect


def test_held_cards_refuse_our_resume_but_not_our_stop() -> None:
    net = SimNetwork(cooldown_s=0)
    net.edit(ICCID, {"status": "stopped", "stop_reason": "欠费停机"}, now=0)
    card = net.card(ICCID)
    assert card.held and card.hold_reason == "欠费停机"
    assert net.request(ICCID, "active", now=1, completion_s=0) == ("held", None)
    assert net.request(ICCID, "stopped", now=1, completion_s=0) == ("repeat", None)
    net.edit(ICCID, {"stop_reason": None, "frozen": True}, now=2)
    assert card.held and card.hold_reason == "管理停机冻结"
    net.edit(ICCID, {"frozen": False}, now=3)
    assert not card.held
    assert net.request(ICCID, "active", now=4, completion_s=0)[0] == "accepted"
    assert (card.status, card.stop_reason) == ("active", None)


def test_freezing_an_active_card_stops_it_and_a_late_resume_order_fails() -> None:
    net = SimNetwork(cooldown_s=0)
    net.request(ICCID, "stopped", now=0, completion_s=0)
    _, order = net.request(ICCID, "active", now=1, completion_s=10)
    net.edit(ICCID, {"frozen": True}, now=2)  # the operator freezes it before the order is due
    net.settle(now=11)
    assert order is not None and order.state == "failed"
    assert net.card(ICCID).status == "stopped"
    net.edit(OTHER, {"frozen": True}, now=12)
    assert net.card(OTHER).status == "stopped"  # a management stop


def test_numbers_bind_one_card_each() -> None:
    net = SimNetwork(cooldown_s=0)
    net.register(ICCID, "14800000001", "pb", now=0)
    assert net.iccid_of("14800000001") == ICCID
    assert net.numbers.conflict(OTHER, "14800000001") == ICCID
    assert net.numbers.conflict(ICCID, "14800000001") is None
    net.edit(ICCID, {"msisdn": "14800000002"}, now=1)
    assert net.iccid_of("14800000001") is None
    assert (net.iccid_of("14800000002"), net.card(ICCID).platform) == (ICCID, "pb")


def test_stats_group_by_dialect() -> None:
    net = SimNetwork(cooldown_s=0)
    net.count("jasper", "accepted")
    net.count("jasper", "accepted")
    net.count("onelink", "cooldown")
    assert net.stats_view() == {"jasper": {"accepted": 2}, "onelink": {"cooldown": 1}}


def test_usage_is_per_beijing_day_and_t1_lag_hides_today() -> None:
    net = SimNetwork(cooldown_s=0)
    card = net.card(ICCID)
    first, today = date(2025, 3, 1), date(2025, 3, 10)
    net.add_usage(ICCID, 1000, date(2025, 2, 28))  # last month
    net.add_usage(ICCID, 24, date(2025, 3, 9))
    net.add_usage(ICCID, 5, today)
    assert net.usage_since(card, first, today) == 29
    net.usage_lag = "t-1"
    assert net.usage_since(card, first, today) == 24
    assert net.usage_days(card, first, today) == 1
    net.usage_lag = "none"
    card.platform = "pb"
    assert net.usage_since(card, first, today) == 24  # PB numbers lag without the knob


def test_beijing_calendar() -> None:
    eve = midnight(date(2025, 4, 1)) - 30
    assert day_of(eve) == date(2025, 3, 31) and day_of(eve + 60) == date(2025, 4, 1)
    assert stamp(eve) == "2025-03-31 23:59:30"
    assert midnight(date(2025, 4, 1)) % 86_400 == 16 * 3600  # 00:00 +08:00 is 16:00 UTC
    assert cycle_start(date(2025, 3, 27), 27) == date(2025, 3, 27)
    assert cycle_start(date(2025, 3, 26), 27) == date(2025, 2, 27)
    assert cycle_start(date(2025, 1, 5), 27) == date(2024, 12, 27)
    assert add_months(date(2025, 1, 1), -1) == date(2024, 12, 1)
    assert month_end(date(2024, 2, 1)) == date(2024, 2, 29)


def test_tokens_belong_to_their_appid_and_expire() -> None:
    book = TokenBook()
    token = book.issue("app1", now=0, ttl_s=10)
    other = book.issue("app1", now=5, ttl_s=10)
    assert token != other
    assert book.appid_of(token, now=9.9) == "app1"
    assert book.appid_of(token, now=10) is None
    assert book.appid_of(other, now=14) == "app1"
    assert book.appid_of("made-up", now=0) is None
    assert book.appid_of(None, now=0) is None
    book.issue("app2", now=20, ttl_s=10)
    assert token not in book.tokens and other not in book.tokens  # expired ones are dropped


def test_batch_job_completes_at_its_due_time_with_card_outcomes() -> None:
    net = SimNetwork(cooldown_s=180)
    net.request(OTHER, "stopped", now=0, completion_s=0)
    net.request(OTHER, "active", now=200, completion_s=0)  # changed at 200: cooldown until 380
    job_id = net.submit_batch([ICCID, OTHER, ICCID], "stopped", now=300, delay_s=0.2)
    net.settle(now=300.1)
    job = net.jobs[job_id]
    assert job.results is None and net.card(ICCID).status == "active"
    net.settle(now=400)
    assert job.results == [CardResult(ICCID, "accepted"), CardResult(OTHER, "cooldown"),
                           CardResult(ICCID, "repeat")]
    assert net.card(ICCID).last_change == 300.2  # changed when the job was due, not when seen
    assert len(net.schedule) == 0


def test_batch_cards_fail_one_by_one_with_injected_errors() -> None:
    net = SimNetwork(cooldown_s=0)
    job_id = net.submit_batch([ICCID], "stopped", now=0, delay_s=0)
    net.settle(now=0, error_rate=1.0)
    assert net.jobs[job_id].results == [CardResult(ICCID, "error")]
    assert net.card(ICCID).status == "active"


def test_orders_and_jobs_complete_in_due_order() -> None:
    net = SimNetwork(cooldown_s=0)
    net.submit_batch([ICCID], "stopped", now=0, delay_s=2)
    _, order = net.request(ICCID, "stopped", now=0, completion_s=1)
    net.settle(now=5)
    assert order is not None and order.state == "completed"
    assert [r.outcome for r in net.jobs["100001"].results or []] == ["repeat"]


def test_rate_limiter_bucket_and_one_in_flight() -> None:
    limiter = RateLimiter()
    assert limiter.acquire("acct", now=0, rate_per_s=5)
    assert not limiter.acquire("acct", now=0, rate_per_s=5)  # the first is still in flight
    assert limiter.acquire("other", now=0, rate_per_s=5)  # accounts are independent
    limiter.release("acct")
    for _ in range(4):
        assert limiter.acquire("acct", now=0, rate_per_s=5)
        limiter.release("acct")
    assert not limiter.acquire("acct", now=0, rate_per_s=5)  # 5 in the same second
    assert not limiter.acquire("acct", now=0.1, rate_per_s=5)
    assert limiter.acquire("acct", now=0.2, rate_per_s=5)  # refilled one token


def test_faults_are_reproducible_from_the_seed() -> None:
    first, second = Faults(seed=7), Faults(seed=7)
    draws = [first.draw(0.3, 0.3) for _ in range(200)]
    assert draws == [second.draw(0.3, 0.3) for _ in range(200)]
    assert {"rate_limited", "error", None} == set(draws)
    assert all(Faults().draw(0, 0) is None for _ in range(100))
    assert all(Faults().draw(1, 0) == "rate_limited" for _ in range(10))
    assert all(Faults().draw(0, 1) == "error" for _ in range(10))
    first.reseed(7)
    assert [first.draw(0.3, 0.3) for _ in range(200)] == draws


def test_add_months_and_cycle_start_agree_over_years() -> None:
    day = date(2023, 1, 1)
    while day < date(2026, 1, 1):
        start = cycle_start(day, 27)
        assert start <= day and start.day == 27
        assert (day - start).days < 31
        day = day.fromordinal(day.toordinal() + 1)
