"""The project centre on a project the engine runs (not written by hand): the customer submits
the requirement form on the console, the engine assigns the designer, whose 我的项目 shows it
to do; the designer attaches the draft and confirms; the customer sees it waiting for him, and
the designer finds it under 已处理 (I-46, I-47, I-51, I-52, I-53)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest

from core.settings import Settings
from store.db import Conn
from store.delivery import projects
from tests.support import delivery as d

pytestmark = pytest.mark.integration
PDF = b"%PDF-1.4 draft"


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as opened:
        yield opened


def ids(answer: httpx.Response) -> list[str]:
    return [item["order_no"] for item in answer.json()["items"]]


@pytest.mark.req("I-52")
@pytest.mark.req("I-51")
async def test_a_project_through_the_console(client: httpx.AsyncClient, conn: Conn) -> None:
    await d.tenant(conn, "acme-v", "北京服务商")
    await d.forms_and_messages(conn)
    designer = await d.staff(conn, "designer", "acme-v")
    buyer = await d.customer(conn, "buyer")
    product = await d.product(conn, await d.template(conn, d.STANDARD, "acme-v"), "acme-v",
                              [("acme-v", 1, 10)])
    project_id = await projects.start_project(conn, order_no="O-1", product_id=product,
                                              customer_name="孙客户", customer_user_id=buyer,
                                              rng=random.Random(1))
    csrf = await d.log_in(client, conn, buyer)
    assert ids(await client.get("/v1/delivery/purchased")) == ["O-1"]
    detail = (await client.get(f"/v1/delivery/projects/{project_id}/detail")).json()
    assert detail["project"]["waiting_zh"] == "进入提交需求 等待客户处理"
    sent = await client.post(f"/console/delivery/projects/{project_id}/act", data={
        "csrf_token": csrf["X-CSRF-Token"], "action": "requirement",
        "run_id": str(detail["project"]["run_id"]), "answer.需求": "1000 张卡的接入"})
    assert sent.status_code == 303, sent.text

    csrf = await d.log_in(client, conn, designer)
    assert ids(await client.get("/v1/delivery/my-projects")) == ["O-1"]
    page = await client.get(f"/console/delivery/projects/{project_id}")
    assert "1000 张卡的接入" in page.text and 'data-testid="upload"' in page.text
    made = await client.post(f"/v1/delivery/projects/{project_id}/files", headers=csrf,
                             files={"file": ("设计稿.pdf", PDF, "application/pdf")})
    assert made.status_code == 201, made.text
    assert (made.json()["node_name"], made.json()["uploader_role"]) == ("设计稿", "设计师")
    run_id = (await client.get(f"/v1/delivery/projects/{project_id}/detail")
              ).json()["project"]["run_id"]
    done = await client.post(f"/console/delivery/projects/{project_id}/act", data={
        "csrf_token": csrf["X-CSRF-Token"], "action": "confirm", "run_id": str(run_id)})
    assert done.status_code == 303, done.text
    assert ids(await client.get("/v1/delivery/my-projects")) == []
    assert ids(await client.get("/v1/delivery/my-projects?tab=done")) == ["O-1"]

    await d.log_in(client, conn, buyer)
    detail = (await client.get(f"/v1/delivery/projects/{project_id}/detail")).json()
    assert detail["project"]["waiting_zh"] == "进入方案确认 等待客户处理"
    states = {s["name"]: s["state"] for s in detail["steps"]}
    assert states == {"分配服务商": "done", "提交需求": "done", "分配设计师": "done",
                      "设计稿": "done", "方案确认": "current", "项目验收": "not_started"}
    assert [o["name"] for o in detail["operators"]] == ["designer"]
    files = (await client.get(f"/v1/delivery/projects/{project_id}/files")).json()
    assert [f["name"] for f in files] == ["设计稿.pdf"]

    # the customer confirms the design and accepts the project; the evaluation dialog opens
    for _ in ("方案确认", "项目验收"):
        run_id = (await client.get(f"/v1/delivery/projects/{project_id}/detail")
                  ).json()["project"]["run_id"]
        page = await client.get(f"/console/delivery/projects/{project_id}")
        csrf_token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        confirmed = await client.post(f"/console/delivery/projects/{project_id}/act", data={
            "csrf_token": csrf_token, "action": "confirm", "run_id": str(run_id)})
        assert confirmed.status_code == 303, confirmed.text
    page = await client.get(f"/console/delivery/projects/{project_id}")
    assert 'data-testid="evaluate-dialog"' in page.text
    rated = await client.post(f"/console/delivery/projects/{project_id}/act", data={
        "csrf_token": csrf_token, "action": "evaluate", "stars": "5", "remark": "很满意"})
    assert rated.status_code == 303, rated.text
    page = await client.get(f"/console/delivery/projects/{project_id}")
    assert 'data-testid="evaluate-dialog"' not in page.text and "很满意" in page.text
    assert ids(await client.get("/v1/delivery/projects?tab=completed")) == ["O-1"]
    # the delivered project still names who delivered it (holds released at completion)
    detail = (await client.get(f"/v1/delivery/projects/{project_id}/detail")).json()
    assert [o["name"] for o in detail["operators"]] == ["designer"]
