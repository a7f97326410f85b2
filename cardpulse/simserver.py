"""Composition root of the operator simulator process (`cardpulse simulator`)."""

from __future__ import annotations

import uvicorn

from cardpulse.settings import Settings
from simulators.operator_api import create_app


def run_simulator(settings: Settings) -> None:
    uvicorn.run(create_app(settings.sim_cooldown_s), host=settings.host, port=settings.sim_port,
                log_level="warning", access_log=False)
