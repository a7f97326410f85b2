"""Client-side limits toward an operator: a token bucket and an in-flight cap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` calls per second on average, bursts up to `burst`; clock injectable."""

    def __init__(self, rate: float, burst: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._clock = clock
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def wait_time(self) -> float:
        """Seconds until a token is available (0 when one is)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def take(self) -> bool:
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def slow_down(self, seconds: float) -> None:
        """The operator said "too many requests": no call for the next `seconds` (repeated
        refusals do not stack up into ever longer pauses)."""
        self._refill()
        self._tokens = min(self._tokens, -seconds * self.rate)

    async def acquire(self) -> None:
        while not self.take():
            await asyncio.sleep(self.wait_time())
