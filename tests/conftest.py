"""Shared fixtures: one embedded broker and PostgreSQL per session, isolated per test.

Each test that needs the database gets its own database cloned from a migrated template, and
each test that needs Kafka gets its own topic prefix and consumer group, so tests never see
each other's data. The machinery lives in `tests.support.services`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.clock import CLOCK
from core.settings import Settings
from tests.support.services import Embedded, embedded_services, fresh_database, settings_for


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    """The embedded broker and PostgreSQL, started once for the whole session."""
    with embedded_services(tmp_path_factory.mktemp("embedded")) as services:
        yield services


@pytest.fixture
def db_url(embedded: Embedded) -> Iterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    with fresh_database(embedded) as url:
        yield url


@pytest.fixture
def settings(embedded: Embedded, db_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own database, topics, consumer group and state dir."""
    made = settings_for(embedded, db_url, tmp_path / "state")
    CLOCK.set_offset(0)  # as stored in the new database (an earlier test may have moved it)
    return made
