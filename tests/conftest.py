"""Shared fixtures: one embedded broker and PostgreSQL per session, isolated per test.

Each test that needs the database gets its own database cloned from a migrated template, and
each test that needs Kafka gets its own topic prefix and consumer group, so tests never see
each other's data.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cardpulse.supervisor.children import free_port
from cardpulse.supervisor.embedded import Service, pg_url, start_kafka, start_postgres
from core.clock import CLOCK
from core.settings import Settings, load_settings
from store.migrate import apply_migrations
from streams.topics import ensure_topics, topic_specs

TEMPLATE_DB = "cardpulse_template"


@dataclass(frozen=True)
class Embedded:
    bootstrap: str
    admin_url: str
    host: str
    port: int


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    """The embedded broker and PostgreSQL, started once for the whole session."""
    state = tmp_path_factory.mktemp("embedded")
    host = "127.0.0.1"
    kafka: Service = start_kafka(host, free_port(), state / "kafka.log")
    pg_port = free_port()
    postgres: Service | None = None
    try:
        postgres = start_postgres(state / "pgdata", host, pg_port, state / "postgres.log",
                                  fsync=False)
        admin = pg_url(host, pg_port, "postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
        apply_migrations(pg_url(host, pg_port, TEMPLATE_DB))
        yield Embedded(kafka.url, admin, host, pg_port)
    finally:
        if postgres is not None:
            postgres.child.stop()
        kafka.child.stop()


@pytest.fixture
def db_url(embedded: Embedded) -> Iterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(embedded.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(TEMPLATE_DB)))
    yield pg_url(embedded.host, embedded.port, name)
    with psycopg.connect(embedded.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


@pytest.fixture
def settings(embedded: Embedded, db_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own database, topics, consumer group and state dir."""
    tag = uuid.uuid4().hex[:8]
    made = load_settings(
        kafka_bootstrap=embedded.bootstrap, database_url=db_url, state_dir=tmp_path / "state",
        topic_prefix=f"t{tag}", worker_group=f"g{tag}", admin_token="test-admin-token",
        usage_partitions=4, rollover_check_s=0.5, test_clock=True,
    )
    asyncio.run(ensure_topics(embedded.bootstrap, topic_specs(made)))
    CLOCK.set_offset(0)  # as stored in the new database (an earlier test may have moved it)
    return made


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a child process needs to run with `settings`."""
    env = dict(os.environ)
    env.update({
        "CARDPULSE_KAFKA_BOOTSTRAP": settings.require_kafka(),
        "CARDPULSE_DATABASE_URL": settings.require_database(),
        "CARDPULSE_STATE_DIR": str(settings.state_dir),
        "CARDPULSE_TOPIC_PREFIX": settings.topic_prefix,
        "CARDPULSE_WORKER_GROUP": settings.worker_group,
        "CARDPULSE_USAGE_PARTITIONS": str(settings.usage_partitions),
        "CARDPULSE_ROLLOVER_CHECK_S": str(settings.rollover_check_s),
    })
    return env


class WorkerProcess:
    """`cardpulse worker` in a subprocess, killable at will."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cardpulse.cli", "worker"], env=settings_env(self.settings),
                stdout=out, stderr=subprocess.STDOUT,
            )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

