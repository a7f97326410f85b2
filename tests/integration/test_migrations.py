"""Migrations: idempotent, and not blocked by a lock a killed migrator left behind."""

from __future__ import annotations

import psycopg
import pytest

from store.migrate import apply_migrations

pytestmark = pytest.mark.integration


def test_applying_twice_is_a_no_op(db_url: str) -> None:
    assert apply_migrations(db_url) == []
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()
    assert row is not None and row[0] >= 1


def test_stale_yoyo_lock_does_not_block_start(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, now(), 999999)")
    assert apply_migrations(db_url) == []
