"""Delivery reminders by email (X-04, I-20), the pure part: where the mail relay is
(`CARDPULSE_SMTP_URL`), whether an address is one, and the message a reminder becomes.

The message carries both languages (the person's language is not known to the worker), and a
Message-ID made of the notification's id: a reminder sent twice (at-least-once: a crash
between the relay's answer and the record) is one message to a receiving mail system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

from domain.refusals import Refusal

MAX_EMAIL: Final = 254
FOOTER: Final = ("此邮件由 CardPulse 交付中心自动发送，请勿回复。\n"
                 "Sent by CardPulse delivery; please do not reply.\n")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # the database's CHECK says the same


class EmailInvalid(Refusal):
    code = "email_invalid"
    message_zh = "请输入正确的邮箱地址"
    message_en = "Enter a valid email address"
    field = "email"


def check_email(value: str | None) -> str | None:
    """An address (trimmed) or None for none; anything else is refused."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        raise EmailInvalid(f"email {value!r}")
    return value


@dataclass(frozen=True)
class SmtpTarget:
    """The mail relay: `smtp://[user[:password]@]host[:port][?starttls=required]` (port 25;
    STARTTLS when the relay offers it, or required) or `smtps://…` (TLS from the start,
    port 465)."""

    host: str
    port: int
    use_tls: bool
    start_tls: bool | None  # None: when offered
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"CARDPULSE_SMTP_URL must be smtp://host[:port] or smtps://host[:port],"
                         f" not {url!r}")
    tls = parts.scheme == "smtps"
    query = parse_qs(parts.query)
    required = query.get("starttls", [""])[0] in ("required", "1", "true")
    return SmtpTarget(
        host=parts.hostname, port=parts.port or (465 if tls else 25), use_tls=tls,
        start_tls=False if tls else (True if required else None),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None)


def message(*, notification_id: int, to: str, name: str, sender: str, order_no: str,
            body_zh: str, body_en: str, created_at: datetime) -> EmailMessage:
    """The email of one reminder: both languages, a stable Message-ID."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "cardpulse.invalid"
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = Address(display_name=name, addr_spec=to)
    mail["Subject"] = f"项目提醒 Project reminder · {order_no}"
    mail["Date"] = format_datetime(created_at)
    mail["Message-ID"] = f"<delivery-{notification_id}@{domain}>"
    mail["X-Cardpulse-Notification-Id"] = str(notification_id)
    mail.set_content(f"{body_zh}\n\n{body_en}\n\n-- \n{FOOTER}")
    return mail
