"""Every message of the console has a Chinese translation, and the refusals the people rules
and forms produce are among them."""

from __future__ import annotations

import pytest

from api.console.i18n import translations
from api.console.messages import extracted, missing
from domain.people.rules import MAX_PASSWORD, password_problem

pytestmark = pytest.mark.req("CONSOLE")


def test_every_console_message_is_translated() -> None:
    assert len(extracted()) > 50
    assert missing() == {}, "run `python scripts/catalogue.py --into AREA` and translate"


def test_password_refusals_are_translated() -> None:
    zh = translations("zh-CN")
    for password in ("short", "1234567890123", "x" * (MAX_PASSWORD + 1), "li.wei is my name"):
        problem = password_problem(password, "li.wei")
        assert problem is not None and zh.gettext(problem) != problem, problem


def test_english_is_the_catalogue_itself() -> None:
    assert translations("en").gettext("Overview") == "Overview"
    assert translations("zh-CN").gettext("Overview") == "概览"
