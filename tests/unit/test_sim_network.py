"""The simulated operator's pure model: cards, cooldown, usage lag, tokens, jobs, limits, faults."""

from __future__ import annotations

from simulators.fleet_state import DAY_S, CardResult, Faults, RateLimiter, SimNetwork, TokenBook

ICCID = "8986001234567890123"


def test_unseen_card_is_active_and_changes_are_counted() -> None:
    net = SimNetwork(cooldown_s=180)
    assert net.card(ICCID).status == "active"
    assert net.change(ICCID, "stopped", now=0) == "accepted"
    assert net.change(ICCID, "stopped", now=1) == "repeat"
    assert net.change(ICCID, "active", now=100) == "cooldown"
    assert net.change(ICCID, "active", now=181) == "accepted"
    assert net.card(ICCID).status_changes == 2


def test_stats_group_by_dialect() -> None:
    net = SimNetwork(cooldown_s=0)
    net.count("jasper", "accepted")
    net.count("jasper", "accepted")
    net.count("onelink", "cooldown")
    assert net.stats_view() == {"jasper": {"accepted": 2}, "onelink": {"cooldown": 1}}


def test_usage_is_cumulative_and_t1_lag_hides_today() -> None:
    net = SimNetwork(cooldown_s=0)
    net.add_usage(ICCID, 1000, now=10)
    net.add_usage(ICCID, 24, now=20)
    assert net.usage_bytes(ICCID, now=30) == 1024
    net.usage_lag = "t-1"
    assert net.usage_bytes(ICCID, now=30) == 0
    net.add_usage(ICCID, 5, now=DAY_S + 1)
    assert net.usage_bytes(ICCID, now=DAY_S + 2) == 1024  # yesterday's, not today's 5
    net.usage_lag = "none"
    assert net.usage_bytes(ICCID, now=DAY_S + 2) == 1029


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
    other = ICCID[:-1] + "9"
    net.change(other, "stopped", now=0)
    net.change(other, "active", now=200)  # changed at 200: in cooldown until 380
    job_id = net.submit_batch([ICCID, other, ICCID], "stopped", now=300, delay_s=0.2)
    net.settle(now=300.1)
    job = net.jobs[job_id]
    assert job.results is None and net.card(ICCID).status == "active"
    net.settle(now=400)
    assert job.results == [CardResult(ICCID, "accepted"), CardResult(other, "cooldown"),
                           CardResult(ICCID, "repeat")]
    assert net.card(ICCID).last_change == 300.2  # changed when the job was due, not when seen
    assert net.pending == []


def test_batch_cards_fail_one_by_one_with_injected_errors() -> None:
    net = SimNetwork(cooldown_s=0)
    job_id = net.submit_batch([ICCID], "stopped", now=0, delay_s=0)
    net.settle(now=0, error_rate=1.0)
    assert net.jobs[job_id].results == [CardResult(ICCID, "error")]
    assert net.card(ICCID).status == "active"


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
