"""`cardpulse bench --orders N`: paid-and-completed package orders per second, with the ledger.

1. start `cardpulse up` in a fresh state dir (as the other scenarios do);
2. through the API: an agent, a card-managed package with its cost and retail price, an
   enterprise and its cards (bulk import, opened), the agent's admin who logs in; the agent's
   wallet is prepaid straight in the ledger (a `recharge` transfer from the payment channel:
   the recharge path is not what is measured);
3. **orders**: N Flow-2 orders (`agent_wallet`: the cost leaves the agent's wallet for the
   order's escrow at once) POSTed through the API by `concurrency` clients, one order a
   request, and the clock stops when the worker's fulfilment has completed every one
   (package applied to the card, settlement, package count):
   `orders_completed_single_per_s`; then N more in `POST /v1/orders/batch` requests of
   `batch` orders, `batch_concurrency` in flight: `orders_completed_per_s`; the create rates
   alone are reported too;
   **commission** (cardpulse/tools/bench/commission.py): a per-order and a long-term rule
   are in force for the batch phase, and the time from its last order completed until the
   worker's commission consumer made every record is `commission_lag_s`; then a backdated
   rule set over the single phase lets `store.commission_eval.evaluate_cards` produce in
   process, 500 cards a call: `commission_evaluations_per_s` (completed orders evaluated),
   `commission_records_per_s`, the median batch time, and a second pass with nothing left to
   produce (`commission_reevaluations_per_s`);
4. **ledger**: N transfers through `store.ledger.transfer` on `concurrency` connections, one
   transaction each, all from the payment channel's account (as every online payment is):
   `ledger_transfers_per_s`; then N between 256 pairs of accounts (no account row shared by
   the transfers in flight): `ledger_transfers_spread_per_s`;
5. **floor**: N plain one-row `INSERT`s, one transaction each, on as many connections, into an
   ordinary table: `insert_floor_rows_per_s`, what PostgreSQL on this box does
   with a commit per row at all.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from cardpulse.tools.bench import commission
from cardpulse.tools.bench.cards_page import _database
from cardpulse.tools.bench.run import Admin, Progress, reported
from cardpulse.tools.bench.stack import BenchStack, StackOptions, start_stack
from core.money import Fen
from core.settings import Settings
from domain.ledger import PAYMENT_CHANNEL, Transfer, agent_available
from domain.ledger.accounts import enterprise_alipay, enterprise_wallet
from domain.ledger.transfers import FeeType
from store import bench_orders, ledger

PASSWORD = "bench orders passphrase"  # noqa: S105 - a throwaway user of a throwaway stack
COST, RETAIL = 6000, 9000
TARGET_PER_S = 2000.0
IMPORT_CHUNK = 5000


@dataclass(frozen=True)
class OrdersArgs:
    orders: int
    cards: int
    concurrency: int
    partitions: int
    workers: int
    state_dir: Path | None
    keep: bool
    as_json: bool
    batch: int = 500
    batch_concurrency: int = 4


@dataclass(frozen=True)
class Shop:
    agent: str
    package: str
    cards: list[str]
    cookies: dict[str, str]
    csrf: str


def _iccid(run: int, index: int) -> str:
    return f"89863{run:05d}{index:010d}"


def _setup(stack: BenchStack, run: int, cards: int, progress: Progress) -> Shop:
    """Agent, package, prices, enterprise, cards and the agent's admin, through the API."""
    admin = Admin(stack)
    agent, package, enterprise = f"A{run}", f"p{run}", f"orders-{run}"
    admin.call("POST", "/v1/agents", {"agent_id": agent, "name": "Bench agent",
                                      "business_lines": ["traffic_card"]})
    admin.call("POST", "/v1/packages", {
        "package_id": package, "name": "Bench package", "business_line": "traffic_card",
        "purchase_price_fen": 5000, "package_bytes": 1 << 30})
    admin.call("POST", "/v1/prices", {"kind": "cost", "package_id": package,
                                      "agent_id": agent, "amount_fen": COST})
    admin.call("POST", "/v1/enterprises", {"enterprise_id": enterprise, "name": "Orders"})
    made = admin.call("POST", "/v1/users", {"login": f"{agent}.admin".lower(),
                                            "role": "agent_admin", "agent_id": agent})
    client = httpx.Client(base_url=stack.api_url, timeout=60)
    signed = client.post("/v1/session", json={"login": f"{agent}.admin".lower(),
                                              "password": made["one_time_password"]})
    signed.raise_for_status()
    csrf = signed.json()["csrf_token"]
    client.put("/v1/session/password", headers={"X-CSRF-Token": csrf},
               json={"current_password": made["one_time_password"], "new_password": PASSWORD}
               ).raise_for_status()
    answer = client.post("/v1/prices", headers={"X-CSRF-Token": csrf}, json={
        "kind": "retail", "package_id": package, "agent_id": agent, "amount_fen": RETAIL})
    if answer.status_code != 201:
        raise RuntimeError(f"retail price: {answer.status_code} {answer.text[:300]}")
    iccids = [_iccid(run, i) for i in range(cards)]
    for lo in range(0, cards, IMPORT_CHUNK):
        admin.call("POST", "/v1/cards/import", {"enterprise_id": enterprise, "cards": [
            {"iccid": c, "operator": "onelink", "package_bytes": 0}
            for c in iccids[lo:lo + IMPORT_CHUNK]]})
        progress.show(f"registering cards: {min(lo + IMPORT_CHUNK, cards):,}/{cards:,}")
    progress.done(f"agent {agent}, package {package}, {cards:,} cards registered")
    cookies = dict(client.cookies.items())
    client.close()
    return Shop(agent, package, iccids, cookies, csrf)


async def _prepay(url: str, agent: str, orders: int) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await ledger.transfer(conn, Transfer(f"bench-prepay-{agent}", PAYMENT_CHANNEL,
                                             agent_available(agent), Fen(COST * orders),
                                             FeeType.RECHARGE))


def _order(shop: Shop, i: int) -> dict[str, Any]:
    return {"package_id": shop.package, "iccid": shop.cards[i % len(shop.cards)],
            "method": "agent_wallet"}


async def _post_once(http: httpx.AsyncClient, body: dict[str, Any], key: str | None,
                     path: str = "/v1/orders") -> httpx.Response:
    """One create (or batch), under idempotency keys so that a retry after a dropped
    keep-alive connection (a loaded box: the server closed it as the client reused it) makes
    the same orders, not more."""
    headers = {"Idempotency-Key": key} if key else None
    for attempt in range(3):
        try:
            return await http.post(path, json=body, headers=headers)
        except httpx.TransportError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _orders(stack: BenchStack, url: str, shop: Shop, n: int, concurrency: int,
                  batch: int, progress: Progress) -> dict[str, float]:
    """N orders through the API until the worker completed all: one `POST /v1/orders` each,
    `concurrency` in flight (`batch` 0), or `POST /v1/orders/batch` of `batch` orders,
    `concurrency` batches in flight."""
    size = batch or 1
    queue: asyncio.Queue[range] = asyncio.Queue()
    for lo in range(0, n, size):
        queue.put_nowait(range(lo, min(lo + size, n)))
    refused: list[str] = []
    sent = [0]
    phase = f"batches of {batch}" if batch else "single creates"
    tag = f"b{batch}-" if batch else "s-"

    async def client_loop(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            items = queue.get_nowait()
            if batch:
                answer = await _post_once(http, {"orders": [
                    _order(shop, i) | {"idempotency_key": f"{tag}{i}"} for i in items]}, None,
                    "/v1/orders/batch")
                found = answer.json().get("results", []) if answer.status_code == 200 else []
                refused.extend(f"{r['status']} {r.get('error')}" for r in found
                               if r["status"] != 201)
                ok = answer.status_code == 200
            else:
                answer = await _post_once(http, _order(shop, items[0]), f"{tag}{items[0]}")
                ok = answer.status_code == 201
            if not ok:
                refused.append(f"{answer.status_code} {answer.text[:200]}")
            sent[0] += len(items)

    async def watch(conn: psycopg.AsyncConnection[Any], before: int) -> int:
        while True:
            done = await bench_orders.completed_orders(conn, shop.agent) - before
            rate = done / (time.perf_counter() - started)
            progress.show(f"orders ({phase}): {sent[0]:,}/{n:,} created, {done:,} completed "
                          f"({rate:,.0f}/s)")
            if done >= n or refused:
                return done
            await asyncio.sleep(0.2)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=300, cookies=shop.cookies,
                                 headers={"X-CSRF-Token": shop.csrf}, limits=limits) as http, \
            await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        before = await bench_orders.completed_orders(conn, shop.agent)
        started = time.perf_counter()
        watcher = asyncio.create_task(watch(conn, before))
        await asyncio.gather(*(client_loop(http) for _ in range(concurrency)))
        created = time.perf_counter() - started
        done = await watcher
    completed_at = time.perf_counter()
    total = completed_at - started
    if refused:
        raise RuntimeError(f"{len(refused)} orders refused, first: {refused[0]}")
    progress.done(f"{n:,} orders ({phase}) created in {created:.1f} s, completed in "
                  f"{total:.1f} s ({n / total:,.0f}/s)")
    return {"orders": float(done), "create_seconds": created, "complete_seconds": total,
            "completed_at": completed_at}


async def _parallel(url: str, n: int, concurrency: int, one: Any) -> float:
    """Seconds for `n` calls of `one(conn, index)` shared by `concurrency` connections."""
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True)
             for _ in range(concurrency)]
    counter = iter(range(n))

    async def loop(conn: psycopg.AsyncConnection[Any]) -> None:
        for i in counter:
            await one(conn, i)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(loop(c) for c in conns))
        return time.perf_counter() - started
    finally:
        for c in conns:
            await c.close()


async def _ledger(url: str, run: int, n: int, concurrency: int) -> float:
    async def one(conn: psycopg.AsyncConnection[Any], i: int) -> None:
        await ledger.transfer(conn, Transfer(f"bench-{run}-{i}", PAYMENT_CHANNEL,
                                             agent_available(f"L{run}-{i % 64}"), Fen(1),
                                             FeeType.RECHARGE))

    return await _parallel(url, n, concurrency, one)


async def _ledger_spread(url: str, run: int, n: int, concurrency: int) -> float:
    """The same transfers between 256 pairs of accounts: no hot account row."""
    async def one(conn: psycopg.AsyncConnection[Any], i: int) -> None:
        pair = f"S{run}-{i % 256}"
        await ledger.transfer(conn, Transfer(f"bench-s{run}-{i}", enterprise_alipay(pair),
                                             enterprise_wallet(pair), Fen(1),
                                             FeeType.RECHARGE))

    return await _parallel(url, n, concurrency, one)


async def _floor(url: str, n: int, concurrency: int) -> float:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await bench_orders.make_floor_table(conn)
    return await _parallel(url, n, concurrency, bench_orders.insert_floor_row)


def run_orders(settings: Settings, args: OrdersArgs) -> dict[str, Any]:
    """Start the platform, set up, measure the three rates; returns the report."""
    progress = Progress()
    run = int.from_bytes(os.urandom(2), "big") % 10_000
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="cardpulse-bench-orders-"))
    os.environ["CARDPULSE_TOPIC_PREFIX"] = f"benchorders{run}"
    os.environ["CARDPULSE_API_RATE_PER_S"] = "1000000"  # one agent, many orders: not the limit
    os.environ["CARDPULSE_API_RATE_BURST"] = "1000000"
    progress.done(f"starting the platform in {state}")
    stack = start_stack(StackOptions(state, args.partitions, workers=args.workers))
    try:
        url = _database(stack, settings)
        shop = _setup(stack, run, args.cards, progress)
        asyncio.run(_prepay(url, shop.agent, 2 * args.orders))
        first = asyncio.run(commission.now(url))
        single = asyncio.run(_orders(stack, url, shop, args.orders, args.concurrency, 0,
                                     progress))
        live_from = asyncio.run(commission.now(url))
        live = asyncio.run(commission.store_rules(url, shop.agent, shop.package, f"{run}-live",
                                                  live_from))
        orders = asyncio.run(_orders(stack, url, shop, args.orders, args.batch_concurrency,
                                     args.batch, progress))
        lag_s = asyncio.run(commission.lag(url, live, commission.RECORDS_PER_ORDER * args.orders,
                                           orders["completed_at"], progress))
        asyncio.run(commission.store_rules(url, shop.agent, shop.package, f"{run}-past", first,
                                           live_from))
        topic = f"{os.environ['CARDPULSE_TOPIC_PREFIX']}.orders"
        fresh = asyncio.run(commission.evaluate(url, shop.cards, 2 * args.orders, topic,
                                                "fresh", progress))
        if fresh["records"] != commission.RECORDS_PER_ORDER * args.orders:
            raise RuntimeError(f"commission: {fresh['records']:.0f} records produced, "
                               f"{commission.RECORDS_PER_ORDER * args.orders} expected")
        again = asyncio.run(commission.evaluate(url, shop.cards, 2 * args.orders, topic,
                                                "again", progress))
        progress.show("ledger transfers…", force=True)
        ledger_s = asyncio.run(_ledger(url, run, args.orders, args.concurrency))
        progress.done(f"{args.orders:,} ledger transfers in {ledger_s:.1f} s")
        spread_s = asyncio.run(_ledger_spread(url, run, args.orders, args.concurrency))
        progress.done(f"{args.orders:,} ledger transfers on 256 account pairs in "
                      f"{spread_s:.1f} s")
        floor_s = asyncio.run(_floor(url, args.orders, args.concurrency))
        progress.done(f"{args.orders:,} plain INSERTs in {floor_s:.1f} s")
    finally:
        stack.stop()
        if not args.keep and args.state_dir is None:
            shutil.rmtree(state, ignore_errors=True)
    completed_per_s = args.orders / orders["complete_seconds"]
    return {"orders": args.orders, "cards": args.cards, "concurrency": args.concurrency,
            "batch": args.batch, "batch_concurrency": args.batch_concurrency,
            "workers": args.workers,
            "orders_created_per_s": round(args.orders / orders["create_seconds"], 1),
            "orders_completed_per_s": round(completed_per_s, 1),
            "orders_created_single_per_s": round(args.orders / single["create_seconds"], 1),
            "orders_completed_single_per_s": round(args.orders / single["complete_seconds"],
                                                   1),
            "ledger_transfers_per_s": round(args.orders / ledger_s, 1),
            "ledger_transfers_spread_per_s": round(args.orders / spread_s, 1),
            "insert_floor_rows_per_s": round(args.orders / floor_s, 1),
            "target_orders_per_s": TARGET_PER_S,
            "within_target": completed_per_s >= TARGET_PER_S,
            **commission.report(fresh, again, lag_s)}


def render(report: dict[str, Any]) -> str:
    verdict = "within" if report["within_target"] else "BELOW"
    return "\n".join([
        f"{report['orders']:,} Flow-2 orders on {report['cards']:,} cards, twice · "
        f"{report['workers']} worker(s)",
        f"single creates, {report['concurrency']} in flight:",
        f"  orders created (API)        {report['orders_created_single_per_s']:>10,.1f}/s",
        f"  orders paid and completed   {report['orders_completed_single_per_s']:>10,.1f}/s",
        f"batches of {report['batch']}, {report['batch_concurrency']} in flight:",
        f"  orders created (API)        {report['orders_created_per_s']:>10,.1f}/s",
        f"  orders paid and completed   {report['orders_completed_per_s']:>10,.1f}/s "
        f"({verdict} the target of {report['target_orders_per_s']:,.0f}/s)",
        f"ledger transfers on their own {report['ledger_transfers_per_s']:>10,.1f}/s "
        "(one account in every transfer)",
        f"  … between 256 account pairs {report['ledger_transfers_spread_per_s']:>10,.1f}/s",
        f"plain INSERT floor            {report['insert_floor_rows_per_s']:>10,.1f}/s",
        f"commission, in process, {report['commission_batch_cards']} cards a batch:",
        f"  completed orders evaluated  {report['commission_evaluations_per_s']:>10,.1f}/s "
        f"({report['commission_records_per_s']:,.1f} records/s, median batch "
        f"{report['commission_median_batch_ms']:,.1f} ms)",
        f"  … again, nothing to produce {report['commission_reevaluations_per_s']:>10,.1f}/s",
        f"commission, end to end: the last record {report['commission_lag_s']} s after the "
        "last order completed"])


def main(settings: Settings, args: OrdersArgs) -> int:
    """Run the scenario, print the summary (and the JSON report); the stack always stops."""
    return reported(lambda: run_orders(settings, args), render, as_json=args.as_json)
