"""Delivery reminders by email (X-04, I-20): a person sets an address from the inbox (or an
administrator at creation); every reminder that reaches the person's inbox is then also an
'email' row, which the worker's sender delivers over SMTP to a real SMTP server (aiosmtpd,
standing in for the mail relay), records delivered, retries with backoff, fails after the last
attempt, and records `no_smtp` / `no_email` when it cannot send."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from api.app import create_app
from cardpulse.supervisor.children import free_port
from core.settings import Settings
from domain.delivery.mail import SmtpTarget, parse_smtp_url
from domain.delivery.workdays import TZ
from store.db import Conn, Reconnecting
from store.delivery import projects
from streams.delivery_email import deliver_emails
from tests.support import delivery as dl
from tests.support.delivery_time import move_clock, own_client
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration
SENDER = "CardPulse <noreply@cardpulse.test>"


@dataclass
class Mailbox:
    """What the SMTP server took; recipients starting "bounce" are refused (550)."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, SmtpTarget]]:
    box = Mailbox()
    port = free_port()
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()
    try:
        yield box, parse_smtp_url(f"smtp://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    made = create_app(settings)
    async with made.router.lifespan_context(made):
        yield made


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        yield made


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Reconnecting]:
    made = Reconnecting(settings.require_database())
    yield made
    await made.close()


async def _outcomes(conn: Conn) -> dict[str, int]:
    rows = await (await conn.execute("SELECT outcome, count(*) FROM dl_notifications "
                                     "WHERE channel = 'email' GROUP BY outcome")).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


async def _project(conn: Conn, admin: httpx.AsyncClient) -> tuple[str, str, str]:
    """A project whose "交付" node reminds its operator (the designer d1) and the customer on
    entry; returns the designer's and the customer's user ids and the product."""
    await move_clock(admin, datetime(2026, 6, 1, 10, tzinfo=TZ))  # a Monday
    await dl.forms_and_messages(conn)
    await dl.tenant(conn, "acme")
    designer = await dl.staff(conn, "d1", "acme")
    customer = await dl.customer(conn, "c1")
    reminders = [{"receiver": "operator", "trigger": "entered", "template": "测试-通知操作人"},
                 {"receiver": "customer", "trigger": "entered", "template": "测试-通知客户"}]
    template = await dl.template(conn, dl.flow(
        {"key": "pick", "kind": "assign", "name": "分配设计师", "role": "设计师"},
        {"key": "work", "kind": "general", "name": "交付", "role": "设计师",
         "timeout_days": "1", "reminders": reminders}))
    product = await dl.product(conn, template, providers=[("acme", 10, 100)])
    return designer, customer, product


@pytest.mark.req("X-04")
@pytest.mark.req("I-20")
async def test_a_reminder_reaches_the_persons_email_once(
        app: FastAPI, conn: Conn, db: Reconnecting, smtp: tuple[Mailbox, SmtpTarget]) -> None:
    box, relay = smtp
    async with own_client(app) as admin, own_client(app) as person:
        designer, _customer, product = await _project(conn, admin)
        csrf = await dl.log_in(person, conn, designer)
        bad = await person.put("/v1/delivery/notifications/email", headers=csrf,
                               json={"email": "not an address"})
        assert bad.status_code == 422, bad.text
        [detail] = bad.json()["detail"]
        assert (detail["code"], detail["loc"], detail["message_zh"]) == (
            "email_invalid", ["body", "email"], "请输入正确的邮箱地址")
        made = await person.put("/v1/delivery/notifications/email", headers=csrf,
                                json={"email": " d1@acme.example "})
        assert made.status_code == 200 and made.json() == {"email": "d1@acme.example"}
        pid = await projects.start_project(conn, order_no="MSP-9", product_id=product,
                                           customer_name="客户甲", customer_user_id="u-c1",
                                           rng=random.Random(7))
        assert (await person.get("/v1/delivery/notifications")).json()["email"] == \
            "d1@acme.example"

    # the customer has no address: his reminder is in his inbox only
    rows = await (await conn.execute(
        "SELECT channel, user_id FROM dl_notifications WHERE project_id = %s AND user_id IS "
        "NOT NULL ORDER BY channel, user_id", (pid,))).fetchall()
    assert rows == [("email", designer), ("inbox", "u-c1"), ("inbox", designer)]
    assert await deliver_emails(db, relay, SENDER, max_attempts=3) == 1
    [mail] = box.messages
    assert box.envelopes == [("noreply@cardpulse.test", ["d1@acme.example"])]
    assert mail["To"].addresses[0].addr_spec == "d1@acme.example"
    assert mail["Subject"] == "项目提醒 Project reminder · MSP-9"
    notification_id = (await (await conn.execute(
        "SELECT notification_id FROM dl_notifications WHERE channel = 'email'")).fetchone()
                       or [0])[0]
    assert mail["Message-ID"] == f"<delivery-{notification_id}@cardpulse.test>"
    text = mail.get_content()
    assert f"项目{pid}（订单MSP-9，客户甲）：交付" in text
    assert f"Project {pid} (order MSP-9, 客户甲): 交付" in text
    assert await _outcomes(conn) == {"delivered": 1}
    assert await deliver_emails(db, relay, SENDER, max_attempts=3) == 0, "sent once"
    assert len(box.messages) == 1


@pytest.mark.req("X-04")
async def test_failures_are_retried_then_failed_and_unsendable_rows_say_why(
        app: FastAPI, conn: Conn, db: Reconnecting, smtp: tuple[Mailbox, SmtpTarget]) -> None:
    box, relay = smtp
    async with own_client(app) as admin:
        designer, _customer, product = await _project(conn, admin)
    await projects.start_project(conn, order_no="P-M", product_id=product,
                                 customer_name="客户甲", rng=random.Random(7))
    pid = (await (await conn.execute("SELECT project_id FROM dl_projects "
                                     "WHERE order_no = 'P-M'")).fetchone() or [""])[0]
    assert await _outcomes(conn) == {}  # d1 had no address when the node was entered

    # the relay refuses the recipient: retried with backoff, then failed
    await conn.execute("UPDATE users SET email = 'bounce@acme.example' WHERE user_id = %s",
                       (designer,))
    first = await _row(conn, pid, designer, "passed")
    assert await deliver_emails(db, relay, SENDER, max_attempts=2) == 1
    state = await _state(conn, first)
    assert state[0] == "retrying" and "550" in state[1] and state[2] == 1
    await conn.execute("UPDATE dl_notifications SET next_attempt = cp_now() "
                       "WHERE notification_id = %s", (first,))
    assert await deliver_emails(db, relay, SENDER, max_attempts=2) == 1
    assert (await _state(conn, first))[0] == "failed"

    # nobody listens on the relay's port: retried
    down = parse_smtp_url(f"smtp://127.0.0.1:{free_port()}")
    await conn.execute("UPDATE users SET email = 'd1@acme.example' WHERE user_id = %s",
                       (designer,))
    second = await _row(conn, pid, designer, "rejected")
    assert await deliver_emails(db, down, SENDER, max_attempts=5) == 1
    outcome, error, attempts = await _state(conn, second)
    assert outcome == "retrying" and attempts == 1 and "Connect" in error, error

    # no relay configured, or the address removed before the reminder went: said, not retried
    third = await _row(conn, pid, designer, "timed_out")
    await conn.execute("UPDATE dl_notifications SET next_attempt = NULL "
                       "WHERE notification_id = %s", (second,))
    await conn.execute("UPDATE users SET email = NULL WHERE user_id = %s", (designer,))
    assert await deliver_emails(db, None, SENDER, max_attempts=5) == 2
    assert (await _state(conn, second))[0] == "no_email"
    assert (await _state(conn, third))[:2] == ("no_email",
                                               "the person has no email address any more")
    await conn.execute("UPDATE users SET email = 'd1@acme.example' WHERE user_id = %s",
                       (designer,))
    fourth = await _row(conn, pid, designer, "entered", template="测试-通知客户")
    assert await deliver_emails(db, None, SENDER, max_attempts=5) == 1
    assert (await _state(conn, fourth))[:2] == (
        "no_smtp", "no mail relay is configured (CARDPULSE_SMTP_URL)")
    assert box.messages == []


async def _row(conn: Conn, pid: str, user: str, trigger: str,
               template: str = "测试-通知操作人") -> int:
    row = await (await conn.execute(
        "INSERT INTO dl_notifications (project_id, run_id, trigger, template_name, receiver, "
        "user_id, channel, body_zh, body_en) SELECT project_id, max(run_id), %s, %s, "
        "'operator', %s, 'email', '请处理', 'Please act' FROM dl_node_runs "
        "WHERE project_id = %s GROUP BY project_id RETURNING notification_id",
        (trigger, template, user, pid))).fetchone()
    assert row is not None
    return int(row[0])


async def _state(conn: Conn, notification_id: int) -> tuple[str, str, int]:
    row = await (await conn.execute(
        "SELECT outcome, coalesce(last_error, ''), attempts FROM dl_notifications "
        "WHERE notification_id = %s", (notification_id,))).fetchone()
    assert row is not None
    return str(row[0]), str(row[1]), int(row[2])


@pytest.mark.req("X-04")
async def test_the_console_inbox_sets_the_address(app: FastAPI, conn: Conn) -> None:
    customer = await dl.customer(conn, "c2")
    async with own_client(app) as person:
        csrf = await dl.log_in(person, conn, customer)
        person.cookies.set("cardpulse_lang", "zh-CN")
        page = await person.get("/console/delivery/inbox")
        assert 'data-testid="email-form"' in page.text and "邮件提醒: 无" in page.text
        form = {"csrf_token": csrf["X-CSRF-Token"]}
        bad = await person.post("/console/delivery/inbox/email", data={**form, "email": "c2@"})
        assert bad.status_code == 422 and "请输入正确的邮箱地址" in bad.text
        assert 'value="c2@"' in bad.text, "the draft is kept"
        good = await person.post("/console/delivery/inbox/email",
                                 data={**form, "email": "c2@buyer.example"})
        assert good.status_code == 200 and "您的提醒将同时发送到 c2@buyer.example。" in good.text
        assert (await person.get("/v1/delivery/notifications")).json()["email"] == \
            "c2@buyer.example"
        cleared = await person.post("/console/delivery/inbox/email", data={**form, "email": ""})
        assert cleared.status_code == 200 and "您的提醒不再发送邮件。" in cleared.text
        assert (await person.get("/v1/delivery/notifications")).json()["email"] is None


@pytest.fixture
def smtp_env(smtp: tuple[Mailbox, SmtpTarget], monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    """The relay in the environment the worker started next inherits."""
    box, relay = smtp
    monkeypatch.setenv("CARDPULSE_SMTP_URL", f"smtp://{relay.host}:{relay.port}")
    monkeypatch.setenv("CARDPULSE_SMTP_FROM", SENDER)
    return box


@pytest.mark.req("X-04")
async def test_the_worker_emails_the_reminders_it_finds(
        app: FastAPI, conn: Conn, smtp_env: Mailbox, running_worker: WorkerProcess) -> None:
    async with own_client(app) as admin:
        designer, _customer, product = await _project(conn, admin)
    await conn.execute("UPDATE users SET email = 'd1@acme.example' WHERE user_id = %s",
                       (designer,))
    await projects.start_project(conn, order_no="MSP-W", product_id=product,
                                 customer_name="客户甲", rng=random.Random(7))

    async def delivered() -> dict[str, int] | None:
        found = await _outcomes(conn)
        return found if found.get("delivered") else None

    assert await eventually_async(delivered, timeout=90, what="emailed by the worker") == {
        "delivered": 1}
    [mail] = smtp_env.messages
    assert mail["Subject"] == "项目提醒 Project reminder · MSP-W"
    assert str(mail["From"]) == SENDER
