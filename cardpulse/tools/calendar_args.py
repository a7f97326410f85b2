"""The arguments of `cardpulse calendar` (kept apart so the CLI imports no store to parse)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cal = verbs.add_parser("calendar", help="enter a year of the working-day calendar")
    cal.add_argument("--year", type=int, required=True)
    cal.add_argument("--from-file", type=Path, required=True,
                     help="CSV with the header day,name,kind (kind: holiday or workday)")
    cal.add_argument("--replace", action="store_true", help="overwrite a year already entered")
    cal.add_argument("--state-dir", default=None,
                     help="the state dir of the `up` whose database to use (.cardpulse)")
