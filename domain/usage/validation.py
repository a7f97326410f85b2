"""Validation of usage records, shared by the push API (422) and the stream worker (dead letter).

Pure functions: they return the parsed record or the reasons it is invalid, never raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from core.text import text_problem
from domain.usage.records import UsageRecord

ICCID_RE = re.compile(r"^89[0-9A-F]{17,18}$")
MAX_RECORD_BYTES = 1 << 40  # 1 TiB in one record is a broken meter, not usage
MAX_RECORD_ID_LEN = 128
MAX_FUTURE = timedelta(minutes=10)  # clock skew we forgive on `end`
MAX_SPAN = timedelta(days=31)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # usage from before is a broken meter
# What the store can hold, for records of producers other than the API (which checks the
# stricter EARLIEST and "not in the future"): the record key counts hours since 1970 in 32 bits
# (domain.usage.keys), so a time before the epoch must never reach it.
STORABLE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
_STORABLE_MS = tuple(int(t.timestamp() * 1000) for t in STORABLE)
REQUIRED = ("record_id", "iccid", "bytes", "start", "end")


@dataclass(frozen=True)
class FieldError:
    """One broken rule: which field, and what is wrong with it."""

    field: str
    reason: str


def iccid_problem(iccid: object) -> str | None:
    """Why `iccid` is not a valid ICCID, or None when it is."""
    if not isinstance(iccid, str):
        return "must be a string"
    if not 19 <= len(iccid) <= 20:
        return f"must be 19 or 20 characters, got {len(iccid)}"
    if not iccid.startswith("89"):
        return "must start with 89"
    if not ICCID_RE.fullmatch(iccid):  # `$` alone would let a trailing newline through
        return "may hold only digits and the upper-case hex letters A-F"
    return None


def _parse_time(value: object) -> datetime | str:
    if not isinstance(value, str):
        return "must be an RFC 3339 string with an offset"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return "is not an RFC 3339 timestamp"
    if parsed.tzinfo is None:
        return "must carry a UTC offset (e.g. Z or +08:00)"
    return parsed


def _check_bytes(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer byte count"
    if value < 0:
        return "must be >= 0"
    if value > MAX_RECORD_BYTES:
        return f"must be <= {MAX_RECORD_BYTES} (1 TiB) per record"
    return None


def _check_record_id(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    if len(value) > MAX_RECORD_ID_LEN:
        return f"must be at most {MAX_RECORD_ID_LEN} characters"
    if value.isprintable():  # no NUL, no lone surrogate either: the fast path
        return None
    # NUL and lone surrogates are named as such; other control characters as what they are
    return text_problem(value) or "must not contain control characters"


def _check_times(raw: dict[str, Any], now: datetime, errors: list[FieldError]) -> tuple[int, int]:
    start, end = _parse_time(raw["start"]), _parse_time(raw["end"])
    for name, parsed in (("start", start), ("end", end)):
        if isinstance(parsed, str):
            errors.append(FieldError(name, parsed))
    if isinstance(start, str) or isinstance(end, str):
        return 0, 0
    if start < EARLIEST:
        errors.append(FieldError("start", f"lies before {EARLIEST:%Y-%m-%d}"))
    elif start > end:
        errors.append(FieldError("start", "must not be after end"))
    elif end - start > MAX_SPAN:
        errors.append(FieldError("end", "a record may span at most 31 days"))
    if end > now + MAX_FUTURE:
        errors.append(FieldError("end", "lies in the future"))
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def parse_record(raw: object, now: datetime) -> UsageRecord | list[FieldError]:
    """Turn one JSON record into a `UsageRecord`, or list everything wrong with it."""
    if not isinstance(raw, dict):
        return [FieldError("record", "must be an object")]
    errors = [FieldError(name, "is required") for name in REQUIRED if name not in raw]
    if errors:
        return errors
    checks = (
        ("record_id", _check_record_id(raw["record_id"])),
        ("iccid", iccid_problem(raw["iccid"])),
        ("bytes", _check_bytes(raw["bytes"])),
    )
    errors = [FieldError(name, reason) for name, reason in checks if reason]
    start_ms, end_ms = _check_times(raw, now, errors)
    if errors:
        return errors
    return UsageRecord(raw["record_id"], raw["iccid"], raw["bytes"], start_ms, end_ms)


def record_problem(record: UsageRecord) -> str | None:
    """Why a record already on the topic cannot be accounted (producers other than the API)."""
    checks = (
        ("record_id", _check_record_id(record.record_id)),
        ("iccid", iccid_problem(record.iccid)),
        ("bytes", _check_bytes(record.bytes)),
    )
    for name, problem in checks:
        if problem:
            return f"{name} {problem}"
    if record.start_ms > record.end_ms:
        return "start must not be after end"
    if not _STORABLE_MS[0] <= record.start_ms <= record.end_ms < _STORABLE_MS[1]:
        return f"start and end must lie between {STORABLE[0]:%Y-%m-%d} and {STORABLE[1]:%Y-%m-%d}"
    return None


class _PushRecord(msgspec.Struct):
    record_id: str
    iccid: str
    bytes: int
    start: datetime
    end: datetime


class _Push(msgspec.Struct):
    records: list[_PushRecord]


_push_decoder = msgspec.json.Decoder(_Push)


def parse_push_fast(body: bytes, now: datetime, max_records: int) -> list[UsageRecord] | None:
    """The records of a push body when it is entirely valid, decoded in C (msgspec) and
    checked in one pass; None when anything is off, so that the caller's slow path
    (`parse_record` per record) finds and names every problem."""
    try:
        records = _push_decoder.decode(body).records
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(records) > max_records:
        return None
    latest, out = now + MAX_FUTURE, []
    for r in records:
        start, end = r.start, r.end
        if (start.tzinfo is None or end.tzinfo is None or not EARLIEST <= start <= end <= latest
                or end - start > MAX_SPAN or not 0 <= r.bytes <= MAX_RECORD_BYTES
                or _check_record_id(r.record_id) or iccid_problem(r.iccid)):
            return None
        out.append(UsageRecord(r.record_id, r.iccid, r.bytes, int(start.timestamp() * 1000),
                               int(end.timestamp() * 1000)))
    return out
