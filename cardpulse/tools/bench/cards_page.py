"""`cardpulse bench --console-cards`: the console's cards page with a big fleet in one enterprise.

1. start `cardpulse up` in a fresh state dir (as the pipeline bench does);
2. make an enterprise and an enterprise administrator who logs in to the console;
3. load the fleet straight into PostgreSQL with binary COPY (`store.fleet_load`, about 1M cards
   a minute here), with pools (a few used up), own stop reasons, control rows, this cycle's
   usage and 48 hours of hourly usage for a sample, then ANALYZE;
4. GET the cards page through the real API, as the browser would, `runs` times for each
   query (the first page, each filter, an ICCID prefix, an MSISDN, a deep page by cursor, a
   card page), after one unmeasured warm-up each, and report p50/p95/max per query.
The times are the wall time of each GET at the client on the same machine: the server's
time plus loopback.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg

from cardpulse.supervisor.embedded import pg_url
from cardpulse.tools.bench.cards_fleet import (
    FleetPlan,
    cycle_start,
    plan_cards,
    plan_hourly,
    plan_pools,
)
from cardpulse.tools.bench.run import Admin, Progress, reported
from cardpulse.tools.bench.stack import BenchStack, StackOptions, start_stack
from core.settings import Settings
from store import fleet_load
from store.fleet_load import LoadedCard

PASSWORD = "bench console passphrase"  # noqa: S105 - a throwaway user of a throwaway stack
HOURLY_SAMPLE = 200
_CARD_LINK = re.compile(r'<td><a href="/console/e/[^/"]+/cards/[0-9]+"')
TARGET_P95_MS = 300.0


@dataclass(frozen=True)
class CardsPageArgs:
    cards: int
    pools: int
    runs: int
    partitions: int
    state_dir: Path | None
    keep: bool
    as_json: bool


@dataclass
class Loaded:
    """What the queries need to know of the loaded fleet."""

    enterprise: str
    samples: list[LoadedCard]
    seconds: float = 0.0


def _sampled(cards: Iterator[LoadedCard], every: int, into: list[LoadedCard]
             ) -> Iterator[LoadedCard]:
    for index, card in enumerate(cards):
        if index % every == 0:
            into.append(card)
        yield card


async def _load(url: str, plan: FleetPlan, enterprise: str, progress: Progress) -> Loaded:
    now = datetime.now(UTC)
    cycle = cycle_start(now.astimezone(ZoneInfo("Asia/Shanghai")))
    loaded = Loaded(enterprise, [])
    started = time.perf_counter()

    def tick(done: int) -> None:
        rate = done / (time.perf_counter() - started)
        progress.show(f"loading cards: {done:,}/{plan.cards:,} ({rate:,.0f}/s)")

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await fleet_load.copy_pools(conn, enterprise, plan_pools(plan), cycle)
        cards = _sampled(plan_cards(plan, now), max(1, plan.cards // 1000), loaded.samples)
        await fleet_load.copy_cards(conn, enterprise, cards, cycle, tick)
        sample = [c.iccid for c in loaded.samples[:HOURLY_SAMPLE]]
        await fleet_load.copy_hourly(conn, plan_hourly(sample, now))
        progress.show("analyzing the loaded tables…", force=True)
        await fleet_load.analyze(conn)
    loaded.seconds = time.perf_counter() - started
    progress.done(f"loaded {plan.cards:,} cards in {plan.pools} pools in "
                  f"{loaded.seconds:.1f} s ({plan.cards / loaded.seconds:,.0f}/s)")
    return loaded


def queries(loaded: Loaded) -> dict[str, str]:
    """Name → path of each measured page."""
    base = f"/console/e/{loaded.enterprise}/cards"
    by_iccid = sorted(loaded.samples, key=lambda c: c.iccid)
    deep = by_iccid[len(by_iccid) * 9 // 10]
    probe = loaded.samples[len(loaded.samples) // 2]
    prefix = probe.iccid[:16]  # 10,000 serials, about a third of them this operator's
    pool = next((c.pool_id for c in loaded.samples if c.pool_id), "")
    stopped = next((c for c in loaded.samples if c.stop_reasons), probe)
    return {
        "first page": base,
        "status=stopped": f"{base}?status=stopped",
        "status=active": f"{base}?status=active",
        "reason=manual": f"{base}?reason=manual",
        "reason=pool_exhausted": f"{base}?reason=pool_exhausted",
        "operator=ctcc": f"{base}?operator=ctcc",
        "pool": f"{base}?pool={pool}",
        "operator=jasper&status=stopped": f"{base}?operator=jasper&status=stopped",
        "ICCID prefix": f"{base}?q={prefix}",
        "MSISDN": f"{base}?q={probe.msisdn}",
        "deep page (cursor)": f"{base}?after={deep.iccid}",
        "stopped, deep page": f"{base}?status=stopped&after={deep.iccid}",
        "card page": f"{base}/{stopped.iccid}",
    }


def _login(stack: BenchStack, enterprise: str) -> httpx.Client:
    """An enterprise administrator's console session (the one-time password changed)."""
    admin = Admin(stack)
    admin.call("POST", "/v1/enterprises", {"enterprise_id": enterprise, "name": "Cards bench"})
    made = admin.call("POST", "/v1/users", {"login": f"{enterprise}.admin",
                                            "role": "enterprise_admin",
                                            "enterprise_id": enterprise})
    client = httpx.Client(base_url=stack.api_url, timeout=60)
    answer = client.post("/v1/session", json={"login": f"{enterprise}.admin",
                                              "password": made["one_time_password"]})
    answer.raise_for_status()
    client.put("/v1/session/password", headers={"X-CSRF-Token": answer.json()["csrf_token"]},
               json={"current_password": made["one_time_password"], "new_password": PASSWORD}
               ).raise_for_status()
    return client


def _get(client: httpx.Client, path: str) -> tuple[float, int]:
    """Milliseconds one GET of `path` took (it must answer 200 with a page), and the cards
    it listed (links to a card page in a table cell)."""
    started = time.perf_counter()
    answer = client.get(path)
    took = (time.perf_counter() - started) * 1000
    if answer.status_code != 200 or "<html" not in answer.text:
        raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    return took, len(_CARD_LINK.findall(answer.text))


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest sample with `share` of them at or below."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(client: httpx.Client, paths: dict[str, str], runs: int, progress: Progress
            ) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, path in paths.items():
        _, shown = _get(client, path)  # warm-up: plans cached, pages in memory
        samples = []
        for k in range(runs):
            samples.append(_get(client, path)[0])
            progress.show(f"timing {name}: {k + 1}/{runs}")
        out[name] = {"p50": round(statistics.median(samples), 1),
                     "p95": round(percentile(samples, 0.95), 1),
                     "max": round(max(samples), 1), "runs": runs, "cards_shown": shown}
        progress.done(f"{name:<32} p50 {out[name]['p50']:>7.1f} ms · p95 "
                      f"{out[name]['p95']:>7.1f} ms")
    return out


def _database(stack: BenchStack, settings: Settings) -> str:
    env = stack.child.env or {}
    return settings.database_url or pg_url("127.0.0.1", int(env["CARDPULSE_POSTGRES_PORT"]))


def run_cards_page(settings: Settings, args: CardsPageArgs) -> dict[str, Any]:
    """Start the platform, load the fleet, time the pages; returns the report."""
    progress = Progress()
    run = int.from_bytes(os.urandom(2), "big") % 10_000
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="cardpulse-bench-cards-"))
    os.environ["CARDPULSE_TOPIC_PREFIX"] = f"benchcards{run}"
    os.environ["CARDPULSE_API_RATE_PER_S"] = "100000"  # one person, many pages: not the limit
    os.environ["CARDPULSE_API_RATE_BURST"] = "100000"
    progress.done(f"starting the platform in {state}")
    stack = start_stack(StackOptions(state, args.partitions, workers=1))
    try:
        plan = FleetPlan(run, args.cards, args.pools, args.partitions)
        enterprise = f"cards-{run}"
        client = _login(stack, enterprise)
        loaded = asyncio.run(_load(_database(stack, settings), plan, enterprise, progress))
        try:
            timings = measure(client, queries(loaded), args.runs, progress)
        finally:
            client.close()
    finally:
        stack.stop()
        if not args.keep and args.state_dir is None:
            shutil.rmtree(state, ignore_errors=True)
    worst = max(t["p95"] for t in timings.values())
    return {"cards": args.cards, "pools": args.pools, "runs": args.runs,
            "load_seconds": round(loaded.seconds, 1),
            "load_cards_per_s": round(args.cards / loaded.seconds),
            "pages_ms": timings, "worst_p95_ms": worst,
            "target_p95_ms": TARGET_P95_MS, "within_target": worst < TARGET_P95_MS}


def render(report: dict[str, Any]) -> str:
    lines = [f"cards {report['cards']:,} · pools {report['pools']} · {report['runs']} runs "
             f"per page · loaded in {report['load_seconds']} s "
             f"({report['load_cards_per_s']:,} cards/s)"]
    lines += [f"{name:<32} p50 {t['p50']:>7.1f} ms · p95 {t['p95']:>7.1f} ms · "
              f"max {t['max']:>7.1f} ms · {t['cards_shown']} cards shown"
              for name, t in report["pages_ms"].items()]
    verdict = "within" if report["within_target"] else "OVER"
    lines.append(f"worst p95 {report['worst_p95_ms']} ms: {verdict} the target of "
                 f"{report['target_p95_ms']:.0f} ms")
    return "\n".join(lines)


def main(settings: Settings, args: CardsPageArgs) -> int:
    """Run the scenario, print the summary (and the JSON report); the stack always stops."""
    return reported(lambda: run_cards_page(settings, args), render, as_json=args.as_json)
