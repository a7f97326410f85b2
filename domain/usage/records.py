"""A usage record as CardPulse keeps it: validated, times as epoch milliseconds (UTC).

A msgspec struct because records travel by the million: the same value is what the push API
parses, what the usage topic carries inside a micro-batch (as a compact JSON array), and what
the usage writer stores.
"""

from __future__ import annotations

import msgspec


class UsageRecord(msgspec.Struct, array_like=True, frozen=True):
    """One operator usage record; times are epoch milliseconds (UTC)."""

    record_id: str
    iccid: str
    bytes: int
    start_ms: int
    end_ms: int
