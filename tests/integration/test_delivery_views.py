"""Delivery projects as people read them, and their files, messages and notes (§6 I: I-38,
I-39, I-46 … I-50, I-52, I-53; §7.2 "I delivery"; X-03), on projects written as the engine
leaves them (tests/support/delivery_views.py)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import psycopg
import pytest
from fastapi import FastAPI

from api.app import create_app
from core.settings import Settings
from tests.support.delivery_views import PEOPLE, Person, queued, seed, signed_in

pytestmark = pytest.mark.integration
People = dict[str, Person]


@pytest.fixture
async def people(settings: Settings) -> AsyncIterator[People]:
    small = settings.model_copy(update={"delivery_file_max_bytes": 64 * 1024})
    app: FastAPI = create_app(small)
    async with app.router.lifespan_context(app):
        url = small.require_database()
        await seed(url)
        found = {login: await signed_in(app, url, login) for login in PEOPLE}
        yield found
        for person in found.values():
            await person.client.aclose()


def ids(answer: object) -> list[str]:
    body = answer.json()  # type: ignore[attr-defined]
    return [item["project_id"] for item in body["items"]]


@pytest.mark.req("I-38")
async def test_tabs_scopes_and_filters(people: People) -> None:
    admin = people["vend.admin"].client
    assert ids(await admin.get("/v1/delivery/projects")) == ["P-CUST", "P-RUN"]
    for tab, expected in (("completed", ["P-DONE"]), ("paused", ["P-PAUSE"]),
                          ("cancelled", [])):
        assert ids(await admin.get(f"/v1/delivery/projects?tab={tab}")) == expected
    row = (await admin.get("/v1/delivery/projects?order_no=ORD-P-RUN")).json()["items"]
    assert [r["project_id"] for r in row] == ["P-RUN"]
    assert row[0] | {} == row[0] and row[0]["product_name"] == "物联网接入-vend"
    assert (row[0]["business_no"], row[0]["version"], row[0]["channel"]) == (
        "BIZ-P-RUN", "v1", "online")
    assert (row[0]["operator_name"], row[0]["node_role"], row[0]["node_name"]) == (
        "张设计", "设计师", "方案确认")
    assert row[0]["provider_name"] == "北京服务商" and row[0]["vendor_name"] == "北京服务商"
    assert ids(await admin.get("/v1/delivery/projects?provider=河北")) == []
    assert ids(await admin.get("/v1/delivery/projects?product=PN-vend&customer=孙")) == [
        "P-CUST", "P-RUN"]
    # the platform reads every tenant's; the rival its own; a customer its purchases
    assert ids(await people["operator"].client.get("/v1/delivery/projects")) == [
        "P-RIVAL", "P-CUST", "P-RUN"]
    assert ids(await people["rival.admin"].client.get("/v1/delivery/projects")) == ["P-RIVAL"]
    assert ids(await people["buyer"].client.get("/v1/delivery/projects")) == ["P-CUST",
                                                                             "P-RUN"]
    # staff see the projects they hold or that wait for them, not the provider's others
    assert ids(await people["designer"].client.get("/v1/delivery/projects")) == ["P-RUN"]
    assert ids(await people["engineer"].client.get("/v1/delivery/projects")) == []
    # keyset pages
    first = (await admin.get("/v1/delivery/projects?limit=1")).json()
    assert [i["project_id"] for i in first["items"]] == ["P-CUST"]
    second = await admin.get(f"/v1/delivery/projects?limit=1&cursor={first['next_cursor']}")
    assert ids(second) == ["P-RUN"] and second.json()["next_cursor"] is None


@pytest.mark.req("X-03")
async def test_staff_see_their_departments_claims(people: People, settings: Settings) -> None:
    engineer = people["engineer"].client
    assert ids(await engineer.get("/v1/delivery/projects?tab=completed")) == []
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        await conn.execute("INSERT INTO dl_departments (department_id, provider_id, name)"
                           " VALUES ('dep-1', 'vend', '华北组')")
        await conn.execute("UPDATE users SET department_id = 'dep-1'"
                           " WHERE user_id = 'u-engineer'")
        await conn.execute("UPDATE dl_projects SET claimed_department = 'dep-1'"
                           " WHERE project_id = 'P-DONE'")
    assert ids(await engineer.get("/v1/delivery/projects?tab=completed")) == ["P-DONE"]


@pytest.mark.req("I-39")
async def test_the_timeout_mark_names_its_side(people: People) -> None:
    items = (await people["prov.admin"].client.get("/v1/delivery/projects")).json()["items"]
    marks = {i["project_id"]: i["timeout"] for i in items}
    assert marks["P-CUST"] is None
    assert marks["P-RUN"]["side"] == "provider"
    assert marks["P-RUN"]["label_zh"] == "服务端超时"
    assert marks["P-RUN"]["node_name"] == "方案确认"


@pytest.mark.req("X-03")
async def test_another_tenants_project_is_not_found(people: People) -> None:
    rival = people["rival.admin"].client
    for path in ("detail", "files", "messages", "notes"):
        assert (await rival.get(f"/v1/delivery/projects/P-RUN/{path}")).status_code == 404
    assert (await people["buyer"].client.get(
        "/v1/delivery/projects/P-RIVAL/detail")).status_code == 404
    answer = await rival.post("/v1/delivery/projects/P-RUN/messages", json={"body": "hi"},
                              headers=people["rival.admin"].headers)
    assert answer.status_code == 404


@pytest.mark.req("I-46")
@pytest.mark.req("I-50")
async def test_detail_steps_operators_requirements_and_log(people: People) -> None:
    body = (await people["vend.pm"].client.get("/v1/delivery/projects/P-RUN/detail")).json()
    steps = [(s["number"], s["name"], s["state"]) for s in body["steps"]]
    assert steps == [(1, "分配服务商", "done"), (2, "提交需求", "done"), (3, "方案确认", "current"),
                     (4, "项目验收", "not_started")]
    assert body["project"]["waiting_zh"] == "进入方案确认 等待服务商处理"
    assert [(o["name"], o["business_roles"], o["mobile"], o["landline"])
            for o in body["operators"]] == [("张设计", ["设计师"], "13800000000",
                                              "010-12345678")]
    assert body["requirements"][0]["answers"] == {"规模": "1000张", "contact": "王五"}
    assert [line["action"] for line in body["log"]] == [
        "项目开始", "进入提交需求", "提交需求已完成", "进入方案确认"]
    assert body["earlier_log"] == []
    changed = (await people["vend.admin"].client.get(
        "/v1/delivery/projects/P-CUST/detail")).json()
    assert changed["project"]["waiting_zh"] == "进入提交需求 等待客户处理"
    assert [line["action"] for line in changed["log"]] == ["服务商由北京服务商更换为北京服务商"]
    assert [line["action"] for line in changed["earlier_log"]] == ["项目开始"]


@pytest.mark.req("I-52")
async def test_my_projects_pending_and_done(people: People) -> None:
    designer = people["designer"].client
    assert ids(await designer.get("/v1/delivery/my-projects")) == ["P-RUN"]
    assert ids(await designer.get("/v1/delivery/my-projects?tab=done")) == ["P-DONE"]
    assert ids(await designer.get("/v1/delivery/my-projects?order_no=nothing")) == []
    assert ids(await people["engineer"].client.get("/v1/delivery/my-projects")) == []
    assert (await people["buyer"].client.get("/v1/delivery/my-projects")).status_code == 403


@pytest.mark.req("I-53")
async def test_purchased_services_are_the_buyers_own(people: People) -> None:
    assert ids(await people["buyer"].client.get("/v1/delivery/purchased")) == [
        "P-PAUSE", "P-DONE", "P-CUST", "P-RUN"]
    assert ids(await people["vend.admin"].client.get("/v1/delivery/purchased")) == []


@pytest.mark.req("I-48")
@pytest.mark.req("I-49")
async def test_messages_and_notes(people: People) -> None:
    buyer, staff = people["buyer"], people["designer"]
    path = "/v1/delivery/projects/P-RUN"
    made = await buyer.client.post(f"{path}/messages", json={"body": "请尽快"},
                                   headers=buyer.headers)
    assert made.status_code == 201, made.text
    note = await staff.client.post(f"{path}/notes", json={"body": "客户很急"},
                                   headers=staff.headers)
    assert note.status_code == 201, note.text
    assert [m["body"] for m in (await staff.client.get(f"{path}/messages")).json()] == ["请尽快"]
    assert [n["body"] for n in (await people["vend.pm"].client.get(f"{path}/notes")).json()
            ] == ["客户很急"]
    # notes are never the customer's, neither to read nor to write
    assert (await buyer.client.get(f"{path}/notes")).status_code == 403
    assert (await buyer.client.post(f"{path}/notes", json={"body": "x"},
                                    headers=buyer.headers)).status_code == 403
    detail = await buyer.client.get(f"{path}/detail")
    assert "客户很急" not in detail.text
    # a vendor's project manager reads only
    assert (await people["vend.pm"].client.post(f"{path}/messages", json={"body": "x"},
                                                headers=people["vend.pm"].headers)
            ).status_code == 403
    # the limits, byte for byte
    long = await buyer.client.post(f"{path}/messages", json={"body": "长" * 501},
                                   headers=buyer.headers)
    assert long.status_code == 422
    assert long.json()["detail"][0]["message_zh"] == "留言内容不超过500字"
    assert long.json()["detail"][0]["message_en"] == "A message must not exceed 500 characters"
    assert (await buyer.client.post(f"{path}/messages", json={"body": "长" * 500},
                                    headers=buyer.headers)).status_code == 201
    long_note = await staff.client.post(f"{path}/notes", json={"body": "x" * 501},
                                        headers=staff.headers)
    assert long_note.status_code == 422
    assert long_note.json()["detail"][0]["message_zh"] == "备注内容不超过500字"
    # a completed project takes no more
    closed = await buyer.client.post("/v1/delivery/projects/P-DONE/messages",
                                     json={"body": "还在吗"}, headers=buyer.headers)
    assert closed.status_code == 409
    assert closed.json()["detail"] == {"code": "project_closed", "message_zh": "项目已完结",
                                       "message_en": "The project is closed"}


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.mark.req("I-47")
async def test_files_upload_list_download(people: People) -> None:
    staff = people["designer"]
    path = "/v1/delivery/projects/P-RUN/files"
    made = await staff.client.post(path, headers=staff.headers,
                                   files={"file": ("方案.png", PNG, "image/png")})
    assert made.status_code == 201, made.text
    assert made.json()["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (made.json()["node_key"], made.json()["uploader_role"]) == ("n2", "设计师")
    listed = (await people["buyer"].client.get(path)).json()
    assert [(f["name"], f["size_bytes"], f["node_name"]) for f in listed] == [
        ("方案.png", len(PNG), "方案确认")]
    got = await people["buyer"].client.get(f"{path}/{made.json()['file_id']}")
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    # text and csv by their bytes; the provider's admin may add too
    admin = people["prov.admin"]
    csv = await admin.client.post(path, headers=admin.headers,
                                  files={"file": ("a.csv", "名,数\n甲,1\n".encode(), "text/csv")})
    assert csv.status_code == 201, csv.text
    # someone the node does not wait for may not
    other = people["engineer"]
    assert (await other.client.post(path, headers=other.headers, files={
        "file": ("a.png", PNG, "image/png")})).status_code in (403, 404)
    buyer = people["buyer"]
    assert (await buyer.client.post(path, headers=buyer.headers, files={
        "file": ("a.png", PNG, "image/png")})).status_code == 403
    # …but the customer may at a customer node
    assert (await buyer.client.post("/v1/delivery/projects/P-CUST/files", headers=buyer.headers,
                                    files={"file": ("a.png", PNG, "image/png")})
            ).status_code == 201


@pytest.mark.req("I-47")
async def test_files_refused_by_size_and_content(people: People) -> None:
    staff = people["designer"]
    path = "/v1/delivery/projects/P-RUN/files"

    async def send(name: str, content: bytes, kind: str) -> tuple[int, str]:
        answer = await staff.client.post(path, headers=staff.headers,
                                         files={"file": (name, content, kind)})
        body = answer.json()["detail"]
        return answer.status_code, body["code"] if isinstance(body, dict) else str(body)

    big = PNG + b"\x00" * (64 * 1024)
    assert await send("big.png", big, "image/png") == (413, "file_too_large")
    assert await send("tool.pdf", b"MZ\x90\x00" + b"\x00" * 64,
                      "application/pdf") == (415, "file_executable")
    assert await send("x.pdf", PNG, "application/pdf") == (415, "file_type_mismatch")
    assert await send("x.sh", b"echo hi", "application/x-sh") == (415, "file_type_unsupported")
    assert await send("x.txt", b"\x00\x01binary", "text/plain") == (415, "file_type_mismatch")
    assert (await staff.client.get(path)).json() == []
    done = await staff.client.post("/v1/delivery/projects/P-DONE/files", headers=staff.headers,
                                   files={"file": ("a.png", PNG, "image/png")})
    assert done.status_code in (403, 409)


@pytest.mark.req("I-38")
@pytest.mark.req("X-02")
async def test_console_pages(people: People) -> None:
    admin = people["vend.admin"]
    page = await admin.client.get("/console/delivery/projects")
    assert page.status_code == 200, page.text
    assert 'data-testid="timeout-P-RUN"' in page.text and "Provider-side timeout" in page.text
    assert "P-DONE" not in page.text and "/console/delivery/queue" in page.text
    admin.client.cookies.set("cardpulse_lang", "zh-CN")
    zh = await admin.client.get("/console/delivery/projects?tab=completed")
    assert "已完成的项目" in zh.text and 'data-project="P-DONE"' in zh.text
    admin.client.cookies.set("cardpulse_lang", "en")
    export = await admin.client.get("/console/delivery/projects.csv?tab=in_progress")
    assert export.status_code == 200
    lines = export.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Order no.,Business no.,Product") and len(lines) == 3
    assert (await admin.client.get("/console/delivery/projects.xlsx")).status_code == 200
    detail = await admin.client.get("/console/delivery/projects/P-CUST")
    assert "View the operations before the change" in detail.text
    assert "Entered 提交需求, waiting for the customer" in detail.text
    # the customer's detail has no notes; staff write one through the form
    staff = people["designer"]
    sent = await staff.client.post("/console/delivery/projects/P-RUN/notes",
                                   data={"csrf_token": staff.csrf, "body": "内部备注"})
    assert sent.status_code == 303, sent.text
    too_long = await staff.client.post("/console/delivery/projects/P-RUN/messages",
                                       data={"csrf_token": staff.csrf, "body": "x" * 501})
    assert too_long.status_code == 422 and "A message must not exceed 500" in too_long.text
    buyer = await people["buyer"].client.get("/console/delivery/projects/P-RUN")
    assert buyer.status_code == 200 and "内部备注" not in buyer.text
    # the requirement reads under the form's labels, then the answers the form lacks
    assert "<dt>Contact person</dt><dd>王五</dd><dt>规模</dt><dd>1000张</dd>" in buyer.text
    assert 'id="notes"' not in buyer.text
    assert "内部备注" in (await staff.client.get("/console/delivery/projects/P-RUN")).text
    for path in ("/console/delivery/mine", "/console/delivery/purchased",
                 "/console/delivery/queue"):
        assert (await admin.client.get(path)).status_code == 200, path
    assert (await people["buyer"].client.get("/console/delivery/queue")).status_code == 403


@pytest.mark.req("I-51")
@pytest.mark.req("I-43")
@pytest.mark.req("I-33")
async def test_console_actions_call_the_engine(people: People) -> None:
    staff, admin = people["designer"], people["prov.admin"]
    page = await staff.client.get("/console/delivery/projects/P-RUN")
    assert 'data-testid="confirm"' in page.text and 'data-testid="reject"' in page.text
    assert 'data-testid="pause"' not in page.text
    run = (await staff.client.get("/v1/delivery/projects/P-RUN/detail")).json()
    run_id = str(run["project"]["run_id"])
    no_reason = await staff.client.post("/console/delivery/projects/P-RUN/act", data={
        "csrf_token": staff.csrf, "action": "reject", "run_id": run_id})
    assert no_reason.status_code == 422, no_reason.text
    done = await staff.client.post("/console/delivery/projects/P-RUN/act", data={
        "csrf_token": staff.csrf, "action": "confirm", "run_id": run_id, "remark": "好"})
    assert done.status_code == 303, done.text
    after = (await staff.client.get("/v1/delivery/projects/P-RUN/detail")).json()
    assert after["project"]["node_key"] == "n3"
    assert "方案确认已完成" in [line["action"] for line in after["log"]]
    # the project no longer waits for the designer: the same action is refused
    again = await staff.client.post("/console/delivery/projects/P-RUN/act", data={
        "csrf_token": staff.csrf, "action": "confirm", "run_id": run_id})
    assert again.status_code == 403
    # the provider's admin pauses with a remark, then starts the project again
    shown = await admin.client.get("/console/delivery/projects/P-RUN")
    assert 'data-testid="pause"' in shown.text
    paused = await admin.client.post("/console/delivery/projects/P-RUN/act", data={
        "csrf_token": admin.csrf, "action": "pause", "remark": "等资料"})
    assert paused.status_code == 303, paused.text
    assert 'data-testid="resume"' in (await admin.client.get(
        "/console/delivery/projects/P-RUN")).text
    resumed = await admin.client.post("/console/delivery/projects/P-RUN/act", data={
        "csrf_token": admin.csrf, "action": "resume"})
    assert resumed.status_code == 303, resumed.text
    # claim: an unknown order is refused on the page; the staff queue is assigned by hand
    claim = await staff.client.post("/console/delivery/claim", data={
        "csrf_token": staff.csrf, "order_no": "NO-SUCH"})
    assert claim.status_code in (404, 409, 422)
    assigned = await admin.client.post("/console/delivery/queue/assign", data={
        "csrf_token": admin.csrf, "kind": "staff"})
    assert assigned.status_code == 303
    assert "assigned=0" in assigned.headers["location"]


@pytest.mark.req("I-35")
@pytest.mark.req("I-36")
async def test_the_queue_lists(people: People, settings: Settings) -> None:
    await queued(settings.require_database())
    admin = people["vend.admin"]
    page = await admin.client.get("/console/delivery/queue")
    assert 'data-project="P-WAIT"' in page.text
    assert "No provider is configured for the product" in page.text
    assert 'data-testid="assign-P-WAIT"' in page.text
    filtered = await admin.client.get("/console/delivery/queue?order_no=ORD-P-RUN")
    assert 'data-project="P-WAIT"' not in filtered.text
    pm = await people["vend.pm"].client.get("/console/delivery/queue")
    assert 'data-project="P-WAIT"' in pm.text and "assign-P-WAIT" not in pm.text
    rival = await people["rival.admin"].client.get("/console/delivery/queue?kind=provider")
    assert 'data-project="P-WAIT"' not in rival.text
    staff_queue = await people["prov.admin"].client.get("/console/delivery/queue")
    assert staff_queue.status_code == 200 and 'data-project="P-WAIT"' not in staff_queue.text
    assigned = await admin.client.post("/console/delivery/queue/assign", data={
        "csrf_token": admin.csrf, "kind": "provider", "product_id": "prod-vend"})
    assert assigned.status_code == 303 and "assigned=0" in assigned.headers["location"]
    shown = await admin.client.get(assigned.headers["location"])
    assert 'data-testid="assigned"' in shown.text and 'data-project="P-WAIT"' in shown.text
