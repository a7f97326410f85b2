"""The reconciler's pure parts: batching and order, next steps after an answer, limits."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from connectors.onelink import result_of
from core.limits import TokenBucket
from domain.control.plan import (
    Confirming,
    Work,
    after,
    after_check,
    backoff_s,
    not_before,
    plan,
    plan_round,
)
from domain.control.results import Result
from domain.usage.polling import delta

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def work(n: int, operator: str = "onelink", target: str = "stopped",
         used_min: int | None = None) -> Work:
    used = T0 + timedelta(minutes=used_min) if used_min is not None else None
    return Work(f"c{n:03d}", operator, target, 0, used)  # type: ignore[arg-type]


def test_batches_follow_the_dialect_and_most_recent_usage_goes_first() -> None:
    items = [work(n, used_min=n) for n in range(250)] + [work(900, used_min=None)]
    items += [work(500, "jasper", "active", 5), work(501, "jasper", "active", 9)]
    batches = plan(items, {"onelink": 100, "jasper": 1})
    onelink = [b for b in batches if b.operator == "onelink"]
    assert [len(b.iccids) for b in onelink] == [100, 100, 51]
    assert onelink[0].iccids[0] == "c249" and onelink[-1].iccids[-1] == "c900"
    jasper = [b.iccids for b in batches if b.operator == "jasper"]
    assert jasper == [["c501"], ["c500"]]


def test_next_steps_after_each_answer() -> None:
    rng = random.Random(1)
    kwargs = {"max_attempts": 3, "cooldown_s": 180.0, "base_s": 1.0, "cap_s": 60.0, "rng": rng}
    changed = after(Result.CHANGED, 2, **kwargs)  # type: ignore[arg-type]
    assert (changed.state, changed.attempts, changed.changed) == ("done", 0, True)
    assert after(Result.ALREADY, 0, **kwargs).changed is False  # type: ignore[arg-type]
    cool = after(Result.COOLDOWN, 1, **kwargs)  # type: ignore[arg-type]
    assert (cool.state, cool.attempts, cool.retry_in_s) == ("pending", 1, 180.0)
    limited = after(Result.RATE_LIMITED, 1, **kwargs)  # type: ignore[arg-type]
    assert (limited.state, limited.attempts) == ("pending", 1)
    retry = after(Result.TRANSIENT, 1, **kwargs)  # type: ignore[arg-type]
    assert (retry.state, retry.attempts) == ("pending", 2) and 1.0 <= retry.retry_in_s <= 2.0
    assert after(Result.TRANSIENT, 2, **kwargs).state == "failed"  # type: ignore[arg-type]
    assert after(Result.REJECTED, 0, **kwargs).state == "failed"  # type: ignore[arg-type]


@pytest.mark.req("OPS-ASYNC")
def test_a_submitted_change_waits_for_confirmation_and_counts_for_the_cooldown() -> None:
    kwargs = {"max_attempts": 3, "cooldown_s": 180.0, "base_s": 1.0, "cap_s": 60.0,
              "rng": random.Random(1), "confirm_first_s": 2.0}
    step = after(Result.SUBMITTED, 1, **kwargs)  # type: ignore[arg-type]
    assert (step.state, step.attempts, step.retry_in_s, step.changed) == (
        "confirming", 1, 2.0, True)


@pytest.mark.req("OPS-HELD")
def test_an_operator_hold_fails_at_once_and_is_not_retried() -> None:
    kwargs = {"max_attempts": 8, "cooldown_s": 180.0, "base_s": 1.0, "cap_s": 60.0,
              "rng": random.Random(1)}
    held = after(Result.HELD, 0, **kwargs)  # type: ignore[arg-type]
    assert (held.state, held.attempts) == ("failed", 1)
    checked = after_check(Result.HELD, 0, Confirming(5, 2, 60, 1800), max_attempts=8,
                          base_s=1.0, cap_s=60.0, rng=random.Random(1))
    assert checked.state == "failed"


@pytest.mark.req("OPS-ASYNC")
def test_checks_back_off_until_the_deadline_then_the_change_is_sent_again() -> None:
    rng = random.Random(3)

    def check(result: Result, elapsed: float, attempts: int = 0) -> tuple[str, int, float]:
        step = after_check(result, attempts, Confirming(elapsed, 2.0, 60.0, 1800.0),
                           max_attempts=3, base_s=1.0, cap_s=60.0, rng=rng)
        return step.state, step.attempts, step.retry_in_s

    assert check(Result.CHANGED, 1.0) == ("done", 0, 0.0)
    assert check(Result.SUBMITTED, 0.5) == ("confirming", 0, 2.0)  # never sooner than first
    assert check(Result.SUBMITTED, 10.0) == ("confirming", 0, 10.0)  # as long again
    assert check(Result.SUBMITTED, 600.0) == ("confirming", 0, 60.0)  # capped
    assert check(Result.SUBMITTED, 1790.0) == ("confirming", 0, 10.0)  # not past the deadline
    state, attempts, _ = check(Result.SUBMITTED, 1800.0)
    assert (state, attempts) == ("pending", 1), "unconfirmed at the deadline: send again"
    assert check(Result.SUBMITTED, 1800.0, attempts=2)[0] == "failed", "out of attempts"
    assert check(Result.RATE_LIMITED, 30.0)[0] == "confirming"
    assert check(Result.TRANSIENT, 30.0)[:2] == ("pending", 1), "an order that failed"


@pytest.mark.req("OPS-COOLDOWN")
def test_the_planner_never_batches_a_card_inside_its_cooldown() -> None:
    now = T0 + timedelta(minutes=10)
    fresh: list[tuple[Work, datetime | None]] = [(work(n), None) for n in range(150)]
    recent: list[tuple[Work, datetime | None]] = [
        (work(900), now - timedelta(seconds=30)), (work(901), now - timedelta(hours=1))]
    planned = plan_round(fresh + recent, {"onelink": 100}, 180.0, now)
    batched = [i for b in planned.batches for i in b.iccids]
    assert "c900" not in batched and "c901" in batched and len(batched) == 151
    assert [(w.iccid, wait) for w, wait in planned.cooling] == [("c900", 150.0)]


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempts in range(1, 12):
        ceiling = min(60.0, 0.5 * 2 ** (attempts - 1))
        assert ceiling / 2 <= backoff_s(attempts, 0.5, 60.0, rng) <= ceiling


def test_cooldown_wait() -> None:
    assert not_before(None, 180, T0) == 0
    assert not_before(T0, 180, T0 + timedelta(seconds=60)) == 120
    assert not_before(T0, 180, T0 + timedelta(seconds=200)) == 0


def test_token_bucket_paces_calls() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=5, burst=1, clock=lambda: now[0])
    assert bucket.take() and not bucket.take()
    assert abs(bucket.wait_time() - 0.2) < 1e-9
    now[0] = 0.2
    assert bucket.take()
    bucket.slow_down(1.0)
    now[0] = 1.0
    assert not bucket.take()
    now[0] = 1.41
    assert bucket.take()
    for _ in range(10):  # repeated refusals do not stack into a ten-second pause
        bucket.slow_down(1.0)
    now[0] = 2.65
    assert bucket.take()


def test_onelink_codes() -> None:
    assert result_of("0") is Result.CHANGED and result_of("12107") is Result.ALREADY
    assert result_of("12098") is Result.HELD
    assert result_of("12108") is Result.COOLDOWN and result_of("12029") is Result.RATE_LIMITED
    assert result_of("12500") is Result.TRANSIENT and result_of("99999") is Result.REJECTED


def test_polled_snapshots_become_deltas() -> None:
    first = delta("c", "2026-11", None, 1000)
    assert first is not None and (first.bytes, first.high) == (1000, 1000)
    assert delta("c", "2026-11", 1000, 1000) is None, "a repeated snapshot adds nothing"
    assert delta("c", "2026-11", 1000, 900) is None, "a correction downwards is never negative"
    grown = delta("c", "2026-11", 1000, 1100)
    assert grown is not None and grown.bytes == 100, "bytes counted before are not recounted"
    assert grown.record_id == delta("c", "2026-11", 1000, 1100).record_id  # type: ignore[union-attr]
