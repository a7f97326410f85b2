"""The pure rules behind the delivery project reads: whose projects a role reads (§7.2, X-03),
the step list of a project (I-46), the text limits (I-48, I-49) and what an attachment may be
(I-47)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.delivery import files
from domain.delivery.nodes import nodes_from_json
from domain.delivery.views import (
    MessageTooLong,
    NoteTooLong,
    ProjectClosed,
    RunFact,
    Scope,
    answer_rows,
    check_text,
    queue_scope,
    scope_of,
    step_states,
    waiting_text_zh,
)

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.mark.req("X-03")
def test_scopes() -> None:
    assert scope_of("platform_ops", None, "u") == Scope("all")
    assert scope_of("vendor_admin", "v", "u") == Scope("vendor_provider", "v", "u")
    assert scope_of("vendor_pm", "v", "u") == Scope("vendor", "v", "u")
    assert scope_of("provider_admin", "v", "u") == Scope("provider", "v", "u")
    assert scope_of("provider_staff", "v", "u") == Scope("staff", "v", "u")
    assert scope_of("customer", None, "u") == Scope("customer", None, "u")
    assert scope_of("enterprise_admin", None, "u") is None
    assert queue_scope("vendor_pm", "v", "provider") == Scope("vendor", "v")
    assert queue_scope("vendor_pm", "v", "staff") is None
    assert queue_scope("provider_admin", "v", "staff") == Scope("provider", "v")
    assert queue_scope("provider_staff", "v", "staff") is None


@pytest.mark.req("I-46")
def test_steps_take_the_latest_run_of_each_node() -> None:
    nodes = nodes_from_json([
        {"key": "assign_provider", "kind": "assign_provider", "name": "分配服务商"},
        {"key": "c", "kind": "container", "name": "设计", "children": [
            {"key": "n1", "kind": "confirm", "name": "方案确认", "role": "设计师"}]},
        {"key": "n2", "kind": "complete", "name": "项目验收"}])
    runs = [RunFact("assign_provider", "done", "system", AT, AT),
            RunFact("n1", "rejected", "provider", AT, AT),
            RunFact("n1", "active", "provider", AT, None)]
    found = [(s.number, s.name, s.state) for s in step_states(nodes, runs)]
    assert found == [(1, "分配服务商", "done"), (2, "方案确认", "current"), (3, "项目验收",
                                                                      "not_started")]
    assert waiting_text_zh("项目验收", "customer") == "进入项目验收 等待客户处理"


@pytest.mark.req("I-48")
@pytest.mark.req("I-49")
def test_text_limits() -> None:
    assert check_text("message", "  好 ", "in_progress") == "好"
    assert check_text("note", "x" * 500, "paused") == "x" * 500
    with pytest.raises(MessageTooLong) as long:
        check_text("message", "x" * 501, "in_progress")
    assert long.value.message_zh == "留言内容不超过500字"
    with pytest.raises(NoteTooLong) as note:
        check_text("note", "x" * 501, "in_progress")
    assert note.value.message_zh == "备注内容不超过500字"
    with pytest.raises(ProjectClosed):
        check_text("message", "x", "completed")


@pytest.mark.req("I-47")
@pytest.mark.parametrize(("head", "declared", "name", "outcome"), [
    (b"%PDF-1.7", "application/pdf", "a.pdf", files.PDF),
    (b"PK\x03\x04rest", "application/octet-stream", "a.xlsx", files.XLSX),
    (b"\xef\xbb\xbf\xe5\x90\x8d,1\n", None, "a.csv", files.CSV),
    (b"\xff\xd8\xff\xe0", "image/jpg", "a.jpg", files.JPEG),
    (b"MZ\x90\x00", "application/pdf", "a.pdf", files.Executable),
    (b"\x7fELF", "text/plain", "a.txt", files.Executable),
    (b"#!/bin/sh", "text/plain", "a.txt", files.Executable),
    (b"GIF89a", "image/png", "a.png", files.Mismatch),
    (b"\xff\xfe\x00", "text/plain", "a.txt", files.Mismatch),
    (b"<html>", "text/html", "a.html", files.Unsupported),
    (b"", "text/plain", "a.txt", files.EmptyFile),
])
def test_attachments_are_judged_by_their_bytes(head: bytes, declared: str | None, name: str,
                                               outcome: str | type[Exception]) -> None:
    if isinstance(outcome, str):
        assert files.judge(head, declared, name) == outcome
    else:
        with pytest.raises(outcome):
            files.judge(head, declared, name)


def test_size_limit_message() -> None:
    with pytest.raises(files.TooLarge) as big:
        files.check_size(20 * 1024 * 1024 + 1, 20 * 1024 * 1024)
    assert big.value.status == 413 and big.value.message_zh == "文件不能超过 20 MB"


FORM = [{"key": "contact", "label_zh": "联系人", "label_en": "Contact person"},
        {"key": "needs", "label_zh": "需求描述", "label_en": "Description of the needs"},
        {"name": "规模"}, {"key": "start", "label_zh": "期望开始日期"}]


@pytest.mark.req("I-46")
def test_requirement_answers_read_under_their_labels_in_form_order() -> None:
    answers = {"needs": "两套方案", "extra": ["甲", "乙"], "contact": "王五", "规模": None}
    assert answer_rows(FORM, answers, "zh") == [
        ("联系人", "王五"), ("需求描述", "两套方案"), ("规模", ""), ("extra", "甲、乙")]
    assert answer_rows(FORM, answers, "en")[:2] == [
        ("Contact person", "王五"), ("Description of the needs", "两套方案")]
    assert answer_rows([], {"k": 1}, "zh") == [("k", "1")]
