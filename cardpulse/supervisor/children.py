"""Child processes owned by a supervisor: started with a parent-death signal, stopped for sure.

Every child `cardpulse up` starts goes through `Child`: its output goes to a log file, it is
told by the kernel to stop if the supervisor dies (PR_SET_PDEATHSIG), and `stop()` escalates
from a polite signal to SIGKILL so that nothing is left behind.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


class StartupError(RuntimeError):
    """A component could not start; the message names the component and the cause."""


def _die_with_parent(sig: int) -> Callable[[], None]:
    def preexec() -> None:
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        except OSError:  # not Linux: the supervisor's own stop() still applies
            pass

    return preexec


@dataclass
class Child:
    """One supervised process; `stop_signal` is the signal that shuts it down cleanly."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self.proc = subprocess.Popen(  # noqa: S603 - argv is built by us, not a shell
                    list(self.argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(self.env) if self.env is not None else None,
                    user=self.user,
                    start_new_session=True,  # a terminal's Ctrl-C reaches only the supervisor
                    preexec_fn=_die_with_parent(self.stop_signal),  # noqa: PLW1509
                )
            except OSError as exc:
                raise StartupError(f"{self.name}: cannot start {self.argv[0]}: {exc}") from exc

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the process to stop, then kill it if it has not within `timeout` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, child: Child | None = None
) -> None:
    """Poll `check` until true; fail naming `what` (and the child's log) on timeout or exit."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if check():
            return
        if child is not None and not child.alive():
            raise StartupError(
                f"{what}: process exited with code {child.exit_code()}; "
                f"last lines of {child.log_path}:\n{child.log_tail()}"
            )
        if time.monotonic() > deadline:
            tail = f"; last lines of {child.log_path}:\n{child.log_tail()}" if child else ""
            raise StartupError(f"{what}: not ready after {timeout:.0f} s{tail}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _ephemeral_low() -> int:
    """The first port the OS hands out for outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bind_error(host: str, port: int) -> OSError | None:
    """Why a listener could not bind `port` now (as our services bind: SO_REUSEADDR), or
    None if it could."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
        return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago, below the OS's range for outgoing connections.

    A port the OS picks for a listener comes from that range, so until the service binds it
    any outgoing connection (a Kafka or PostgreSQL client starting meanwhile) may take it:
    `cardpulse bench` once failed so ("Address already in use")."""
    low = _ephemeral_low()
    if low > 11_000:
        for _ in range(100):
            port = 10_000 + secrets.randbelow(low - 10_100)  # room for runs of ports
            if _bind_error(host, port) is None:
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(host: str, port: int, what: str, option: str) -> int:
    """Return `port` (or a free one for 0); raise StartupError naming the option if it is taken."""
    if port == 0:
        return free_port(host)
    error = _bind_error(host, port)
    if error is not None:
        raise StartupError(
            f"{what}: port {port} on {host} is not available ({error.strerror}); "
            f"stop whatever holds it or choose another with {option}"
        )
    return port


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The supervisor's environment plus `extra`, for a child process."""
    env = dict(os.environ)
    env.update(extra)
    return env
