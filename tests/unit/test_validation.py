"""Usage record validation: the rules behind the push API's 422 and the worker's dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest

from domain.usage.records import UsageRecord
from domain.usage.validation import (
    FieldError,
    iccid_problem,
    parse_push_fast,
    parse_record,
    record_problem,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def record(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "record_id": "r-1", "iccid": "89860012345678901234", "bytes": 1024,
        "start": "2026-11-22T10:00:00+08:00", "end": "2026-11-22T11:00:00+08:00",
    }
    base.update(changes)
    return base


@pytest.mark.parametrize("iccid", ["8986001234567890123", "89860012345678901234",
                                   "898600ABCDEF0123456"])
def test_valid_iccids(iccid: str) -> None:
    assert iccid_problem(iccid) is None


@pytest.mark.parametrize(("iccid", "reason"), [
    ("898600123456789012", "must be 19 or 20 characters, got 18"),
    ("898600123456789012345", "must be 19 or 20 characters, got 21"),
    ("1986001234567890123", "must start with 89"),
    ("898600abcdef0123456", "may hold only digits and the upper-case hex letters A-F"),
    ("89860012345678901G3", "may hold only digits and the upper-case hex letters A-F"),
    ("8986001234567890123\n", "may hold only digits and the upper-case hex letters A-F"),
    (8986001234567890123, "must be a string"),
])
def test_invalid_iccids(iccid: object, reason: str) -> None:
    assert iccid_problem(iccid) == reason


def test_parse_good_record_gives_epoch_ms() -> None:
    parsed = parse_record(record(), NOW)
    start = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 at +08:00
    assert parsed == UsageRecord("r-1", "89860012345678901234", 1024,
                                 int(start.timestamp()) * 1000, int(start.timestamp()) * 1000
                                 + 3_600_000)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"bytes": -1}, [FieldError("bytes", "must be >= 0")]),
    ({"bytes": True}, [FieldError("bytes", "must be an integer byte count")]),
    ({"bytes": 1.5}, [FieldError("bytes", "must be an integer byte count")]),
    ({"bytes": 1 << 41}, [FieldError("bytes", "must be <= 1099511627776 (1 TiB) per record")]),
    ({"record_id": ""}, [FieldError("record_id", "must be a non-empty string")]),
    ({"record_id": "a\x00b"}, [FieldError("record_id", "must not contain NUL (\\u0000)")]),
    ({"record_id": "a\ud800"}, [FieldError("record_id", "must not contain a lone surrogate "
                                                       "(\\ud800); send valid Unicode")]),
    ({"record_id": "a\x07b"}, [FieldError("record_id", "must not contain control characters")]),
    ({"start": "2026-11-22T12:00:00+08:00"}, [FieldError("start", "must not be after end")]),
    ({"start": "2026-11-22T10:00:00"},
     [FieldError("start", "must carry a UTC offset (e.g. Z or +08:00)")]),
    ({"end": "yesterday"}, [FieldError("end", "is not an RFC 3339 timestamp")]),
    ({"start": "0001-01-01T00:00:00+01:00", "end": "0001-01-01T00:30:00+01:00"},
     [FieldError("start", "lies before 2000-01-01")]),
    ({"start": "2026-11-23T10:00:00Z", "end": "2026-11-23T11:00:00Z"},
     [FieldError("end", "lies in the future")]),
])
def test_bad_records_name_the_field(changes: dict[str, object], expected: list[FieldError]) -> None:
    assert parse_record(record(**changes), NOW) == expected


def test_missing_fields_are_all_named() -> None:
    raw = record()
    del raw["bytes"], raw["end"]
    assert parse_record(raw, NOW) == [FieldError("bytes", "is required"),
                                      FieldError("end", "is required")]


def test_every_problem_of_a_record_is_reported() -> None:
    errors = parse_record(record(iccid="123", bytes=-5), NOW)
    assert isinstance(errors, list)
    assert [e.field for e in errors] == ["iccid", "bytes"]


def test_non_object_record() -> None:
    assert parse_record(["r"], NOW) == [FieldError("record", "must be an object")]


def test_record_problem_checks_records_from_other_producers() -> None:
    assert record_problem(UsageRecord("r", "8986001234567890123", 1, 0, 1)) is None
    assert record_problem(UsageRecord("r", "12", 1, 0, 1)) == (
        "iccid must be 19 or 20 characters, got 2")
    assert record_problem(UsageRecord("r", "8986001234567890123", -1, 0, 1)) == (
        "bytes must be >= 0")
    assert record_problem(UsageRecord("r", "8986001234567890123", 1, 5, 1)) == (
        "start must not be after end")
    for start_ms, end_ms in ((-62135600400000, -62135598600000), (-1, 1), (1, 1 << 62)):
        assert record_problem(UsageRecord("r", "8986001234567890123", 1, start_ms, end_ms)) == (
            "start and end must lie between 1970-01-01 and 9999-01-01"), (start_ms, end_ms)


BAD_VARIANTS = [
    {"iccid": "1234"}, {"iccid": "89860012345678901a34"}, {"bytes": -1}, {"bytes": True},
    {"bytes": 1 << 41}, {"bytes": "12"}, {"record_id": ""}, {"record_id": "  "},
    {"record_id": "a\nb"}, {"record_id": "x" * 129}, {"start": "2026-11-22T10:00:00"},
    {"end": "yesterday"}, {"start": "2026-11-22T12:00:00+08:00"},
    {"start": "2026-09-01T00:00:00Z"}, {"end": "2026-11-23T12:00:00Z"}, {"record_id": 7},
    {"record_id": "a\x00b"}, {"record_id": "a\ud800"},
    {"start": "0001-01-01T00:00:00+01:00", "end": "0001-01-01T00:30:00+01:00"},
]


def _slow(body: bytes) -> tuple[list[UsageRecord], list[dict[str, object]]]:
    from api.routers.upstream import _records_of, parse_usage

    return parse_usage(_records_of(body, 10_000), NOW)


def test_fast_push_parse_matches_the_per_record_rules_on_valid_bodies() -> None:
    records = [record(record_id=f"r-{i}", bytes=i * 1000,
                      start="2026-11-22T03:00:00Z", end="2026-11-22T11:55:00+08:00")
               for i in range(50)]
    body = orjson.dumps({"records": records, "extra": "ignored"})
    fast = parse_push_fast(body, NOW, 10_000)
    assert fast is not None and len(fast) == 50
    assert fast == _slow(body)[0]


@pytest.mark.parametrize("change", BAD_VARIANTS)
def test_fast_push_parse_leaves_every_bad_record_to_the_slow_path(
        change: dict[str, object]) -> None:
    # the standard encoder: it writes a lone surrogate as an escape, which orjson refuses to
    body = json.dumps({"records": [record(), record(**{"record_id": "r-2", **change})]}).encode()
    assert parse_push_fast(body, NOW, 10_000) is None
    good, bad = _slow(body)
    assert len(good) == 1 and bad, "the slow path names the problem"


def test_fast_push_parse_refuses_more_records_than_allowed() -> None:
    body = orjson.dumps({"records": [record(record_id=f"r-{i}") for i in range(3)]})
    assert parse_push_fast(body, NOW, 2) is None
    assert parse_push_fast(body, NOW, 3) is not None
