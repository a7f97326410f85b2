"""`cardpulse calendar --year 2027 --from-file holidays.csv`: enter a year of the working-day
calendar from the shell (I-62), as `POST /v1/work-calendar/years/{year}` does: the listed
holidays off, the listed 调休 make-up days on, every other day by weekday; running deadlines
re-computed; audited as the CLI. The file has a header `day,name,kind` and one row a day,
`kind` = holiday or workday:

    day,name,kind
    2027-01-01,元旦,holiday
    2027-09-26,国庆节调休,workday

It reaches the database of the platform `up` runs on the state dir, or CARDPULSE_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
from datetime import date
from pathlib import Path

import psycopg

from cardpulse.tools.users import database_url
from core.settings import Settings
from domain.delivery.calendar import year_days
from domain.refusals import Refusal
from store.agents import Actor
from store.delivery.calendar import enter_year

KINDS = ("holiday", "workday")


def read_days(path: Path) -> tuple[dict[date, str], dict[date, str]]:
    """The holidays and the make-up workdays of the file (ValueError naming the bad row)."""
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as source:
        for number, row in enumerate(csv.DictReader(source), start=2):
            kind = (row.get("kind") or "").strip()
            name = (row.get("name") or "").strip()
            if kind not in KINDS or not name:
                raise ValueError(f"row {number}: kind must be holiday or workday, with a name")
            try:
                day = date.fromisoformat((row.get("day") or "").strip())
            except ValueError:
                raise ValueError(f"row {number}: day must be YYYY-MM-DD") from None
            (holidays if kind == "holiday" else workdays)[day] = name[:40]
    return holidays, workdays


async def _enter(url: str, year: int, holidays: dict[date, str], workdays: dict[date, str],
                 replace: bool) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await enter_year(conn, year, year_days(year, holidays, workdays),
                                Actor("cli", "admin"), replace=replace)


def run_calendar(args: argparse.Namespace, settings: Settings) -> int:
    """Enter the year; print what was done, or why not (exit 1 or 2)."""
    try:
        holidays, workdays = read_days(args.from_file)
    except (OSError, ValueError) as exc:
        print(f"cardpulse calendar: {args.from_file}: {exc}")
        return 2
    url = database_url(settings)
    try:
        moved = asyncio.run(_enter(url, args.year, holidays, workdays, args.replace))
    except Refusal as refused:
        print(f"cardpulse calendar: {refused.message_en}")
        return 1
    except psycopg.OperationalError as exc:
        print(f"cardpulse calendar: cannot reach the database at {url}: {exc}")
        return 1
    print(f"entered {args.year}: {len(holidays)} holidays, {len(workdays)} make-up working "
          f"days; {moved} running deadlines re-computed")
    return 0
