"""Fixtures for integration tests: the API in-process and a stream worker subprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from core.settings import Settings
from tests.support.services import WorkerProcess
from tests.support.simulator import Simulator


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API with its lifespan run, over ASGI (real PostgreSQL and broker behind it)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.fixture
def running_worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A `cardpulse worker` process on this test's database and topics."""
    process = WorkerProcess(settings, tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Simulator] = []

    def make(**knobs: object) -> Simulator:
        sim = Simulator(tmp_path, **knobs)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.close()
