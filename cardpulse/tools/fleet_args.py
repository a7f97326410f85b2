"""Arguments of `cardpulse fleet` (kept apart so the CLI parser stays light)."""

from __future__ import annotations

import argparse

from core.operators import OPERATORS


def add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cards", type=int, default=1000, help="fleet size (default 1000)")
    parser.add_argument("--records", type=int, default=10_000,
                        help="usage records to send (default 10000)")
    parser.add_argument("--duration", type=float, default=600,
                        help="stop after this many seconds even if records remain (default 600)")
    parser.add_argument("--operator", choices=OPERATORS, default="onelink")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", choices=["push", "poll"], default="push")
    parser.add_argument("--register", action="store_true",
                        help="create the enterprise 'fleet' and its cards first (admin token)")
    parser.add_argument("--secret", default=None,
                        help="the operator's push secret; with --register and none given, a new "
                             "one is generated and set through the API")
    parser.add_argument("--batch", type=int, default=500, help="records per push (default 500)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--card-events", type=int, default=0, metavar="N",
                        help="push mode: also push N signed card events (real name, activation, "
                             "recharges) after the usage (default 0)")
