"""`time.sleep` for Python processes under libfaketime: `make test-dates` (scripts/shifted.py)
puts this folder on PYTHONPATH; nothing else loads it.

The suite runs with FAKETIME_DONT_FAKE_MONOTONIC=1: with a faked monotonic clock, every wait
with a timeout on a lock or an event hangs (Python waits with sem_clockwait on
CLOCK_MONOTONIC, which libfaketime does not intercept). But Debian 12's libfaketime 0.9.10
then still moves the deadline of clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) by the fake
offset (libfaketime issue #426), and that is how Python 3.11 sleeps: time.sleep fails with
EINVAL (or returns at once). So sleeping goes through select(), which libfaketime leaves alone.
(In those runs this module stands in for Debian's own sitecustomize, an apport hook.)
"""

from __future__ import annotations

import select
import time
from typing import SupportsIndex


def _sleep(seconds: float | SupportsIndex) -> None:
    """Sleep `seconds` on the (real) monotonic clock, like time.sleep."""
    left = float(seconds)
    if left < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + left
    while True:
        select.select([], [], [], left)
        left = deadline - time.monotonic()
        if left <= 0:
            return


time.sleep = _sleep
