"""`cardpulse bench`: the full pipeline under a simulated fleet, against this machine's floors.

Phases, all in one run on one broker and one database:
1. start `cardpulse up` (embedded, or the configured Kafka/PostgreSQL) in a fresh state dir;
2. register the enterprise, pools and cards through the bulk import API;
3. throughput: push `--records` signed records through the push API as fast as it accepts
   them, until the workers have committed every one (`pipeline_records_per_s`);
4. floors: a raw aiokafka read of the same topic and a raw binary COPY of the same rows;
5. enforcement: at half the measured pipeline rate, push one crossing record at a time for
   probe cards and time push accepted → operator simulator accepting the stop;
6. peak RSS of every process, then stop the stack.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cardpulse.supervisor.embedded import pg_url
from cardpulse.tools.bench.measure import kafka_consume_records_per_s
from cardpulse.tools.bench.stack import BenchStack, StackOptions, start_stack, wait_accounted
from core.operators import OPERATORS, Operator
from core.settings import Settings
from simulators.fleet import NUMBER_PREFIX
from simulators.fleet_push import SIM_REGISTER_CHUNK
from simulators.load import PushBody, Pusher, push_bodies
from store.diagnostics import copy_rows_per_s, pg_counters, verify

IMPORT_CHUNK = 10_000
FLEET_PACKAGE = 1 << 40  # fleet cards never cross: the throughput phase measures accounting
PROBE_PACKAGE = 1_000_000
PROBE_BYTES = 1_200_000


@dataclass(frozen=True)
class BenchArgs:
    cards: int
    records: int
    pools: int
    partitions: int
    workers: int
    probes: int
    probe_rate: float
    push_size: int
    concurrency: int
    state_dir: Path | None
    keep: bool
    as_json: bool


@dataclass
class Progress:
    """One line on stderr, rewritten in place on a terminal, at most a few times a second."""

    last: float = 0.0
    tty: bool = field(default_factory=lambda: sys.stderr.isatty())

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < (0.25 if self.tty else 2.0):
            return
        self.last = now
        print(f"\r\033[K{text}" if self.tty else text, end="" if self.tty else "\n",
              file=sys.stderr, flush=True)

    def done(self, text: str) -> None:
        self.show(text, force=True)
        if self.tty:
            print(file=sys.stderr, flush=True)


def _iccid(run: int, kind: int, index: int) -> str:
    return f"8986{kind}{run:05d}{index:09d}"


def _number(operator: Operator, run: int, kind: int, index: int) -> str:
    """A 13-digit number in the operator's IoT range, unique per (run, kind, index)."""
    return f"{NUMBER_PREFIX[operator]}{run % 10}{kind}{index:07d}"


def _number_at_operator(stack: BenchStack, items: list[dict[str, Any]]) -> None:
    """The simulated operator knows each card's number, as a real one does."""
    cards = [{"iccid": i["iccid"], "msisdn": i["msisdn"]} for i in items]
    with httpx.Client(base_url=stack.sim_url, timeout=120) as sim:
        for lo in range(0, len(cards), SIM_REGISTER_CHUNK):
            sim.post("/_sim/cards", json={"cards": cards[lo:lo + SIM_REGISTER_CHUNK]}
                     ).raise_for_status()


class Admin:
    """The admin side of the API, used to set the fleet up."""

    def __init__(self, stack: BenchStack) -> None:
        self.http = httpx.Client(base_url=stack.api_url, timeout=120,
                                 headers={"Authorization": f"Bearer {stack.admin_token}"})

    def call(self, method: str, path: str, body: object) -> Any:
        for _ in range(100):
            answer = self.http.request(method, path, json=body)
            if answer.status_code != 429:
                break
            time.sleep(float(answer.headers.get("Retry-After", "1")))
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} {path} answered {answer.status_code}: "
                               f"{answer.text[:500]}")
        return answer.json() if answer.content else None


@dataclass(frozen=True)
class Fleet:
    enterprise: str
    secret: str
    cards: list[str]
    probes: list[tuple[str, Operator]]  # (iccid, operator)


def seed(stack: BenchStack, args: BenchArgs, run: int, progress: Progress) -> Fleet:
    """Enterprise, push secrets, pools and cards, through the API (cards by bulk import)."""
    admin = Admin(stack)
    enterprise, secret = f"bench-{run}", secrets.token_urlsafe(24)
    admin.call("POST", "/v1/enterprises", {"enterprise_id": enterprise, "name": "Benchmark"})
    for operator in OPERATORS:
        admin.call("PUT", f"/v1/operators/{operator}/push-secret", {"secret": secret})
    pools = [f"pool-{run}-{i}" for i in range(args.pools)]
    for pool in pools:
        admin.call("POST", "/v1/pools", {"pool_id": pool, "enterprise_id": enterprise,
                                         "limit_bytes": 1 << 60})
    cards = [_iccid(run, 1, i) for i in range(args.cards)]
    probes = [(_iccid(run, 2, i), OPERATORS[i % 3]) for i in range(args.probes)]
    items = [{"iccid": c, "operator": "onelink", "package_bytes": FLEET_PACKAGE,
              "msisdn": _number("onelink", run, 1, i),
              "pool_id": pools[i % len(pools)] if pools else None}
             for i, c in enumerate(cards)]
    items += [{"iccid": c, "operator": op, "package_bytes": PROBE_PACKAGE,
               "msisdn": _number(op, run, 2, i)} for i, (c, op) in enumerate(probes)]
    _number_at_operator(stack, items)
    started = time.perf_counter()
    for lo in range(0, len(items), IMPORT_CHUNK):
        admin.call("POST", "/v1/cards/import",
                   {"enterprise_id": enterprise, "cards": items[lo:lo + IMPORT_CHUNK]})
        done = min(lo + IMPORT_CHUNK, len(items))
        rate = done / (time.perf_counter() - started)
        progress.show(f"registering cards: {done:,}/{len(items):,} ({rate:,.0f}/s)")
    progress.done(f"registered {len(items):,} cards in {len(pools)} pools "
                  f"in {time.perf_counter() - started:.1f} s")
    return Fleet(enterprise, secret, cards, probes)


async def _push_fleet(stack: BenchStack, fleet: Fleet, args: BenchArgs, run: int,
                      progress: Progress) -> Pusher:
    bodies = push_bodies(fleet.cards, args.records, args.push_size, f"r{run}")
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=120) as client:
        pusher = Pusher(client, "onelink", fleet.secret, args.concurrency)
        started = time.perf_counter()

        def tick() -> None:
            done = pusher.stats.accepted
            progress.show(f"pushing: {done:,}/{args.records:,} records accepted "
                          f"({done / (time.perf_counter() - started):,.0f}/s)")

        await pusher.push_all(bodies, progress=tick)
    return pusher


def throughput(stack: BenchStack, fleet: Fleet, args: BenchArgs, run: int,
               progress: Progress) -> dict[str, Any]:
    """Push every record, then wait until the workers have committed all of them."""
    before = stack.accounted(httpx.Client())
    cpu_before, own_before = stack.cpu_seconds(), time.process_time()
    started = time.time()
    pusher = asyncio.run(_push_fleet(stack, fleet, args, run, progress))
    pushed_at = time.time()
    progress.done(f"pushed {args.records:,} records in {pushed_at - started:.1f} s "
                  f"({args.records / (pushed_at - started):,.0f}/s accepted by the API)")

    def tick(done: int) -> None:
        progress.show(f"accounting: {done - before:,}/{args.records:,} records committed")

    finished = wait_accounted(stack, before + args.records, on_tick=tick)
    took = finished - started
    progress.done(f"accounted {args.records:,} records in {took:.1f} s "
                  f"({args.records / took:,.0f}/s end to end)")
    cpu = {role: used - cpu_before.get(role, 0.0)
           for role, used in stack.cpu_seconds().items()}
    cpu["bench (load generator)"] = time.process_time() - own_before
    return {"pipeline_records_per_s": args.records / took,
            "cpu_us_per_record": {role: round(used / args.records * 1e6, 2)
                                  for role, used in sorted(cpu.items())},
            "push_records_per_s": args.records / (pushed_at - started),
            "pipeline_seconds": took, "push_retries": pusher.stats.retries}


async def _probe(pusher: Pusher, iccid: str, run: int, index: int) -> tuple[str, float]:
    # Ending now (not a minute ago), so that a probe pushed in the first minute of a month
    # counts in that month, where its card's package is checked, not as late usage.
    now = time.time()
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
    body = (f'{{"records":[{{"record_id":"p{run}-{index}","iccid":"{iccid}",'
            f'"bytes":{PROBE_BYTES},"start":"{start}","end":"{end}"}}]}}').encode()
    return iccid, await pusher.push(PushBody(body, 1, PROBE_BYTES))


async def _latency_phase(stack: BenchStack, fleet: Fleet, args: BenchArgs, run: int,
                         load_rate: float, progress: Progress) -> dict[str, Any]:
    """Background load at `load_rate` records/s while probes cross their package."""
    before = stack.histogram_means(httpx.Client())
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=120) as client:
        load = Pusher(client, "onelink", fleet.secret, args.concurrency)
        duration = args.probes / args.probe_rate + 2
        bodies = push_bodies(fleet.cards, int(load_rate * (duration + 10)), args.push_size,
                             f"l{run}", first=0)
        background = asyncio.create_task(load.push_all(bodies, rate_per_s=load_rate))
        await asyncio.sleep(2)  # let the load settle before the first probe
        pushers = {op: Pusher(client, op, fleet.secret) for op in OPERATORS}
        tasks = []
        for index, (iccid, operator) in enumerate(fleet.probes):
            tasks.append(asyncio.create_task(_probe(pushers[operator], iccid, run, index)))
            progress.show(f"enforcement: {index + 1}/{len(fleet.probes)} probes pushed under "
                          f"{load_rate:,.0f} records/s of load")
            await asyncio.sleep(1 / args.probe_rate)
        accepted = dict(await asyncio.gather(*tasks))
        background.cancel()
        try:
            await background
        except asyncio.CancelledError:
            pass
        stops = await _wait_stops(client, stack.sim_url, set(accepted), timeout=60)
    samples = sorted((stops[i] - accepted[i]) * 1000 for i in accepted if i in stops)
    progress.done(f"enforcement: {len(samples)}/{len(accepted)} probe cards stopped "
                  f"at the operator simulator")
    report = _latency(samples, len(accepted), load.stats.accepted, load_rate)
    by_operator = {op: sorted((stops[i] - accepted[i]) * 1000 for i, o in fleet.probes
                              if o == op and i in stops and i in accepted) for op in OPERATORS}
    report["enforcement_p50_ms_by_operator"] = {
        op: round(statistics.median(v), 1) for op, v in by_operator.items() if v}
    report["enforcement_breakdown"] = _breakdown(before, stack.histogram_means(httpx.Client()))
    return report


def _breakdown(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
               ) -> dict[str, float]:
    """Means over the enforcement phase, from the pipeline's own histograms: records and
    milliseconds per worker batch, push accepted → desired change committed (worker), and
    push accepted → operator accepted (controls, every change it made)."""
    def mean(name: str, scale: float) -> float:
        total = after.get(name, (0.0, 0.0))[0] - before.get(name, (0.0, 0.0))[0]
        count = after.get(name, (0.0, 0.0))[1] - before.get(name, (0.0, 0.0))[1]
        return round(total / count * scale, 1) if count else 0.0

    return {"batch_records_mean": mean("cardpulse_usage_batch_records", 1),
            "batch_ms_mean": mean("cardpulse_usage_batch_seconds", 1000),
            "decision_ms_mean": mean("cardpulse_enforcement_decision_seconds", 1000),
            "operator_accepted_ms_mean": mean("cardpulse_enforcement_latency_seconds", 1000)}


async def _wait_stops(client: httpx.AsyncClient, sim_url: str, iccids: set[str],
                      timeout: float) -> dict[str, float]:
    """When the simulator accepted a stop of each of `iccids` (unix seconds)."""
    seen: dict[str, float] = {}
    after, deadline = 0, time.monotonic() + timeout
    while len(seen) < len(iccids) and time.monotonic() < deadline:
        changes = (await client.get(f"{sim_url}/_sim/changes", params={"after": after})).json()
        for change in changes:
            after = max(after, int(change["seq"]))
            if change["iccid"] in iccids and change["status"] == "stopped":
                seen.setdefault(change["iccid"], float(change["at"]))
        if not changes:
            await asyncio.sleep(0.2)
    return seen


def _latency(samples: list[float], probes: int, load_records: int, load_rate: float
             ) -> dict[str, Any]:
    """p50/p99/max of the probe latencies (p99: the sample below which 99 % fall)."""
    load = {"enforcement_load_records_per_s": round(load_rate),
            "enforcement_load_records": load_records}
    if not samples:
        return {"enforcement_latency_ms": {"p50": None, "p99": None, "max": None,
                                           "samples": 0, "missed": probes}, **load}
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return {"enforcement_latency_ms": {
        "p50": round(statistics.median(samples), 1), "p99": round(p99, 1),
        "max": round(samples[-1], 1), "samples": len(samples),
        "missed": probes - len(samples)}, **load}


def _urls(stack: BenchStack, settings: Settings) -> tuple[str, str]:
    env = stack.child.env or {}
    bootstrap = settings.kafka_bootstrap or f"127.0.0.1:{env['CARDPULSE_KAFKA_PORT']}"
    database = settings.database_url or pg_url("127.0.0.1", int(env["CARDPULSE_POSTGRES_PORT"]))
    return bootstrap, database


def run_bench(settings: Settings, args: BenchArgs) -> dict[str, Any]:
    """Run every phase and return the report (see the module docstring)."""
    progress = Progress()
    run = int.from_bytes(os.urandom(3), "big") % 100_000
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="cardpulse-bench-"))
    os.environ["CARDPULSE_TOPIC_PREFIX"] = f"bench{run}"
    os.environ["CARDPULSE_WORKER_GROUP"] = f"bench{run}-usage"
    progress.done(f"starting the platform in {state} ({args.partitions} partitions, "
                  f"{args.workers} worker(s))")
    stack = start_stack(StackOptions(state, args.partitions, args.workers))
    try:
        report = _phases(stack, settings, args, run, progress)
        report["peak_rss_mb"] = stack.peak_rss_mb()
    finally:
        stack.stop()
        if not args.keep and args.state_dir is None:
            shutil.rmtree(state, ignore_errors=True)
    return report


def _phases(stack: BenchStack, settings: Settings, args: BenchArgs, run: int,
            progress: Progress) -> dict[str, Any]:
    bootstrap, database = _urls(stack, settings)
    fleet = seed(stack, args, run, progress)
    wal_before = pg_counters(database)
    speed = throughput(stack, fleet, args, run, progress)
    wal_throughput = pg_counters(database).per_record(wal_before, args.records)
    verify(database, fleet.enterprise, args.cards, args.records)
    progress.done("verified: every record counted exactly once")
    progress.done("floor: raw aiokafka read of the usage topic…")
    consume, read = kafka_consume_records_per_s(bootstrap, f"bench{run}.usage",
                                                args.partitions, args.records)
    progress.done(f"floor: {read:,} records read at {consume:,.0f}/s; binary COPY…")
    copy, rows = copy_rows_per_s(database, f"r{run}-")
    progress.done(f"floor: {rows:,} rows copied at {copy:,.0f}/s")
    wal_before = pg_counters(database)
    latency = asyncio.run(_latency_phase(stack, fleet, args, run,
                                         speed["pipeline_records_per_s"] / 2, progress))
    wal_enforcement = pg_counters(database).per_record(
        wal_before, latency["enforcement_load_records"] + args.probes)
    return {
        "pipeline_records_per_s": round(speed["pipeline_records_per_s"]),
        "copy_rows_per_s": round(copy),
        "kafka_consume_records_per_s": round(consume),
        "ratio_to_copy": round(speed["pipeline_records_per_s"] / copy, 3),
        **latency,
        "push_records_per_s": round(speed["push_records_per_s"]),
        "cpu_us_per_record": speed["cpu_us_per_record"],
        "wal": {"throughput": wal_throughput, "enforcement": wal_enforcement},
        "pipeline_seconds": round(speed["pipeline_seconds"], 2),
        "cards": args.cards, "pools": args.pools, "records": args.records,
        "partitions": args.partitions, "workers": args.workers,
        "probe_cards": args.probes,
    }


def render(report: dict[str, Any]) -> str:
    """The human summary printed before the JSON line."""
    lat = report["enforcement_latency_ms"]
    rss = ", ".join(f"{k} {v:,.0f}" for k, v in report["peak_rss_mb"].items())
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in report["cpu_us_per_record"].items())
    return "\n".join([
        f"cards {report['cards']:,} · pools {report['pools']} · records {report['records']:,}"
        f" · partitions {report['partitions']} · workers {report['workers']}",
        f"pipeline      {report['pipeline_records_per_s']:>12,} records/s (push accepted →"
        f" committed; API alone accepted {report['push_records_per_s']:,}/s)",
        f"binary COPY   {report['copy_rows_per_s']:>12,} rows/s    ratio_to_copy "
        f"{report['ratio_to_copy']}",
        f"kafka read    {report['kafka_consume_records_per_s']:>12,} records/s",
        f"enforcement   p50 {lat['p50']} ms · p99 {lat['p99']} ms · max {lat['max']} ms "
        f"({lat['samples']} probes, {lat['missed']} missed)",
        f"CPU µs/record {cpu}",
        *(_wal_line(phase, wal) for phase, wal in report["wal"].items()),
        f"peak RSS MB   {rss}",
    ])


def _wal_line(phase: str, wal: dict[str, float]) -> str:
    return (f"WAL {phase:<11} {wal['wal_bytes_per_record']:,.0f} bytes and "
            f"{wal['full_page_images_per_record']} full-page images per record · "
            f"{wal['checkpoints']} checkpoint(s), {wal['autovacuums']} autovacuum(s)")


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(settings: Settings, args: BenchArgs) -> int:
    return reported(lambda: run_bench(settings, args), render, as_json=args.as_json)


def reported(run: Callable[[], dict[str, Any]], render: Callable[[dict[str, Any]], str], *,
             as_json: bool) -> int:
    """Run a bench scenario, print its summary (and its JSON report): the exit code. The
    stack it started is always stopped, on SIGTERM as on Ctrl-C."""
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        report = run()
    except KeyboardInterrupt:
        print("\ncardpulse bench: interrupted; the platform it started is stopped",
              file=sys.stderr)
        return 130
    except Exception as exc:  # a failed phase says which and why; the stack is stopped
        print(f"cardpulse bench: error: {exc}", file=sys.stderr)
        return 1
    print(render(report))
    if as_json:
        print(json.dumps(report))
    return 0
