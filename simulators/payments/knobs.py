"""The payment channel's knobs: declines, payout failures and how callbacks misbehave.

From `CARDPULSE_PAY_<KNOB>` at start (`pay_knobs_from_env`) and `PUT /_pay/knobs` at run time.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from simulators.knobs import model_from_env

ENV_PREFIX = "CARDPULSE_PAY_"
SEED_FALLBACK = "CARDPULSE_TEST_RANDOM_SEED"  # the platform-wide seed of the public contract


class PayKnobs(BaseModel):
    """How the simulated channel behaves; the defaults are a well-behaved channel."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    decline_rate: float = Field(default=0.0, ge=0, le=1)  # share of payments declined
    decline_next: int = Field(default=0, ge=0)  # the next N payments are declined (counts down)
    payout_failure_rate: float = Field(default=0.0, ge=0, le=1)
    payout_fail_next: int = Field(default=0, ge=0)  # the next N payouts fail (counts down)
    callback_delay_ms: float = Field(default=0.0, ge=0)  # before the first attempt
    # Each copy waits a further random 0..jitter: notifications then overtake each other.
    callback_jitter_ms: float = Field(default=0.0, ge=0)
    repeat_callbacks: int = Field(default=1, ge=1, le=20)  # copies of every notification
    drop_first: int = Field(default=0, ge=0, le=50)  # attempts of each copy lost on the way
    max_attempts: int = Field(default=8, ge=1, le=50)  # per copy, until `success`
    retry_base_ms: float = Field(default=1000.0, gt=0)  # backoff: base × 2^(attempt-1) …
    retry_cap_ms: float = Field(default=60_000.0, gt=0)  # … up to this
    notify_timeout_ms: float = Field(default=5000.0, gt=0)  # per attempt
    time_offset_s: float = 0.0  # moves the channel's business times, like the test clock
    seed: int = 1


def pay_knobs_from_env(environ: Mapping[str, str]) -> PayKnobs:
    """Knobs from `CARDPULSE_PAY_*`; the seed falls back to `CARDPULSE_TEST_RANDOM_SEED`.

    Raises ValueError naming every offending variable and its value."""
    given = dict(environ)
    fallback = environ.get(SEED_FALLBACK, "").strip()
    if fallback and not environ.get(ENV_PREFIX + "SEED", "").strip():
        given[ENV_PREFIX + "SEED"] = fallback
    return model_from_env(PayKnobs, given, ENV_PREFIX, "payment simulator knobs")
