"""What stands before a simulated operator call does its work: OneLink tokens, the Jasper
account's rate limiter and the seeded fault injector. Pure and clock-injected like
`simulators.fleet_state`.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from typing import Literal

Fault = Literal["rate_limited", "error"]


@dataclass
class TokenBook:
    """OneLink tokens: each belongs to one appid and expires `ttl_s` after it was issued."""

    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def issue(self, appid: str, now: float, ttl_s: float) -> str:
        """A new token for `appid`; earlier tokens stay valid until they expire, like OneLink."""
        self._forget_expired(now)
        token = secrets.token_hex(16)
        self.tokens[token] = (appid, now + ttl_s)
        return token

    def appid_of(self, token: str | None, now: float) -> str | None:
        """The appid a still-valid token was issued to, or None (unknown or expired)."""
        appid, expires = self.tokens.get(token or "", ("", 0.0))
        return appid if appid and now < expires else None

    def _forget_expired(self, now: float) -> None:
        # Connectors refresh tokens for ever; without this the book grows for the whole run.
        for token in [t for t, (_, expires) in self.tokens.items() if expires <= now]:
            del self.tokens[token]


@dataclass
class RateLimiter:
    """Jasper's limit per account: a token bucket of `rate_per_s` and one call in flight."""

    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)

    def acquire(self, account: str, now: float, rate_per_s: float) -> bool:
        """Admit one call of `account` now (then `release` it), or refuse it: over the limit."""
        if account in self.in_flight:
            return False
        capacity = max(1.0, rate_per_s)  # a full second's worth of calls may come in a burst
        tokens, last = self.buckets.get(account, (capacity, now))
        tokens = min(capacity, tokens + max(0.0, now - last) * rate_per_s)
        if tokens < 1.0:
            self.buckets[account] = (tokens, now)
            return False
        self.buckets[account] = (tokens - 1.0, now)
        self.in_flight.add(account)
        return True

    def release(self, account: str) -> None:
        """The admitted call of `account` has been answered."""
        self.in_flight.discard(account)


class Faults:
    """Injected rate limits and transient errors, drawn from a seeded generator (reproducible)."""

    def __init__(self, seed: int = 1) -> None:
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the sequence of draws from `seed`."""
        # Not for security: a reproducible sequence of simulated failures is the point.
        self.rng = random.Random(seed)  # noqa: S311

    def hit(self, rate: float) -> bool:
        """True with probability `rate`."""
        return self.rng.random() < rate

    def draw(self, limit_rate: float, error_rate: float) -> Fault | None:
        """The fault to inject into one call, if any; a rate limit wins over an error."""
        # Draw both every time so the sequence depends only on the number of calls.
        limited, failed = self.hit(limit_rate), self.hit(error_rate)
        return "rate_limited" if limited else "error" if failed else None
