"""Composition root of the API process (`cardpulse api`)."""

from __future__ import annotations

import httpx
import uvicorn

from api.app import create_app
from connectors.payments import PaymentChannelClient
from core.settings import Settings


def run(settings: Settings) -> None:
    """Serve the API in the foreground until SIGTERM/SIGINT."""
    channel = PaymentChannelClient(httpx.AsyncClient(timeout=10), settings.payment_url)
    uvicorn.run(create_app(settings, payments=channel), host=settings.host, port=settings.api_port,
                log_level="warning", access_log=False, timeout_graceful_shutdown=5)
