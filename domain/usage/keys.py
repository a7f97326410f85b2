"""The dedupe key of a usage record: the hour of its `end`, then a hash of operator and id.

A repeated record (redelivered from Kafka, or pushed again by the operator) has the same key,
which is the primary key of `usage_records`, so it inserts nothing and counts nothing twice.
"""

from __future__ import annotations

import hashlib
import uuid

HOUR_MS = 3_600_000


class KeyBytes(bytes):
    """The 16 bytes of a record key (the store sends them as a binary uuid)."""


def key_bytes(operator: str, record_id: str, end_ms: int) -> KeyBytes:
    """`record_key` as its 16 bytes."""
    digest = hashlib.blake2b(f"{operator}\x1f{record_id}".encode(), digest_size=12).digest()
    return KeyBytes((end_ms // HOUR_MS).to_bytes(4, "big") + digest)


def record_key(operator: str, record_id: str, end_ms: int) -> uuid.UUID:
    """The dedupe key of a record: the hour of its `end` (32 bits, big-endian) then a 96-bit
    BLAKE2b hash of operator and record id.

    A repeated record repeats its `end`, so the hour prefix loses no duplicate; it keeps the
    primary key's inserts on the few index pages of recent hours instead of spreading them
    over the whole index (which at millions of rows stops fitting in memory)."""
    return uuid.UUID(bytes=key_bytes(operator, record_id, end_ms))
