"""Running `cardpulse up` as a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from cardpulse.supervisor.children import free_port
from tests.support.waiting import eventually


@dataclass
class Up:
    proc: subprocess.Popen[bytes]
    api: str
    sim: str
    state_dir: Path
    output: Path

    def token(self) -> str:
        return (self.state_dir / "admin-token").read_text().strip()

    def text(self) -> str:
        return self.output.read_text(errors="replace")


def launch(state_dir: Path, env: dict[str, str] | None = None, api_port: int | None = None
           ) -> Up:
    api_port = api_port or free_port()
    sim_port = free_port()
    output = state_dir.parent / f"up-{time.monotonic_ns()}.out"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")}
    with output.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cardpulse.cli", "up", "--api-port", str(api_port),
             "--sim-port", str(sim_port), "--state-dir", str(state_dir)],
            stdout=out, stderr=subprocess.STDOUT, env={**clean, **(env or {})},
        )
    return Up(proc, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sim_port}",
              state_dir, output)


def wait_up(up: Up) -> None:
    eventually(lambda: "CardPulse is up" in up.text() or up.proc.poll() is not None,
               timeout=60, what="`cardpulse up` ready", show=up.text)
    assert up.proc.poll() is None, up.text()


def stop(up: Up) -> tuple[list[psutil.Process], set[str]]:
    """SIGTERM `up`; return the processes it had started and their names (orphan check)."""
    children = psutil.Process(up.proc.pid).children(recursive=True)
    names = {child.name() for child in children}
    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(timeout=40) == 0, up.text()
    return children, names


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            continue
    return alive
