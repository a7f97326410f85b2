"""Composition root of the operator simulator process (`cardpulse simulator`)."""

from __future__ import annotations

import os

import uvicorn

from core.settings import Settings, SettingsError
from simulators.knobs import knobs_from_env
from simulators.operator_api import create_app


def run(settings: Settings) -> None:
    """Serve the simulator with knobs from `CARDPULSE_SIM_*` (cooldown from the settings)."""
    try:
        knobs = knobs_from_env(os.environ)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    # The settings class owns CARDPULSE_SIM_COOLDOWN_S (validated, default 180) for every process.
    knobs = knobs.model_copy(update={"cooldown_s": settings.sim_cooldown_s})
    uvicorn.run(create_app(knobs), host=settings.host, port=settings.sim_port,
                log_level="warning", access_log=False)
