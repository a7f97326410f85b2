"""Composition root of the API process (`cardpulse api`)."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from core.settings import Settings


def run(settings: Settings) -> None:
    """Serve the API in the foreground until SIGTERM/SIGINT."""
    uvicorn.run(create_app(settings), host=settings.host, port=settings.api_port,
                log_level="warning", access_log=False, timeout_graceful_shutdown=5)
