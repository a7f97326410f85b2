"""The worker's pure step: decode usage messages and sort out what cannot be accounted."""

from __future__ import annotations

from domain.usage.keys import record_key
from domain.usage.records import UsageRecord
from streams.events import UsageBatch, encode_usage
from streams.usage import split_messages

GOOD = UsageRecord("r1", "8986001234567890123", 10, 0, 1)


def test_good_message_passes_whole() -> None:
    split = split_messages([encode_usage(UsageBatch("jasper", 5, [GOOD]))])
    assert [(b.operator, list(b.records)) for b in split.good] == [("jasper", [GOOD])]
    assert split.poison == []


def test_poison_is_kept_with_reason_and_others_survive() -> None:
    bad_record = UsageRecord("r2", "1234", 10, 0, 1)
    payloads = [
        b"not json at all",
        encode_usage(UsageBatch("vodafone", 5, [GOOD])),
        encode_usage(UsageBatch("ctcc", 5, [GOOD, bad_record])),
    ]
    split = split_messages(payloads)
    assert [list(b.records) for b in split.good] == [[GOOD]]
    reasons = [p.reason for p in split.poison]
    assert reasons[0].startswith("undecodable usage message")
    assert reasons[1] == "unknown operator 'vodafone'"
    assert reasons[2] == "iccid must be 19 or 20 characters, got 4"
    assert split.poison[0].payload == {"raw_base64": "bm90IGpzb24gYXQgYWxs",
                                       "preview": "not json at all"}
    assert split.poison[2].iccid == "1234" and split.poison[2].operator == "ctcc"


def test_record_key_is_per_operator_and_stable() -> None:
    end = 1_795_000_000_000
    assert record_key("onelink", "r1", end) == record_key("onelink", "r1", end)
    assert record_key("onelink", "r1", end) != record_key("jasper", "r1", end)
    # the separator keeps ("a", "bc") and ("ab", "c") apart
    assert record_key("a", "bc", end) != record_key("ab", "c", end)


def test_record_keys_sort_by_the_hour_of_end() -> None:
    hour = 3_600_000
    keys = [record_key("onelink", f"r{i}", 1_795_000_000_000 + i * hour) for i in range(50)]
    assert sorted(keys, key=lambda k: k.bytes) == keys


def test_bad_text_and_impossible_times_are_kept_aside_not_raised() -> None:
    """The worker path: other producers than the API may send anything; nothing raises."""
    nul_id = UsageRecord("r\x00", "8986001234567890123", 10, 0, 1)
    ancient = UsageRecord("r3", "8986001234567890123", 10, -62135600400000, -62135598600000)
    surrogate = (b'{"operator":"onelink","received_ms":5,"records":'
                 b'[["r\\ud800","8986001234567890123",10,0,1]]}')
    split = split_messages([encode_usage(UsageBatch("onelink", 5, [nul_id, ancient])), surrogate])
    assert [p.reason for p in split.poison] == [
        "record_id must not contain NUL (\\u0000)",
        "start and end must lie between 1970-01-01 and 9999-01-01",
    ] + [split.poison[2].reason]
    assert split.poison[2].reason.startswith("undecodable usage message")
    assert [list(b.records) for b in split.good] == [[]]
