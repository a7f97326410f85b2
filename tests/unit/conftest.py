"""Fixtures for unit tests: the operator simulator in process (ASGI, a hand-moved clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.simulator import Sim, sim_in_process


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """A fresh simulator with default knobs; no network, no real time for its clock."""
    async with sim_in_process() as made:
        yield made
