"""Per-key request rate limits of the API (token buckets in this process)."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.limits import TokenBucket


class RateLimiter:
    """One bucket per API key. Per replica: N replicas allow N times the rate in all."""

    def __init__(self, rate: float, burst: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst, self._clock = rate, burst, clock
        self._buckets: dict[str, TokenBucket] = {}

    def wait(self, key: str) -> float:
        """0 when the request may go ahead (and is counted), else seconds to wait."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, self._clock)
        return 0.0 if bucket.take() else bucket.wait_time()
