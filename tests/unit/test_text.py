"""The checks every text input passes (core/text.py): NUL, lone surrogates, length."""

from __future__ import annotations

import json

import pytest

from core.text import MAX_BODY_CHARS, TextProblem, document_problems, text_problem


@pytest.mark.parametrize("value", ["", "acme", "中国移动", "😀 emoji", "tab\tand\nnewline",
                                   "x" * MAX_BODY_CHARS])
def test_good_text(value: str) -> None:
    assert text_problem(value) is None


@pytest.mark.parametrize(("value", "problem"), [
    ("a\x00b", "must not contain NUL (\\u0000)"),
    ("\ud800x", "must not contain a lone surrogate (\\ud800); send valid Unicode"),
    ("x\udfff", "must not contain a lone surrogate (\\udfff); send valid Unicode"),
    ("x" * 11, "must be at most 10 characters, got 11"),
])
def test_bad_text(value: str, problem: str) -> None:
    assert text_problem(value, max_chars=10) == problem


def test_every_bad_string_and_key_of_a_document_is_named_by_its_path() -> None:
    document = json.loads('{"a": [{"b": "ok"}, {"c": "x\\u0000"}], "k\\udc00": 1, '
                          '"d": {"e": ["\\ud83d\\ude00", "\\ud83d"]}}')
    assert document_problems(document) == [
        TextProblem(("k\udc00",), "object key must not contain a lone surrogate (\\udc00); "
                                  "send valid Unicode", "k\udc00"),
        TextProblem(("a", 1, "c"), "must not contain NUL (\\u0000)", "x\x00"),
        TextProblem(("d", "e", 1), "must not contain a lone surrogate (\\ud83d); "
                                   "send valid Unicode", "\ud83d"),
    ]
    assert document_problems({"fine": ["a", 1, None, True, {"b": 2.5}]}) == []


def test_nesting_deeper_than_the_stack_is_walked() -> None:
    document: object = "\x00"
    for _ in range(100_000):
        document = [document]
    assert [p.problem for p in document_problems(document)] == ["must not contain NUL (\\u0000)"]
