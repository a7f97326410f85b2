"""Composition root of a stream worker process (`cardpulse worker`)."""

from __future__ import annotations

import logging
from typing import Any

import faust

from cardpulse.settings import Settings
from streams.app import create_app
from streams.usage import UsageSink, register_usage_agent

READY_MARKER = "worker.ready"


def build_worker(settings: Settings) -> faust.Worker:
    """Wire the faust app, its agents and their sinks; connects nothing until started."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    sink = UsageSink(settings.require_database())
    register_usage_agent(app, settings, sink)
    marker = settings.run_dir / READY_MARKER
    marker.unlink(missing_ok=True)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode types it narrowly
    async def _ready(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("ready\n")

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _close(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        marker.unlink(missing_ok=True)
        await sink.close()

    return faust.Worker(app, loglevel=logging.WARNING, redirect_stdouts=False, quiet=True)


def run_worker(settings: Settings) -> None:
    """Run one stream worker in the foreground until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    build_worker(settings).execute_from_commandline()
