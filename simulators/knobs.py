"""The simulator's knobs (latency, faults, limits, lags) and the live context the dialects share.

Knobs come from `CARDPULSE_SIM_*` at start (`knobs_from_env`) and from `PUT /_sim/knobs` at run
time (`SimContext.update`); every dialect reads the current ones through one `SimContext`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulators.fleet_state import SimNetwork
from simulators.gates import Fault

ENV_PREFIX = "CARDPULSE_SIM_"
M = TypeVar("M", bound=BaseModel)


class SimKnobs(BaseModel):
    """How the simulated operator behaves; every field has a harmless default."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    latency_ms: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    limit_rate: float = Field(default=0.0, ge=0, le=1)
    cooldown_s: float = Field(default=180.0, ge=0)
    rate_per_s: float = Field(default=5.0, gt=0)
    usage_lag: Literal["none", "t-1"] = "none"
    batch_delay_ms: float = Field(default=200.0, ge=0)
    token_ttl_s: float = Field(default=3600.0, gt=0)
    seed: int = 1
    # How long an accepted single-card change takes to happen (0 = at once).
    completion_ms: float = Field(default=0.0, ge=0)
    # How long an accepted activation (opening a card never opened) takes; None: completion_ms.
    activation_ms: float | None = Field(default=None, ge=0)
    jasper_cycle_day: int = Field(default=27, ge=1, le=28)  # China Unicom's billing day
    time_offset_s: float = 0.0  # moves the simulator's calendar, like the platform's test clock
    # The one CTCC account the simulator accepts: its password and 9-character DES secret.
    ctcc_password: str = Field(default="simulator", min_length=1)
    ctcc_key: str = Field(default="cardpulse", min_length=9, max_length=9)


class KnobsError(ValueError):
    """A `PUT /_sim/knobs` (or `/_pay/knobs`) body that does not make valid knobs; `str()`
    says why."""


def _problems(exc: ValidationError, name_of: Callable[[str], str]) -> str:
    return "; ".join(f"{name_of('.'.join(str(p) for p in err['loc']))}: {err['msg']}"
                     for err in exc.errors())


def model_from_env(model: type[M], environ: Mapping[str, str], prefix: str, what: str) -> M:
    """A knobs model from `<prefix><KNOB>` variables; unset or blank ones keep their default.

    Raises ValueError naming every offending variable and its value.
    """
    values = {name: environ[prefix + name.upper()].strip()
              for name in model.model_fields
              if environ.get(prefix + name.upper(), "").strip()}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        def name_of(knob: str) -> str:
            return f"{prefix}{knob.upper()}={values.get(knob, '')!r}"

        raise ValueError(f"invalid {what}: {_problems(exc, name_of)}") from None


def changed(current: M, changes: Mapping[str, Any]) -> M:
    """`current` with a subset of its knobs changed at run time; KnobsError says why not."""
    try:
        return type(current).model_validate({**current.model_dump(), **changes})
    except ValidationError as exc:
        raise KnobsError(_problems(exc, lambda knob: knob)) from None


def knobs_from_env(environ: Mapping[str, str]) -> SimKnobs:
    """Knobs from `CARDPULSE_SIM_<KNOB>` variables; unset or blank ones keep their default.

    Raises ValueError naming every offending variable and its value.
    """
    return model_from_env(SimKnobs, environ, ENV_PREFIX, "simulator knobs")


@dataclass
class SimContext:
    """What every dialect router needs: the current knobs, the network and the clock."""

    knobs: SimKnobs
    clock: Callable[[], float]
    net: SimNetwork = field(init=False)

    def __post_init__(self) -> None:
        self.net = SimNetwork(cooldown_s=self.knobs.cooldown_s, usage_lag=self.knobs.usage_lag)
        self.net.faults.reseed(self.knobs.seed)

    def now(self) -> float:
        """The simulator's time (the clock plus `time_offset_s`), after completing the orders
        and batch jobs due by then."""
        now = self.clock() + self.knobs.time_offset_s
        self.net.settle(now, self.knobs.error_rate)
        return now

    def completion_s(self, opening: bool = False) -> float:
        """How long an accepted single-card change takes to happen (an activation's own
        `activation_ms` when set)."""
        knobs = self.knobs
        wait = knobs.activation_ms if opening and knobs.activation_ms is not None \
            else knobs.completion_ms
        return wait / 1000

    async def pause(self) -> None:
        """The configured latency of one operator call."""
        if self.knobs.latency_ms > 0:
            await asyncio.sleep(self.knobs.latency_ms / 1000)

    def fault(self) -> Fault | None:
        """The fault to inject into the current call, if any."""
        return self.net.faults.draw(self.knobs.limit_rate, self.knobs.error_rate)

    def update(self, changes: Mapping[str, Any]) -> SimKnobs:
        """Apply a subset of knobs at run time; a given `seed` restarts the fault sequence."""
        knobs = changed(self.knobs, changes)
        self.knobs = knobs
        self.net.cooldown_s, self.net.usage_lag = knobs.cooldown_s, knobs.usage_lag
        if "seed" in changes:
            self.net.faults.reseed(knobs.seed)
        return knobs
