"""Run the test suite with every process's clock shifted (`make test-dates`).

    .venv/bin/python scripts/shifted.py --shift=+400d --shift=-2h --shift=month-end -- tests/unit

For each shift the suite runs once under Debian's libfaketime (LD_PRELOAD), with
FAKETIME="+N": one offset in seconds from the real clock, computed once before the run and
inherited by every child (the embedded PostgreSQL, `cardpulse up` and its workers, the
simulator), so they all agree on the date. libfaketime's "@date" form would restart the
clock in each new process instead.

A shift is
- a relative offset: `+400d`, `-2h`, `+90m`, `+3600` (s, m, h, d; y = 365 days);
- `month-end[-Nm]`: N minutes (default 5) before the end of the current month in
  Asia/Shanghai (so the run crosses into the next month while it runs);
- `year-end[-Nm]`: the same before 1 January;
- an instant with its offset: `2027-02-28T23:55:00+08:00`.

What the shift reaches: every dynamically linked process that reads the clock through libc
(Python, PostgreSQL, bash, curl). Not the embedded broker (Tansu is a static-pie binary) nor
promtool and prometheus (Go reads the clock without libc). The broker on the real clock does
not matter here: nothing reads its time (records carry the producers' timestamps; consumer
sessions and timeouts are durations), and the whole suite passes so. Settings:
- the multi-threaded library (libfaketimeMT), as our processes have threads;
- FAKETIME_DONT_FAKE_MONOTONIC=1: durations and timeouts stay real (a faked monotonic clock
  hangs every wait with a timeout), plus scripts/faketime/sitecustomize.py for time.sleep
  (a libfaketime 0.9.10 bug, see there);
- no FAKETIME_NO_CACHE: the spec never changes during a run, so the 10 s cache is harmless.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "scripts" / "faketime"
LIBRARIES = ["/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/local/lib/faketime/libfaketimeMT.so.1",
             "/usr/lib/faketime/libfaketimeMT.so.1"]
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}
EDGE = re.compile(r"^(month|year)-end(?:-(\d+)m)?$")
RELATIVE = re.compile(r"^([+-]\d+)([smhdy]?)$")


@dataclass(frozen=True)
class Outcome:
    spec: str
    offset_s: int
    started: datetime
    finished: datetime
    seconds: float
    code: int
    crossings: list[str]  # "<month> began during <test>", from pytest's JUnit report


def target_of(spec: str, now: datetime) -> datetime:
    """The instant the shifted clock should read at `now` for `spec`."""
    if found := RELATIVE.match(spec):
        return now + timedelta(seconds=int(found[1]) * UNITS[found[2]])
    if found := EDGE.match(spec):
        local = now.astimezone(SHANGHAI)
        if found[1] == "year":
            end = local.replace(year=local.year + 1, month=1, day=1)
        else:
            end = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
        end = end.replace(hour=0, minute=0, second=0, microsecond=0)
        return end - timedelta(minutes=int(found[2] or 5))
    try:
        at = datetime.fromisoformat(spec)
    except ValueError:
        raise SystemExit(f"shifted: cannot read the shift {spec!r} (see --help)") from None
    if at.tzinfo is None:
        raise SystemExit(f"shifted: {spec!r} needs an offset, e.g. +08:00")
    return at


def library() -> str:
    """libfaketime's multi-threaded library (FAKETIME_LIB overrides the search)."""
    found = [os.environ["FAKETIME_LIB"]] if os.environ.get("FAKETIME_LIB") else [
        path for pattern in LIBRARIES for path in glob.glob(pattern)]
    if not found or not Path(found[0]).exists():
        raise SystemExit("shifted: libfaketimeMT.so.1 not found: install Debian's `faketime` "
                         "(make faketime-deps) or set FAKETIME_LIB")
    return found[0]


def shifted_env(offset_s: int, lib: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "LD_PRELOAD": " ".join(p for p in (lib, env.get("LD_PRELOAD", "")) if p),
        "FAKETIME": f"{offset_s:+d}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(SITE), env.get("PYTHONPATH", "")) if p),
    })
    return env


def shown(at: datetime) -> str:
    return (f"{at.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S %z} Shanghai"
            f" ({at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ})")


def check_shift(env: dict[str, str], offset_s: int) -> None:
    """The shift reaches a child process (and its time.sleep works)."""
    probe = "import time; time.sleep(0.01); print(time.time())"
    seen = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    if seen.returncode != 0:
        raise SystemExit(f"shifted: a shifted python failed: {seen.stderr.strip()}")
    drift = float(seen.stdout) - time.time() - offset_s
    if abs(drift) > 5:
        raise SystemExit(f"shifted: the child's clock is {drift:+.0f} s off the shift")


def month_starts(start: datetime, end: datetime) -> list[datetime]:
    """The starts of months (Shanghai) after `start` up to `end`."""
    found: list[datetime] = []
    local = start.astimezone(SHANGHAI)
    while True:
        local = (local.replace(day=28) + timedelta(days=4)).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0)
        if local > end:
            return found
        found.append(local)


def crossings(report: Path, started: datetime, finished: datetime) -> list[str]:
    """Which test was running when a month began (Shanghai): the JUnit report's durations laid
    end to end from the session's start (its timestamp, on the shifted clock)."""
    try:
        root = ET.parse(report).getroot()  # noqa: S314 - the report pytest just wrote
    except (OSError, ET.ParseError):
        return []
    suite = root.find("testsuite")
    stamp = suite.get("timestamp") if suite is not None else None
    at = datetime.fromisoformat(stamp) if stamp else started
    timeline = []
    for case in root.iter("testcase"):
        at += timedelta(seconds=float(case.get("time") or 0))
        timeline.append((at, f"{case.get('classname')}::{case.get('name')}"))
    return [f"{first:%Y-%m} began during "
            f"{next((name for end, name in timeline if end >= first), 'the end of the run')}"
            for first in month_starts(started, finished)]


def run(spec: str, pytest_args: list[str], lib: str) -> Outcome:
    real = datetime.now(UTC)
    offset_s = round((target_of(spec, real) - real).total_seconds())
    env = shifted_env(offset_s, lib)
    check_shift(env, offset_s)
    started = datetime.now(UTC) + timedelta(seconds=offset_s)
    print(f"\n=== shift {spec}: FAKETIME={offset_s:+d} s; the suite starts at {shown(started)}"
          f"; real time {shown(real)}", flush=True)
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        code = subprocess.run(  # noqa: S603 - pytest with the caller's arguments, no shell
            [sys.executable, "-m", "pytest", f"--junitxml={report}", *pytest_args], env=env,
            cwd=ROOT, check=False).returncode
        took = time.monotonic() - began
        finished = started + timedelta(seconds=took)
        crossed = crossings(report, started, finished)
    for line in crossed:
        print(f"=== shift {spec}: {line}", flush=True)
    return Outcome(spec, offset_s, started, finished, took, code, crossed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shift", action="append", dest="shifts", metavar="SPEC",
                        help="a clock shift (repeatable; default: +400d and month-end)")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    lib = library()
    outcomes = [run(spec, args.pytest_args, lib) for spec in args.shifts or ["+400d", "month-end"]]
    print("\n=== test-dates summary (times on the shifted clock)")
    for o in outcomes:
        verdict = "passed" if o.code == 0 else f"FAILED (pytest exit {o.code})"
        print(f"  {o.spec:>14}  FAKETIME={o.offset_s:+d}  {shown(o.started)} → "
              f"{o.finished.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}  "
              f"{o.seconds / 60:.1f} min  {verdict}")
        for line in o.crossings:
            print(f"  {'':>14}  {line}")
    return 0 if all(o.code == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
