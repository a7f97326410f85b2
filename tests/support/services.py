"""The real services tests run against: the embedded broker and PostgreSQL, a migrated database
per test, the settings pointing at them, and `cardpulse worker` as a child process.

tests/conftest.py turns these into fixtures; they hold no pytest state of their own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from cardpulse.supervisor.children import free_port
from cardpulse.supervisor.embedded import Service, pg_url, start_kafka, start_postgres
from core.settings import Settings, load_settings
from store.migrate import apply_migrations
from streams.topics import ensure_topics, topic_specs
from tests.support.api import ADMIN_TOKEN

TEMPLATE_DB = "cardpulse_template"


@dataclass(frozen=True)
class Embedded:
    """Where the session's embedded broker and PostgreSQL listen."""

    bootstrap: str
    admin_url: str
    host: str
    port: int


@contextmanager
def embedded_services(state: Path) -> Iterator[Embedded]:
    """Start the broker and PostgreSQL (with a migrated template database); stop both after."""
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


@contextmanager
def fresh_database(embedded: Embedded) -> Iterator[str]:
    """A database cloned from the migrated template; dropped on the way out."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(embedded.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(TEMPLATE_DB)))
    try:
        yield pg_url(embedded.host, embedded.port, name)
    finally:
        with psycopg.connect(embedded.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def settings_for(embedded: Embedded, db_url: str, state_dir: Path) -> Settings:
    """Settings of one test: its database, its own topics, consumer group and state dir."""
    tag = uuid.uuid4().hex[:8]
    made = load_settings(
        kafka_bootstrap=embedded.bootstrap, database_url=db_url, state_dir=state_dir,
        topic_prefix=f"t{tag}", worker_group=f"g{tag}", admin_token=ADMIN_TOKEN,
        usage_partitions=4, rollover_check_s=0.5, test_clock=True,
    )
    asyncio.run(ensure_topics(embedded.bootstrap, topic_specs(made)))
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
        # a worker follows a clock the test moves after it started (C-09 timers)
        "CARDPULSE_TEST_CLOCK": "true" if settings.test_clock else "false",
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


class ControlsProcess(WorkerProcess):
    """`cardpulse controls` in a subprocess."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "cardpulse.cli", "controls"],
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)
