"""Waiting for effects with a deadline: never a bare sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T], *, timeout: float = 20.0, what: str = "condition",
    show: Callable[[], object] | None = None,
) -> T:
    """Poll `check` until it returns a truthy value; fail with `what` after `timeout`.

    `show` describes the state on failure (for checks that return a bare bool).
    """
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            seen = show() if show else last
            raise AssertionError(f"{what} not reached within {timeout} s (last: {seen!r})")
        time.sleep(0.1)
        last = check()
    return last


async def eventually_async(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = "condition"
) -> T:
    """Async flavour of `eventually`: returns the first truthy value `check` gives."""
    deadline = time.monotonic() + timeout
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")
        await asyncio.sleep(0.1)
