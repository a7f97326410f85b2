"""Composition root of the simulator process (`cardpulse simulator`): the operator simulator
and, under `/_pay`, the payment-channel simulator."""

from __future__ import annotations

import os

import uvicorn

from core.settings import Settings, SettingsError
from simulators.knobs import knobs_from_env
from simulators.operator_api import create_app
from simulators.payments.channel import PayChannel
from simulators.payments.knobs import pay_knobs_from_env


def run(settings: Settings) -> None:
    """Serve the simulators with knobs from `CARDPULSE_SIM_*` (cooldown from the settings) and
    `CARDPULSE_PAY_*`; the channel signs with CARDPULSE_PAYMENT_SECRET."""
    try:
        knobs = knobs_from_env(os.environ)
        pay_knobs = pay_knobs_from_env(os.environ)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    # The settings class owns CARDPULSE_SIM_COOLDOWN_S (validated, default 180) for every process.
    knobs = knobs.model_copy(update={"cooldown_s": settings.sim_cooldown_s})
    secret = settings.payment_secret.get_secret_value() if settings.payment_secret else None
    app = create_app(knobs, payments=PayChannel(pay_knobs, secret))
    uvicorn.run(app, host=settings.host, port=settings.sim_port,
                log_level="warning", access_log=False)
