"""The pure part of email reminders (X-04): the relay's URL, addresses, the message."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from domain.delivery.mail import EmailInvalid, SmtpTarget, check_email, message, parse_smtp_url


@pytest.mark.req("X-04")
@pytest.mark.parametrize(("url", "target"), [
    ("smtp://relay.example", SmtpTarget("relay.example", 25, False, None, None, None)),
    ("smtp://u%40x:p%3Aw@relay.example:587?starttls=required",
     SmtpTarget("relay.example", 587, False, True, "u@x", "p:w")),
    ("smtps://relay.example", SmtpTarget("relay.example", 465, True, False, None, None)),
    ("smtps://me@relay.example:2465", SmtpTarget("relay.example", 2465, True, False, "me", None)),
])
def test_the_relay_url(url: str, target: SmtpTarget) -> None:
    assert parse_smtp_url(url) == target


@pytest.mark.parametrize("url", ["http://relay.example", "smtp://", "relay.example:25", ""])
def test_a_relay_url_that_is_not_one_says_what_it_must_be(url: str) -> None:
    with pytest.raises(ValueError, match="must be smtp://host"):
        parse_smtp_url(url)


@pytest.mark.req("X-04")
def test_addresses() -> None:
    assert check_email(" li@studio.example ") == "li@studio.example"
    assert check_email(None) is None and check_email("  ") is None
    local = "x" * (254 - len("@a.cn"))
    assert check_email(f"{local}@a.cn") == f"{local}@a.cn"
    for bad in ("li", "li@studio", "li@@studio.cn", "l i@studio.cn", f"x{local}@a.cn"):
        with pytest.raises(EmailInvalid) as refused:
            check_email(bad)
        assert refused.value.message_zh == "请输入正确的邮箱地址"


@pytest.mark.req("X-04")
def test_the_message_has_both_languages_and_a_stable_id() -> None:
    at = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    mail = message(notification_id=42, to="li@studio.example", name="李设计",
                   sender="CardPulse <noreply@cardpulse.example>", order_no="MSP-1",
                   body_zh="请处理设计稿", body_en="Please work on the design", created_at=at)
    again = message_from_bytes(bytes(mail), policy=policy.default)
    assert again["Message-ID"] == "<delivery-42@cardpulse.example>"
    assert again["To"].addresses[0].display_name == "李设计"
    assert again["To"].addresses[0].addr_spec == "li@studio.example"
    assert again["Subject"] == "项目提醒 Project reminder · MSP-1"
    assert again["Date"].datetime == at
    body = again.get_content()
    assert body.index("请处理设计稿") < body.index("Please work on the design")
    assert "请勿回复" in body
