"""The platform a benchmark runs against: a real `cardpulse up` in its own state dir and ports,
plus what the benchmark reads off it (worker metrics, peak memory of every process)."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from cardpulse.supervisor.children import (
    Child,
    StartupError,
    child_env,
    free_port,
    port_open,
    wait_until,
)

_HWM = re.compile(rb"^VmHWM:\s+(\d+) kB", re.MULTILINE)
_SUM = re.compile(r"^(cardpulse_\w+)_sum(?:\{[^}]*\})? (\S+)$", re.MULTILINE)
_COUNT = re.compile(r"^(cardpulse_\w+)_count(?:\{[^}]*\})? (\S+)$", re.MULTILINE)
_INGESTED = re.compile(r'^cardpulse_usage_records_ingested_total\{outcome="new"\} (\S+)$',
                       re.MULTILINE)


@dataclass(frozen=True)
class StackOptions:
    state_dir: Path
    partitions: int
    workers: int
    host: str = "127.0.0.1"


@dataclass
class BenchStack:
    """A running `cardpulse up` and where to reach its parts."""

    options: StackOptions
    child: Child
    api_url: str
    sim_url: str
    worker_metrics: list[str]
    controls_metrics: str
    admin_token: str

    def histogram_means(self, client: httpx.Client) -> dict[str, tuple[float, float]]:
        """(sum, count) of the pipeline's histograms, added over every worker and the
        controls; two readings give the means over the time between them."""
        out: dict[str, tuple[float, float]] = {}
        for url in [*self.worker_metrics, self.controls_metrics]:
            for name, total, count in _histograms(client.get(url, timeout=5).text):
                old = out.get(name, (0.0, 0.0))
                out[name] = (old[0] + total, old[1] + count)
        return out

    def accounted(self, client: httpx.Client) -> int:
        """New records the workers have committed, from their /metrics (cheap to poll)."""
        total = 0.0
        for url in self.worker_metrics:
            found = _INGESTED.search(client.get(url, timeout=5).text)
            total += float(found.group(1)) if found else 0.0
        return int(total)

    def peak_rss_mb(self) -> dict[str, float]:
        """Peak resident memory (VmHWM) of every process of the stack, by role; for
        PostgreSQL the largest of its processes (shared buffers count in each)."""
        pid = self.child.pid
        out: dict[str, float] = {}
        for proc, role in _descendants(pid) if pid else []:
            rss = _peak_kb(proc) / 1024
            if rss and role != "?":  # a process that ended while we looked
                out[role] = max(out.get(role, 0.0), round(rss, 1))
        return dict(sorted(out.items()))

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by every process of the stack, by role; for
        PostgreSQL all of its processes together (a backend that ended is not counted)."""
        pid = self.child.pid
        out: dict[str, float] = {}
        for proc, role in _descendants(pid) if pid else []:
            if role != "?":
                out[role] = out.get(role, 0.0) + _cpu(proc)
        return out

    def stop(self) -> None:
        self.child.stop(timeout=40)


def _histograms(text: str) -> list[tuple[str, float, float]]:
    """(name, sum, count) of every histogram in a /metrics page, labels added together."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for pattern, into in ((_SUM, sums), (_COUNT, counts)):
        for name, value in pattern.findall(text):
            into[name] = into.get(name, 0.0) + float(value)
    return [(name, sums[name], counts.get(name, 0.0)) for name in sums]


def _free_run(host: str, count: int) -> int:
    """A base port with `count` free ports from it."""
    for _ in range(50):
        base = free_port(host)
        if base + count < 65_000 and not any(port_open(host, base + i) for i in range(count)):
            return base
    raise StartupError("no run of free ports for the worker metrics")


def start_stack(options: StackOptions) -> BenchStack:
    """Start `cardpulse up` with the benchmark's partitions and workers; wait until ready."""
    host = options.host
    api_port, sim_port = free_port(host), free_port(host)
    metrics_base = _free_run(host, options.workers + 1)
    controls_port = metrics_base + options.workers
    options.state_dir.mkdir(parents=True, exist_ok=True)
    env = child_env({
        "CARDPULSE_STATE_DIR": str(options.state_dir.resolve()),
        "CARDPULSE_API_PORT": str(api_port), "CARDPULSE_SIM_PORT": str(sim_port),
        "CARDPULSE_KAFKA_PORT": str(free_port(host)),
        "CARDPULSE_POSTGRES_PORT": str(free_port(host)),
        "CARDPULSE_USAGE_PARTITIONS": str(options.partitions),
        "CARDPULSE_WORKERS": str(options.workers),
        "CARDPULSE_WORKER_METRICS_PORT": str(metrics_base),
        "CARDPULSE_CONTROLS_METRICS_PORT": str(controls_port),
        "CARDPULSE_SIM_COOLDOWN_S": "0", "CARDPULSE_CONTROLS_CARD_COOLDOWN_S": "0",
    })
    log = options.state_dir / "up.log"
    log.unlink(missing_ok=True)  # a kept state dir holds the last run's "is up" line
    child = Child("up", [sys.executable, "-m", "cardpulse.cli", "up"], log, env=env)
    child.start()
    ready = re.compile(r"^CardPulse is up", re.MULTILINE)
    wait_until(lambda: bool(ready.search(log.read_text(errors="replace"))), timeout=180,
               what="cardpulse up", child=child)
    token = (options.state_dir / "admin-token").read_text().strip()
    return BenchStack(
        options, child, f"http://{host}:{api_port}", f"http://{host}:{sim_port}",
        [f"http://{host}:{metrics_base + i}/metrics" for i in range(options.workers)],
        f"http://{host}:{controls_port}/metrics", token)


def _peak_kb(pid: int) -> int:
    try:
        found = _HWM.search(Path(f"/proc/{pid}/status").read_bytes())
    except OSError:
        return 0
    return int(found.group(1)) if found else 0


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def _role(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    if "cardpulse.cli" in words:
        verb = words[words.index("cardpulse.cli") + 1] if len(words) > 2 else "?"
        if verb == "worker":
            return f"worker-{_worker_index(pid)}"
        return verb
    name = Path(words[0]).name if words else "?"
    return "postgres" if name.startswith("postgres") else "kafka" if "tansu" in name else name


def _worker_index(pid: int) -> str:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return "?"
    for item in env:
        if item.startswith(b"CARDPULSE_WORKER_INDEX="):
            return item.split(b"=", 1)[1].decode()
    return "0"


def _descendants(pid: int) -> list[tuple[int, str]]:
    out, todo = [], _children(pid)
    while todo:
        child = todo.pop()
        out.append((child, _role(child)))
        todo.extend(_children(child))
    return out


def wait_accounted(stack: BenchStack, expected: int, stall_s: float = 60.0,
                   on_tick: Callable[[int], None] | None = None) -> float:
    """Poll the workers' metrics until `expected` new records are committed; returns the unix
    time it was first seen. Fails, naming the shortfall, when nothing more is committed for
    `stall_s` seconds."""
    last, moved = -1, time.monotonic()
    with httpx.Client() as client:
        while True:
            done = stack.accounted(client)
            now = time.time()
            if on_tick:
                on_tick(done)
            if done >= expected:
                return now
            if done != last:
                last, moved = done, time.monotonic()
            elif time.monotonic() - moved > stall_s:
                raise RuntimeError(f"only {done:,} of {expected:,} records were accounted, "
                                   f"none in the last {stall_s:.0f} s; see "
                                   f"{stack.options.state_dir}/logs")
            time.sleep(0.05)
