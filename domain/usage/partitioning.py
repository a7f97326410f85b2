"""ICCID → partition, the same way Kafka's default partitioner maps a key (murmur2).

Producers that group records into partition-aligned micro-batches and any later stage that
produces keyed by ICCID agree on where a card lives. The hash is Kafka's own murmur2 (as in
`org.apache.kafka.common.utils.Utils.murmur2`), written out here so that the domain floor
needs no Kafka client; a test checks it against aiokafka's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")
_MASK = 0xFFFFFFFF
_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 of `data` (seed 0x9747B28C)."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[length - length % 4:]
    if tail:
        for index in range(len(tail) - 1, -1, -1):
            h ^= tail[index] << (8 * index)
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


@lru_cache(maxsize=1 << 20)
def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner would pick for `key` (cached: ~10 µs each)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def micro_batches(
    items: Iterable[T], key: Callable[[T], str], partitions: int, max_per_batch: int
) -> Iterator[tuple[int, list[T]]]:
    """Group items by the partition of `key(item)` and cut each group into chunks."""
    groups: dict[int, list[T]] = defaultdict(list)
    for item in items:
        groups[partition_for(key(item), partitions)].append(item)
    for partition, group in sorted(groups.items()):
        for start in range(0, len(group), max_per_batch):
            yield partition, group[start : start + max_per_batch]
