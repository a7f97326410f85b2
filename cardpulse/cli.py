"""The `cardpulse` command: `up` runs the platform; the other verbs run one process each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from cardpulse.supervisor.children import StartupError
from cardpulse.tools.calendar_args import add_arguments as add_calendar_arguments
from cardpulse.tools.fleet_args import add_fleet_arguments
from cardpulse.tools.imports import add_arguments as add_import_arguments
from cardpulse.tools.users_args import add_arguments as add_user_arguments
from core.settings import Settings, SettingsError, get_settings, load_settings

# The processes `up` starts, each with its composition root `cardpulse.roots.<name>.run`.
ROOTS = ("api", "worker", "simulator", "controls")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cardpulse", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    up = verbs.add_parser("up", help="start the whole platform in the foreground")
    up.add_argument("--api-port", type=int, default=None, help="API port (default 8000)")
    up.add_argument("--sim-port", type=int, default=None,
                    help="operator simulator port (default 8100)")
    up.add_argument("--state-dir", type=Path, default=None,
                    help="where data, logs and the admin token live (default .cardpulse)")
    verbs.add_parser("api", help="run the HTTP API (started by `up`)")
    verbs.add_parser("worker", help="run a stream worker (started by `up`)")
    verbs.add_parser("simulator", help="run the operator simulator (started by `up`)")
    verbs.add_parser("controls", help="run the controls reconciler (started by `up`)")
    verbs.add_parser("migrate", help="apply database migrations to CARDPULSE_DATABASE_URL")
    verbs.add_parser("init", help="migrate the database and create the topics (deployments)")
    fleet = verbs.add_parser("fleet", help="simulate a fleet of cards sending usage")
    fleet.add_argument("--api-port", type=int, default=None, help="API port (default 8000)")
    fleet.add_argument("--sim-port", type=int, default=None, help="simulator port (default 8100)")
    fleet.add_argument("--state-dir", type=Path, default=None,
                       help="where `up` keeps the admin token (default .cardpulse)")
    add_fleet_arguments(fleet)
    _bench_parser(verbs)
    add_user_arguments(verbs)
    add_import_arguments(verbs)
    add_calendar_arguments(verbs)
    boards = verbs.add_parser("dashboards", help="build or push the Grafana dashboards")
    boards.add_argument("action", choices=["build", "push"])
    boards.add_argument("--url", help="Grafana URL (push)")
    boards.add_argument("--token", help="Grafana service-account token (push)")
    boards.add_argument("--folder-uid", default=None, help="Grafana folder (push)")
    return parser


def _bench_parser(verbs: Any) -> None:
    bench = verbs.add_parser(
        "bench", help="benchmark the whole pipeline on this machine (see BENCHMARKS.md)")
    bench.add_argument("--cards", type=int, default=None,
                       help="fleet cards (100000; 1000000 with --console-cards)")
    bench.add_argument("--records", type=int, default=2_000_000,
                       help="usage records pushed in the throughput phase (2000000)")
    bench.add_argument("--pools", type=int, default=100, help="pools the cards share (100)")
    bench.add_argument("--partitions", type=int, default=None,
                       help="usage topic partitions (default CARDPULSE_USAGE_PARTITIONS, 8)")
    bench.add_argument("--workers", type=int, default=2,
                       help="stream workers, one consumer group (2: one per core here)")
    bench.add_argument("--probes", type=int, default=150,
                       help="cards pushed over their package to time enforcement (150)")
    bench.add_argument("--probe-rate", type=float, default=10.0, help="probes a second (10)")
    bench.add_argument("--push-size", type=int, default=5_000, help="records per push (5000)")
    bench.add_argument("--concurrency", type=int, default=4, help="pushes in flight (4)")
    bench.add_argument("--state-dir", type=Path, default=None,
                       help="where the benchmark's platform keeps its data (default: a "
                            "temporary dir, removed afterwards)")
    bench.add_argument("--keep", action="store_true", help="keep the temporary state dir")
    bench.add_argument("--json", action="store_true",
                       help="end with one line: the report as a JSON object")
    bench.add_argument("--console-cards", action="store_true",
                       help="instead of the pipeline: time the console's cards page with "
                            "--cards cards in one enterprise (loaded by COPY)")
    bench.add_argument("--orders", type=int, default=None, metavar="N",
                       help="instead of the pipeline: N Flow-2 package orders through the "
                            "API until completed, N ledger transfers, N plain INSERTs")
    bench.add_argument("--batch", type=int, default=500,
                       help="with --orders: orders per POST /v1/orders/batch in the batch "
                            "phase (500)")
    bench.add_argument("--settlement-lines", type=int, default=None, metavar="N",
                       help="instead of the pipeline: import an N-line number-card "
                            "settlement end to end (settlement_import_s)")
    bench.add_argument("--runs", type=int, default=20,
                       help="GETs of each page measured, with --console-cards (20)")


def _bench(args: argparse.Namespace) -> int:
    from cardpulse.tools.bench.run import BenchArgs, main

    settings = get_settings()
    if args.cards is None:
        args.cards = 1_000_000 if args.console_cards else 100_000
    for name in ("cards", "records", "probes", "push_size", "concurrency", "workers", "runs"):
        if getattr(args, name) < (0 if name == "probes" else 1):
            print(f"cardpulse bench: --{name.replace('_', '-')} must be at least 1",
                  file=sys.stderr)
            return 2
    if args.console_cards:
        return _bench_cards_page(args, settings)
    if args.orders is not None:
        return _bench_orders(args, settings)
    if args.settlement_lines is not None:
        return _bench_settlement(args, settings)
    return main(settings, BenchArgs(
        cards=args.cards, records=args.records, pools=args.pools,
        partitions=args.partitions or settings.usage_partitions, workers=args.workers,
        probes=args.probes, probe_rate=args.probe_rate, push_size=args.push_size,
        concurrency=args.concurrency, state_dir=args.state_dir, keep=args.keep,
        as_json=args.json))


def _bench_cards_page(args: argparse.Namespace, settings: Settings) -> int:
    from cardpulse.tools.bench.cards_page import CardsPageArgs, main

    return main(settings, CardsPageArgs(
        cards=args.cards, pools=args.pools, runs=args.runs,
        partitions=args.partitions or settings.usage_partitions, state_dir=args.state_dir,
        keep=args.keep, as_json=args.json))


def _bench_orders(args: argparse.Namespace, settings: Settings) -> int:
    from cardpulse.tools.bench.orders import OrdersArgs, main

    if args.orders < 1:
        print("cardpulse bench: --orders must be at least 1", file=sys.stderr)
        return 2
    return main(settings, OrdersArgs(
        orders=args.orders, cards=min(args.cards, args.orders, 10_000),
        concurrency=args.concurrency * 8, partitions=args.partitions or settings.usage_partitions,
        workers=args.workers, state_dir=args.state_dir, keep=args.keep, as_json=args.json,
        batch=max(1, min(args.batch, 500)), batch_concurrency=args.concurrency))


def _bench_settlement(args: argparse.Namespace, settings: Settings) -> int:
    from cardpulse.tools.bench.settlement import SettlementArgs, main

    if args.settlement_lines < 1:
        print("cardpulse bench: --settlement-lines must be at least 1", file=sys.stderr)
        return 2
    return main(settings, SettlementArgs(
        lines=args.settlement_lines, partitions=args.partitions or settings.usage_partitions,
        state_dir=args.state_dir, keep=args.keep, as_json=args.json))


def _dashboards(args: argparse.Namespace) -> int:
    if args.action == "build":
        from dashboards.build import write

        for path in write():
            print(path)
        return 0
    if not args.url or not args.token:
        print("cardpulse dashboards push: --url and --token are required", file=sys.stderr)
        return 2
    from dashboards.push import push

    for url in push(args.url, args.token, args.folder_uid):
        print(f"pushed {url}")
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    wanted = {"api_port": args.api_port, "sim_port": args.sim_port, "state_dir": args.state_dir}
    return {k: v for k, v in wanted.items() if v is not None}


def _up(args: argparse.Namespace) -> int:
    from cardpulse.supervisor.up import run_up

    return run_up(load_settings(**_overrides(args)))


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.verb in ROOTS:
        import_module(f"cardpulse.roots.{args.verb}").run(settings)
    elif args.verb == "migrate":
        from store.migrate import apply_migrations

        applied = apply_migrations(settings.require_database())
        print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    elif args.verb == "init":
        import asyncio

        from store.migrate import apply_migrations
        from streams.topics import ensure_topics, topic_specs

        applied = apply_migrations(settings.require_database())
        made = asyncio.run(ensure_topics(settings.require_kafka(), topic_specs(settings)))
        print(f"migrations applied: {applied or 'none'}; topics created: {made or 'none'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.verb == "dashboards":
            return _dashboards(args)
        if args.verb == "bench":
            return _bench(args)
        if args.verb == "users":
            from cardpulse.tools.users import create_user

            overrides = {"state_dir": args.state_dir} if args.state_dir else {}
            return create_user(args, load_settings(**overrides))
        if args.verb == "import":
            from cardpulse.tools.imports import run_import

            overrides = {"state_dir": args.state_dir} if args.state_dir else {}
            return run_import(args, load_settings(**overrides))
        if args.verb == "calendar":
            from cardpulse.tools.calendar import run_calendar

            overrides = {"state_dir": args.state_dir} if args.state_dir else {}
            return run_calendar(args, load_settings(**overrides))
        if args.verb == "fleet":
            from cardpulse.tools.fleet import run_fleet

            return run_fleet(args, load_settings(**_overrides(args)))
        return _up(args) if args.verb == "up" else _run(args)
    except (SettingsError, StartupError) as exc:
        print(f"cardpulse: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
