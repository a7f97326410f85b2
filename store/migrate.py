"""Schema migrations with yoyo, safe to run from several processes and after a crash.

yoyo keeps a lock row while it migrates; a migrator killed mid-way would leave that row behind
and make the next start wait and fail. We serialise migrators with a PostgreSQL advisory lock
instead (released by the server when a session dies), and clear yoyo's row under it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import psycopg
from yoyo import get_backend, read_migrations

_ADVISORY_KEY = 0x43_50_4D_49_47  # "CPMIG"


def migrations_dir() -> Path:
    return Path(str(resources.files("store") / "migrations"))


def _yoyo_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    return f"postgresql+psycopg://{rest}"


def apply_migrations(url: str) -> list[str]:
    """Apply every pending migration; return the ids applied (empty when up to date)."""
    migrations = read_migrations(str(migrations_dir()))
    with psycopg.connect(url, autocommit=True) as guard:
        guard.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_KEY,))
        try:
            backend = get_backend(_yoyo_url(url))
            try:
                backend.break_lock()
                pending = backend.to_apply(migrations)
                with backend.lock():
                    backend.apply_migrations(pending)
                return [m.id for m in pending]
            finally:
                backend.connection.close()
        finally:
            guard.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_KEY,))
