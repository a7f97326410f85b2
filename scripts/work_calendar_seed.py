"""Write store/migrations/0201_work_calendar.sql from the `chinesecalendar` package (I-40, I-62):
one row per day of the years it covers, weekends off, its holidays off and its 调休 make-up
days on, each with its festival's name. Run it again after upgrading `chinesecalendar` for a
new year's State Council notice, as a new migration that inserts the new year.

    .venv/bin/python scripts/work_calendar_seed.py > store/migrations/0201_work_calendar.sql
"""

from __future__ import annotations

import sys
from datetime import date

from chinese_calendar import constants  # type: ignore[import-untyped]

NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
         "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
         "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利纪念日"}

HEADER = """\
-- The working-day calendar (I-40, I-41, I-62): one row per day, generated from the
-- `chinesecalendar` {version} package by scripts/work_calendar_seed.py ({first} … {last}).
-- Platform operations edit it (source 'ops'); a day without a row is not covered, and a
-- deadline that would need one is not guessed (store/delivery/clock.py).
-- depends: 0200_delivery

CREATE TABLE work_calendar (
    day        date PRIMARY KEY,
    is_workday boolean NOT NULL,
    name       text NOT NULL DEFAULT '',
    source     text NOT NULL CHECK (source IN ('chinesecalendar', 'ops')),
    updated_at timestamptz NOT NULL DEFAULT cp_now(),
    updated_by text NOT NULL DEFAULT 'seed'
);

INSERT INTO work_calendar (day, is_workday, source)
SELECT d::date, extract(isodow FROM d) < 6, 'chinesecalendar'
FROM generate_series(date '{first}', date '{last}', interval '1 day') AS d;
"""


def main() -> None:
    import importlib.metadata

    first = min(constants.holidays)
    last = date(max(constants.holidays).year, 12, 31)
    out = [HEADER.format(version=importlib.metadata.version("chinesecalendar"),
                         first=first, last=last)]
    for table, workday, suffix in ((constants.holidays, "false", ""),
                                   (constants.workdays, "true", "调休")):
        rows = [f"('{day}', '{NAMES[str(getattr(h, 'value', h))]}{suffix}')"
                for day, h in sorted(table.items()) if first <= day <= last]
        out.append(f"UPDATE work_calendar c SET is_workday = {workday}, name = v.name\n"  # noqa: S608 (package data)
                   "FROM (VALUES\n    " + ",\n    ".join(rows)
                   + "\n) AS v(day, name) WHERE c.day = v.day::date;\n")
    sys.stdout.write("\n".join(out))  # generated from package constants, not input


if __name__ == "__main__":
    main()
