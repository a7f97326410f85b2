"""Shared fixtures: one embedded broker and PostgreSQL per session, isolated per test.

Each test that needs the database gets its own database cloned from a migrated template, and
each test that needs Kafka gets its own topic prefix and consumer group, so tests never see
each other's data. The machinery lives in `tests.support.services`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.clock import CLOCK
from core.settings import Settings
from tests.support.services import Embedded, embedded_services, fresh_database, settings_for


@pytest.fixture(scope="session")
def embedded() -> Iterator[Embedded]:
    """The embedded broker and PostgreSQL, started once for the whole session.

    Their state lives outside pytest's temporary tree: as root, PostgreSQL runs as an
    unprivileged user that must traverse the path to its data, and any other pytest run on the
    machine resets `/tmp/pytest-of-<user>` to mode 0700 when it starts, which killed a running
    suite's database ("could not open … pg_control: Permission denied")."""
    state = Path(tempfile.mkdtemp(prefix="cardpulse-test-embedded-"))
    try:
        with embedded_services(state) as services:
            yield services
    finally:
        shutil.rmtree(state, ignore_errors=True)


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
