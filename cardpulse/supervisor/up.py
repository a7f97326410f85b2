"""`cardpulse up`: start every component in the foreground, stop all of them on a signal.

Order of start: state-dir lock → ports → admin token and payment secret → Kafka → PostgreSQL
→ migrations → topics → stream worker, API, simulator (each waited for). Order of stop is the
reverse, with the API stopped first and the worker given a moment to drain what the API
accepted, because the embedded broker forgets everything when it stops.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

from cardpulse.roots.controls import READY_MARKER as CONTROLS_MARKER
from cardpulse.roots.worker import ready_marker
from cardpulse.supervisor.children import (
    Child,
    StartupError,
    child_env,
    ensure_port_free,
    wait_until,
)
from cardpulse.supervisor.embedded import check_database, start_kafka, start_postgres
from core.settings import Settings
from store.migrate import apply_migrations
from streams.lag import wait_drained
from streams.topics import ensure_topics, topic_specs


class ShutdownRequested(Exception):
    """SIGINT or SIGTERM arrived."""


@dataclass
class Stack:
    """Everything `up` started, in start order."""

    children: list[Child] = field(default_factory=list)
    restarts: dict[str, list[float]] = field(default_factory=dict)

    def add(self, child: Child) -> Child:
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    # Further signals are ignored while we stop: every child is stopped, escalating to SIGKILL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise ShutdownRequested(signal.Signals(signum).name)


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """One `up` per state dir; the lock dies with the process, so it is never stale."""
    run = state_dir / "run"
    run.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = (run / "up.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "?"
        handle.close()
        raise StartupError(
            f"another `cardpulse up` (pid {other}) is using {state_dir}; stop it or pass "
            "another --state-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    try:
        yield
    finally:
        handle.close()


def _kept_secret(path: Path) -> tuple[str, bool]:
    """The secret kept in `path`, made (0600) on first use; True when generated now."""
    if path.exists() and path.read_text().strip():
        return path.read_text().strip(), False
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token, True


def admin_token(settings: Settings) -> tuple[str, bool]:
    """The admin token and whether it was generated (a generated one is kept for restarts)."""
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value(), False
    return _kept_secret(settings.state_dir / "admin-token")


def payment_secret(settings: Settings) -> str:
    """The secret the payment channel signs notifications with: CARDPULSE_PAYMENT_SECRET, else
    one generated on the first `up` and kept in `<state-dir>/payment-secret`."""
    if settings.payment_secret is not None:
        return settings.payment_secret.get_secret_value()
    return _kept_secret(settings.state_dir / "payment-secret")[0]


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cardpulse.cli", *args]


def _process(settings: Settings, name: str, env: dict[str, str]) -> Child:
    return Child(name, _cli(name), settings.log_dir / f"{name}.log", env=env)


def _workers(settings: Settings, env: dict[str, str], ports: list[int]) -> list[Child]:
    """The stream workers: `worker`, then `worker-1` … when CARDPULSE_WORKERS > 1."""
    out = []
    for index, port in enumerate(ports):
        name = "worker" if index == 0 else f"worker-{index}"
        worker_env = {**env, "CARDPULSE_WORKER_INDEX": str(index),
                      "CARDPULSE_WORKER_METRICS_PORT": str(port)}
        out.append(Child(name, _cli("worker"), settings.log_dir / f"{name}.log",
                         env=worker_env))
    return out


def _start_storage(settings: Settings, stack: Stack) -> tuple[str, str, str]:
    """Kafka and PostgreSQL, embedded unless configured; returns (bootstrap, db url, how)."""
    host = settings.host
    if settings.kafka_bootstrap:
        bootstrap, kafka_how = settings.kafka_bootstrap, "external"
    else:
        port = ensure_port_free(host, settings.kafka_port, "kafka", "CARDPULSE_KAFKA_PORT")
        service = start_kafka(host, port, settings.log_dir / "kafka.log")
        stack.add(service.child)
        bootstrap, kafka_how = service.url, "embedded Tansu, memory-only"
    if settings.database_url:
        check_database(settings.database_url)
        url, pg_how = settings.database_url, "external"
    else:
        port = ensure_port_free(host, settings.postgres_port, "postgres",
                                "CARDPULSE_POSTGRES_PORT")
        service = start_postgres(settings.state_dir / "pgdata", host, port,
                                 settings.log_dir / "postgres.log", fsync=settings.postgres_fsync,
                                 shared_buffers=settings.postgres_shared_buffers)
        stack.add(service.child)
        url, pg_how = service.url, f"embedded, data in {settings.state_dir / 'pgdata'}"
    return bootstrap, url, f"{kafka_how}|{pg_how}"


def _prepare(settings: Settings, bootstrap: str, url: str) -> None:
    try:
        apply_migrations(url)
    except Exception as exc:
        raise StartupError(f"migrations: {exc}") from exc
    try:
        asyncio.run(ensure_topics(bootstrap, topic_specs(settings)))
    except Exception as exc:
        raise StartupError(f"kafka: cannot create topics at {bootstrap}: {exc}") from exc


def _start_services(settings: Settings, stack: Stack, env: dict[str, str],
                    worker_ports: list[int]) -> None:
    base = f"http://{settings.host}"
    markers = [settings.run_dir / ready_marker(i) for i in range(len(worker_ports))]
    for marker in markers:
        marker.unlink(missing_ok=True)
    workers = [stack.add(w) for w in _workers(settings, env, worker_ports)]
    api = stack.add(_process(settings, "api", env))
    sim = stack.add(_process(settings, "simulator", env))
    controls = stack.add(_process(settings, "controls", env))
    (settings.run_dir / CONTROLS_MARKER).unlink(missing_ok=True)
    for child in (*workers, api, sim, controls):
        child.start()
    wait_until(lambda: _http_ok(f"{base}:{settings.sim_port}/_sim/stats"), timeout=20,
               what="simulator", child=sim)
    wait_until(lambda: _http_ok(f"{base}:{settings.api_port}/healthz"), timeout=30,
               what="api", child=api)
    for marker, worker in zip(markers, workers, strict=True):
        wait_until(marker.exists, timeout=60, what=f"stream {worker.name}", child=worker)
    wait_until((settings.run_dir / CONTROLS_MARKER).exists, timeout=60, what="controls",
               child=controls)


def _metrics_ports(settings: Settings) -> tuple[list[int], int]:
    """Where each worker and the controls serve /metrics (the API serves its own); with a
    fixed CARDPULSE_WORKER_METRICS_PORT, worker i uses that port + i."""
    base = settings.worker_metrics_port
    workers = [ensure_port_free(settings.host, base + i if base else 0, "worker metrics",
                                "CARDPULSE_WORKER_METRICS_PORT")
               for i in range(settings.workers)]
    return (workers,
            ensure_port_free(settings.host, settings.controls_metrics_port, "controls metrics",
                             "CARDPULSE_CONTROLS_METRICS_PORT"))


def _summary(settings: Settings, bootstrap: str, url: str, how: str, token: str,
             generated: bool, took: float, metrics_ports: tuple[list[int], int]) -> str:
    kafka_how, pg_how = how.split("|")
    shown_url = url.split("@")[-1] if "@" in url else url
    token_path = settings.state_dir / "admin-token"
    token_line = (f"{token}  (generated; saved in {token_path})" if generated else
                  "from CARDPULSE_ADMIN_TOKEN" if settings.admin_token else
                  f"in {token_path}")
    host = settings.host
    return "\n".join([
        f"CardPulse is up (ready in {took:.1f} s)",
        f"  API          http://{host}:{settings.api_port}   (/docs, /healthz, /metrics)",
        f"  Console      http://{host}:{settings.api_port}/console",
        f"  Simulator    http://{host}:{settings.sim_port}   (/_sim/stats)",
        _payments_line(settings),
        f"  Admin token  {token_line}",
        f"  Kafka        {bootstrap}   ({kafka_how})",
        f"  PostgreSQL   {shown_url}   ({pg_how})",
        f"  Metrics      http://{host}:{settings.api_port}/metrics (api), "
        + "".join(f"http://{host}:{port}/metrics (worker{f'-{i}' if i else ''}), "
                  for i, port in enumerate(metrics_ports[0]))
        + f"http://{host}:{metrics_ports[1]}/metrics (controls)",
        f"  Logs         {settings.log_dir}/",
        "Press Ctrl-C (or send SIGTERM) to stop.",
    ])


def _payments_line(settings: Settings) -> str:
    """Where the payment channel is: the simulator's `/_pay`, or the configured one."""
    simulated = f"http://{settings.host}:{settings.sim_port}/_pay"
    secret = ("from CARDPULSE_PAYMENT_SECRET" if settings.payment_secret else
              f"secret in {settings.state_dir / 'payment-secret'}")
    if settings.payment_url != simulated:
        return f"  Payments     {settings.payment_url}   (CARDPULSE_PAYMENT_BASE_URL; {secret})"
    return f"  Payments     {simulated}   (payment-channel simulator, /_pay/stats; {secret})"


def _supervise(settings: Settings, stack: Stack) -> None:
    """Keep the stack running: restart a crashed service, give up on repeated crashes."""
    while True:
        time.sleep(0.5)
        for child in stack.children:
            if child.alive():
                continue
            if child.name in ("kafka", "postgres"):
                raise StartupError(f"{child.name} exited (code {child.exit_code()}); see "
                                   f"{child.log_path}")
            recent = [t for t in stack.restarts.get(child.name, []) if time.time() - t < 60]
            if len(recent) >= 5:
                raise StartupError(f"{child.name} keeps crashing; see {child.log_path}")
            stack.restarts[child.name] = [*recent, time.time()]
            print(f"cardpulse: {child.name} exited with code {child.exit_code()}; restarting",
                  file=sys.stderr, flush=True)
            child.start()


def _shutdown(settings: Settings, stack: Stack, bootstrap: str | None) -> None:
    print("cardpulse: stopping…", file=sys.stderr, flush=True)
    by_name = {c.name: c for c in stack.children}
    for name in ("api", "controls", "simulator"):
        if name in by_name:
            by_name[name].stop()
    worker = by_name.get("worker")
    kafka = by_name.get("kafka")
    if worker and worker.alive() and bootstrap and kafka and kafka.alive():
        wait_drained(bootstrap, settings.worker_group, settings.usage_topic, timeout=15)
    stack.stop_all()


def run_up(settings: Settings) -> int:
    """The whole platform in the foreground; returns the process exit code."""
    started = time.monotonic()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its retries are not ours to print
    signal.signal(signal.SIGINT, _raise_shutdown)
    signal.signal(signal.SIGTERM, _raise_shutdown)
    stack = Stack()
    bootstrap: str | None = None
    try:
        with state_lock(settings.state_dir):
            settings.log_dir.mkdir(parents=True, exist_ok=True)
            ensure_port_free(settings.host, settings.api_port, "api", "--api-port")
            ensure_port_free(settings.host, settings.sim_port, "simulator", "--sim-port")
            token, generated = admin_token(settings)
            pay_secret = payment_secret(settings)
            bootstrap, url, how = _start_storage(settings, stack)
            _prepare(settings, bootstrap, url)
            metrics_ports = _metrics_ports(settings)
            env = child_env({
                "CARDPULSE_CONTROLS_METRICS_PORT": str(metrics_ports[1]),
                "CARDPULSE_WORKER_METRICS_PORTS": ",".join(map(str, metrics_ports[0])),
                "CARDPULSE_KAFKA_BOOTSTRAP": bootstrap, "CARDPULSE_DATABASE_URL": url,
                "CARDPULSE_ADMIN_TOKEN": token, "CARDPULSE_PAYMENT_SECRET": pay_secret,
                "CARDPULSE_STATE_DIR": str(settings.state_dir.resolve()),
                "CARDPULSE_API_PORT": str(settings.api_port),
                "CARDPULSE_SIM_PORT": str(settings.sim_port),
            })
            _start_services(settings, stack, env, metrics_ports[0])
            print(_summary(settings, bootstrap, url, how, token, generated,
                           time.monotonic() - started, metrics_ports), flush=True)
            try:
                _supervise(settings, stack)
            finally:
                _shutdown(settings, stack, bootstrap)
    except ShutdownRequested:
        stack.stop_all()
        print("cardpulse: stopped", file=sys.stderr, flush=True)
        return 0
    except StartupError as exc:
        stack.stop_all()
        print(f"cardpulse: error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0
