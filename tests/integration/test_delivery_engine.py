"""The delivery engine on a real database (§6 I, SM-I-PROJECT, SM-I-NODE): a project walks its
template from the assign-provider node to the customer's acceptance; people act only on their
own nodes; reject goes back to the right node; pause, cancel and the administrators' changes."""

from __future__ import annotations

import random
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest

from core.clock import CLOCK
from core.settings import Settings
from domain.delivery.machines import SYSTEM, Actor
from domain.refusals import Refusal
from store import outbox
from store.db import Conn
from store.delivery import project_admin, project_rows, projects, reminders, timeouts
from store.delivery.project_rows import Run
from tests.support import delivery as dl
from tests.support.api import ADMIN
from tests.support.dates import SHANGHAI, store_clock
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as c:
        await dl.forms_and_messages(c)
        yield c


def rng() -> random.Random:
    return random.Random(7)


def who(user_id: str) -> Actor:
    return Actor(user_id, user_id.removeprefix("u-"))


async def current(conn: Conn, project_id: str) -> Run:
    run = await project_rows.current_run(conn, project_id)
    assert run is not None
    return run


async def actions(conn: Conn, project_id: str) -> list[str]:
    return [line.action for line in await project_rows.log_lines(conn, project_id)]


async def refused(code: str, call: Any) -> Refusal:
    with pytest.raises(Refusal) as caught:
        await call
    assert caught.value.code == code, caught.value.as_detail()
    return caught.value


async def setup(conn: Conn, nodes: list[dict[str, Any]] | None = None,
                max_load: int = 5) -> dict[str, str]:
    await dl.tenant(conn, "acme", "北京服务商")
    ids = {"d1": await dl.staff(conn, "d1", "acme", max_load=max_load),
           "admin": await dl.staff(conn, "padmin", "acme", ("服务商管理员",),
                                   role="provider_admin"),
           "c": await dl.customer(conn, "cust1")}
    template = await dl.template(conn, nodes or dl.STANDARD)
    ids["product"] = await dl.product(conn, template, providers=[("acme", 10, 100)])
    return ids


async def start(conn: Conn, ids: dict[str, str], order_no: str = "MSP-1") -> str:
    return await projects.start_project(conn, order_no=order_no, product_id=ids["product"],
                                        customer_name="客户甲", customer_user_id=ids["c"],
                                        rng=rng())


@pytest.mark.req("I-50")
@pytest.mark.req("I-16")
@pytest.mark.req("I-51")
@pytest.mark.req("SM-I-PROJECT")
@pytest.mark.req("SM-I-NODE")
async def test_a_project_walks_from_assignment_to_acceptance(conn: Conn) -> None:
    ids = await setup(conn)
    pid = await start(conn, ids)
    assert await start(conn, ids) == pid  # idempotent by order number
    project = await project_rows.get_project(conn, pid)
    assert (project.provider_id, project.status) == ("acme", "in_progress")
    run = await current(conn, pid)
    assert (run.node_key, run.operator_user_id) == ("req", ids["c"])
    assert await actions(conn, pid) == ["项目开始", "进入分配服务商", "分配服务商已完成",
                                        "进入提交需求"]

    await refused("requirement_form_missing", projects.confirm(conn, pid, run.run_id,
                                                               who(ids["c"]), rng=rng()))
    await refused("not_operator", projects.submit_requirement(
        conn, pid, run.run_id, who(ids["d1"]), {"需求": "x"}, rng=rng()))
    await projects.submit_requirement(conn, pid, run.run_id, who(ids["c"]), {"需求": "logo"},
                                      rng=rng())
    run = await current(conn, pid)
    assert (run.node_key, run.operator_user_id) == ("draft", ids["d1"])  # held by the designer
    await refused("not_operator", projects.confirm(conn, pid, run.run_id, who(ids["admin"]),
                                                   rng=rng()))
    await refused("node_not_current", projects.confirm(conn, pid, run.run_id - 1,
                                                       who(ids["d1"]), rng=rng()))
    await projects.confirm(conn, pid, run.run_id, who(ids["d1"]), rng=rng())
    check = await current(conn, pid)
    assert check.node_key == "check"
    await projects.confirm(conn, pid, check.run_id, who(ids["c"]), rng=rng())
    done = await current(conn, pid)
    assert done.node_key == "done"
    await refused("not_operator", projects.confirm(conn, pid, done.run_id, who(ids["d1"]),
                                                   rng=rng()))
    await projects.confirm(conn, pid, done.run_id, who(ids["c"]), rng=rng())
    project = await project_rows.get_project(conn, pid)
    assert project.status == "completed" and project.completed_at is not None
    assert await project_rows.current_run(conn, pid) is None
    log = await project_rows.log_lines(conn, pid)
    assert log[-1].action == "项目验收已完成" and log[-1].actor_name == "cust1"
    assert [line.action for line in log if line.action.startswith("进入")] == [
        "进入分配服务商", "进入提交需求", "进入分配设计师", "进入设计稿", "进入方案确认",
        "进入项目验收"]
    await refused("project_closed", project_admin.cancel(conn, pid, SYSTEM, "退款"))
    await refused("project_closed", project_admin.change_operator(conn, pid, ids["d1"],
                                                                  who(ids["admin"]), ""))
    await project_admin.evaluate(conn, pid, who(ids["c"]), 5, "很好")
    await refused("already_evaluated", project_admin.evaluate(conn, pid, who(ids["c"]), 4, ""))
    assert (await project_rows.get_project(conn, pid)).evaluation == {
        "stars": 5, "text": "很好", "by": ids["c"]}


@pytest.mark.req("I-17")
@pytest.mark.req("I-19")
@pytest.mark.req("AMB-35")
async def test_reject_returns_to_the_previous_operable_node(conn: Conn) -> None:
    ids = await setup(conn)
    pid = await start(conn, ids)
    run = await current(conn, pid)
    await projects.submit_requirement(conn, pid, run.run_id, who(ids["c"]), {"需求": "a"},
                                      rng=rng())
    draft = await current(conn, pid)
    await refused("node_not_rejectable", projects.reject(conn, pid, draft.run_id,
                                                         who(ids["d1"]), reason="x", rng=rng()))
    await projects.confirm(conn, pid, draft.run_id, who(ids["d1"]), rng=rng())
    check = await current(conn, pid)
    await refused("reason_required", projects.reject(conn, pid, check.run_id, who(ids["c"]),
                                                     reason=" ", rng=rng()))
    await projects.reject(conn, pid, check.run_id, who(ids["c"]), reason="颜色不对", rng=rng())
    again = await current(conn, pid)
    # inside the container: back to its previous child, held by the same designer
    assert (again.node_key, again.operator_user_id) == ("draft", ids["d1"])
    assert again.run_id != draft.run_id
    log = await project_rows.log_lines(conn, pid)
    assert (log[-2].action, log[-2].remark, log[-1].action) == ("方案确认 未通过", "颜色不对",
                                                                "进入设计稿")
    await projects.confirm(conn, pid, again.run_id, who(ids["d1"]), rng=rng())
    check = await current(conn, pid)
    await projects.confirm(conn, pid, check.run_id, who(ids["c"]), rng=rng())
    done = await current(conn, pid)
    # the acceptance, first node after the container: back to the container's last child
    await projects.reject(conn, pid, done.run_id, who(ids["c"]), reason="再看看", rng=rng())
    assert (await current(conn, pid)).node_key == "check"


@pytest.mark.req("AMB-35")
async def test_reject_skips_assignment_nodes(conn: Conn) -> None:
    nodes = dl.flow(
        {"key": "req", "kind": "submit_requirement", "name": "提交需求", "form_id": dl.FORM},
        {"key": "pick", "kind": "assign", "name": "分配设计师", "role": "设计师"},
        {"key": "ok", "kind": "confirm", "name": "需求确认", "role": "设计师",
         "rejectable": True})
    ids = await setup(conn, nodes)
    pid = await start(conn, ids)
    run = await current(conn, pid)
    await projects.submit_requirement(conn, pid, run.run_id, who(ids["c"]), {"需求": "a"},
                                      rng=rng())
    ok = await current(conn, pid)
    await projects.reject(conn, pid, ok.run_id, who(ids["d1"]), reason="不清楚", rng=rng())
    back = await current(conn, pid)
    assert (back.node_key, back.operator_user_id) == ("req", ids["c"])


@pytest.mark.req("I-43")
@pytest.mark.req("I-54")
@pytest.mark.req("SM-I-PROJECT")
async def test_pause_resume_and_cancel(conn: Conn) -> None:
    ids = await setup(conn)
    pid = await start(conn, ids)
    admin = who(ids["admin"])
    error = await refused("remark_required", project_admin.pause(conn, pid, admin, "  "))
    assert error.message_zh == "请填写备注"
    await project_admin.pause(conn, pid, admin, "客户出差")
    project = await project_rows.get_project(conn, pid)
    assert (project.status, project.pause_remark) == ("paused", "客户出差")
    run = await current(conn, pid)
    await refused("project_paused", projects.submit_requirement(
        conn, pid, run.run_id, who(ids["c"]), {"需求": "a"}, rng=rng()))
    await refused("project_paused", project_admin.pause(conn, pid, admin, "again"))
    await project_admin.resume(conn, pid, admin)
    await refused("project_not_paused", project_admin.resume(conn, pid, admin))
    await projects.submit_requirement(conn, pid, run.run_id, who(ids["c"]), {"需求": "a"},
                                      rng=rng())
    assert await project_rows.held(conn, ids["d1"]) == 1
    await project_admin.cancel(conn, pid, admin, "订单退款")
    project = await project_rows.get_project(conn, pid)
    assert project.status == "cancelled" and project.cancelled_at is not None
    assert await project_rows.held(conn, ids["d1"]) == 0
    assert await project_rows.current_run(conn, pid) is None
    done = await actions(conn, pid)
    assert {"暂停项目", "启动项目"} <= set(done) and done[-1] == "取消项目"
    assert (await project_rows.log_lines(conn, pid))[-1].remark == "订单退款"
    await refused("project_closed", project_admin.pause(conn, pid, admin, "x"))


@pytest.mark.req("I-45")
@pytest.mark.req("AMB-31")
@pytest.mark.req("I-34")
async def test_change_operator_within_the_role_and_load(conn: Conn) -> None:
    ids = await setup(conn)
    d2 = await dl.staff(conn, "d2", "acme", max_load=1, accepting=False)  # paused: allowed
    other = await dl.staff(conn, "eng", "acme", ("工程师",), max_load=5)
    pid = await start(conn, ids)
    run = await current(conn, pid)
    await projects.submit_requirement(conn, pid, run.run_id, who(ids["c"]), {"需求": "a"},
                                      rng=rng())
    admin = who(ids["admin"])
    error = await refused("role_mismatch", project_admin.change_operator(conn, pid, other, admin))
    assert error.message_zh == "只能在同一角色下更换操作人"
    await project_admin.change_operator(conn, pid, d2, admin, "d1 请假")
    draft = await current(conn, pid)
    assert draft.operator_user_id == d2
    assert (await project_rows.held(conn, ids["d1"]), await project_rows.held(conn, d2)) == (0, 1)
    log = (await project_rows.log_lines(conn, pid))[-1]
    assert (log.action, log.remark) == ("更换操作人", "d1 请假")
    await refused("not_operator", projects.confirm(conn, pid, draft.run_id, who(ids["d1"]),
                                                   rng=rng()))
    # a second project: d2 is full (1 of 1), so taking it over is refused
    pid2 = await start(conn, ids, "MSP-2")
    run2 = await current(conn, pid2)
    await projects.submit_requirement(conn, pid2, run2.run_id, who(ids["c"]), {"需求": "b"},
                                      rng=rng())
    error = await refused("operator_load_full",
                          project_admin.change_operator(conn, pid2, d2, admin))
    assert error.message_zh == "所选员工持单量已满"
    assert (await current(conn, pid2)).operator_user_id == ids["d1"]  # nothing changed


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def near(actual: datetime | None, expected: datetime, slack_s: float = 5.0) -> bool:
    return actual is not None and abs((actual - expected).total_seconds()) < slack_s


async def timed(conn: Conn, days: str, order_no: str, extra: dict[str, Any] | None = None
                ) -> tuple[str, Run]:
    """A project whose first working node has a timeout of `days` working days."""
    await dl.tenant(conn, "acme")
    node = {"key": "work", "kind": "general", "name": "交付", "role": "设计师",
            "timeout_days": days, **(extra or {})}
    product = await dl.product(conn, await dl.template(conn, dl.flow(node)),
                               providers=[("acme", 10, 100)])
    pid = await projects.start_project(conn, order_no=order_no, product_id=product,
                                       customer_name="客户", rng=rng())
    return pid, await current(conn, pid)


@pytest.fixture
def clock_back() -> Iterator[None]:
    yield
    CLOCK.set_offset(0)


@pytest.mark.req("I-41")
@pytest.mark.req("I-40")
@pytest.mark.req("AMB-03")
async def test_deadlines_count_working_days_only(conn: Conn, db_url: str,
                                                 clock_back: None) -> None:
    await store_clock(db_url, at("2026-01-09T15:00:00"))  # a Friday
    _, run = await timed(conn, "1.0", "W1")
    assert near(run.deadline_at, at("2026-01-12T15:00:00"))  # Monday, the weekend skipped
    await store_clock(db_url, at("2026-01-12T09:00:00"))
    _, run = await timed(conn, "0.5", "W2")
    assert near(run.deadline_at, at("2026-01-12T21:00:00"))
    # National Day 2026: 10-01 … 10-07 off; Saturday 10-10 is a 调休 working day
    await store_clock(db_url, at("2026-09-30T12:00:00"))
    _, run = await timed(conn, "3", "W3")
    assert near(run.deadline_at, at("2026-10-10T12:00:00"))
    _, run = await timed(conn, "0", "W4")
    assert run.deadline_at is None and not run.deadline_unknown


@pytest.mark.req("I-43")
@pytest.mark.req("AMB-04")
async def test_pause_keeps_the_elapsed_working_time(conn: Conn, db_url: str,
                                                    clock_back: None) -> None:
    await store_clock(db_url, at("2026-03-02T09:00:00"))  # a Monday
    pid, run = await timed(conn, "1.0", "P1")
    assert near(run.deadline_at, at("2026-03-03T09:00:00"))
    await store_clock(db_url, at("2026-03-02T15:00:00"))  # 6 h worked
    await project_admin.pause(conn, pid, SYSTEM, "等待客户")
    paused = await current(conn, pid)
    assert paused.deadline_at is None and 6 * 3600 - 5 < paused.worked_s < 6 * 3600 + 5
    await store_clock(db_url, at("2026-03-04T09:00:00"))
    await project_admin.resume(conn, pid, SYSTEM)
    assert near((await current(conn, pid)).deadline_at, at("2026-03-05T03:00:00"), 10)


@pytest.mark.req("I-42")
@pytest.mark.req("I-39")
@pytest.mark.req("I-20")
async def test_the_sweep_stamps_the_due_instant_and_auto_advances(
        conn: Conn, db_url: str, settings: Settings, clock_back: None) -> None:
    await store_clock(db_url, at("2026-04-01T09:00:00"))  # a Wednesday
    reminders.publish_to(settings.orders_topic)
    reminder = [{"receiver": "customer", "trigger": "timed_out", "template": "测试-通知客户"},
                {"receiver": "customer", "trigger": "entered", "template": "测试-通知客户"}]
    ids = await setup(conn, dl.flow(
        {"key": "ok", "kind": "confirm", "name": "方案确认", "side": "customer",
         "timeout_days": "0.5", "auto_advance": True, "reminders": reminder},
        {"key": "work", "kind": "general", "name": "交付", "role": "设计师",
         "timeout_days": "1", "rejectable": True, "reminders": reminder}))
    pid = await start(conn, ids)
    ok = await current(conn, pid)
    assert near(ok.deadline_at, at("2026-04-01T21:00:00"))
    assert await timeouts.sweep(conn, 10) == 0
    await store_clock(db_url, at("2026-04-01T21:00:30"))
    assert await timeouts.sweep(conn, 10) == 1
    runs = {r.node_key: r for r in await project_rows.runs(conn, pid)}
    assert runs["ok"].timed_out_at == runs["ok"].deadline_at  # the due instant, not now
    assert (runs["ok"].timeout_side, runs["ok"].state, runs["ok"].done_by) == (
        "customer", "done", "系统")
    assert (await project_rows.log_lines(conn, pid))[-2].action == "方案确认已完成"
    work = await current(conn, pid)
    assert work.node_key == "work"
    assert near(work.deadline_at, at("2026-04-02T21:00:30"))
    await store_clock(db_url, at("2026-04-03T09:00:00"))
    assert await timeouts.sweep(conn, 10) == 1
    assert await timeouts.sweep(conn, 10) == 0  # once per entry
    late = await current(conn, pid)
    assert (late.node_key, late.timeout_side) == ("work", "provider")  # no auto-advance
    notes = await reminders.notifications(conn, pid)
    assert sorted((n.trigger, n.channel) for n in notes if n.run_id == ok.run_id) == [
        ("entered", "inbox"), ("entered", "webhook"), ("timed_out", "inbox"),
        ("timed_out", "webhook")]
    body = next(n for n in notes if n.channel == "inbox")
    assert body.body_zh == f"项目{pid}（订单MSP-1，客户甲）：方案确认"
    assert body.user_id == ids["c"]
    events = [e for e in await outbox.lease(conn, 100) if e.kind == "delivery_reminder"]
    assert len(events) == sum(n.channel == "webhook" for n in notes)
    assert {e.data["trigger"] for e in events} == {"entered", "timed_out"}


@pytest.mark.req("I-63")
async def test_effect_hooks_run_on_entry_and_before_confirmation(conn: Conn) -> None:
    seen: list[tuple[str, str]] = []

    async def entered(_: Conn, project_id: str, run: Run) -> None:
        seen.append(("entered", run.node_key))

    async def check(_: Conn, project_id: str, run: Run, detail: dict[str, Any],
                    actor: Actor) -> None:
        seen.append(("checked by", actor.user_id or ""))
        if not detail.get("iccids"):
            raise Refusal(code="iccids_missing")

    async def completed(_: Conn, project: project_rows.Project) -> None:
        seen.append(("completed", project.order_no))

    projects.EFFECTS["ship_cards"] = projects.EffectHooks(entered, check)
    projects.ON_COMPLETE.append(completed)
    try:
        ids = await setup(conn, dl.flow({"key": "ship", "kind": "general", "name": "发货",
                                         "role": "设计师", "effect": "ship_cards"}))
        pid = await start(conn, ids)
        ship = await current(conn, pid)
        assert seen == [("entered", "ship")]
        await refused("iccids_missing", projects.confirm(conn, pid, ship.run_id,
                                                         who(ids["d1"]), rng=rng()))
        assert seen[-1] == ("checked by", ids["d1"])
        await projects.complete_effect(conn, pid, ship.run_id, SYSTEM, {"iccids": ["1"]},
                                       rng=rng())
        runs = await project_rows.runs(conn, pid)
        assert runs[-2].detail == {"iccids": ["1"]} and runs[-1].node_key == "done"
        await projects.confirm(conn, pid, runs[-1].run_id, who(ids["c"]), rng=rng())
        assert seen[-1] == ("completed", "MSP-1")
    finally:
        del projects.EFFECTS["ship_cards"]
        projects.ON_COMPLETE.remove(completed)


@pytest.mark.req("I-42")
async def test_reentering_a_node_restarts_its_timer(conn: Conn, db_url: str,
                                                    clock_back: None) -> None:
    await store_clock(db_url, at("2026-05-11T09:00:00"))  # a Monday
    ids = await setup(conn, dl.flow(
        {"key": "work", "kind": "general", "name": "交付", "role": "设计师",
         "timeout_days": "1"}))
    pid = await start(conn, ids)
    work = await current(conn, pid)
    assert near(work.deadline_at, at("2026-05-12T09:00:00"))
    await store_clock(db_url, at("2026-05-11T20:00:00"))
    await projects.confirm(conn, pid, work.run_id, who(ids["d1"]), rng=rng())
    done = await current(conn, pid)
    await projects.reject(conn, pid, done.run_id, who(ids["c"]), reason="重做", rng=rng())
    again = await current(conn, pid)
    assert again.node_key == "work" and near(again.deadline_at, at("2026-05-12T20:00:00"))


@pytest.mark.req("I-51")
@pytest.mark.req("I-43")
@pytest.mark.req("I-33")
async def test_the_api_lets_only_the_right_people_act(conn: Conn,
                                                      client: httpx.AsyncClient) -> None:
    ids = await setup(conn)
    pm = await dl.staff(conn, "pm", "platform", ("项目经理",), role="vendor_pm")
    stranger = await dl.customer(conn, "cust2")
    made = await client.post("/v1/delivery/projects", headers=ADMIN, json={
        "order_no": "API-1", "product_id": ids["product"], "customer_name": "客户甲",
        "customer_user_id": ids["c"]})
    assert made.status_code == 201, made.text
    unknown = await client.post("/v1/delivery/projects", headers=ADMIN, json={
        "order_no": "API-0", "product_id": ids["product"], "customer_name": "客户甲",
        "customer_user_id": "u-nobody"})
    assert unknown.status_code == 422 and "客户账号不存在" in unknown.text
    pid, run = made.json()["project_id"], made.json()["current"]
    assert (run["node_key"], made.json()["log"][0]["action"]) == ("req", "项目开始")

    csrf = await dl.log_in(client, conn, ids["c"])
    base = f"/v1/delivery/projects/{pid}"
    answer = await client.post(f"{base}/runs/{run['run_id']}/requirement", headers=csrf,
                               json={"answers": {"需求": "logo"}})
    assert answer.status_code == 200, answer.text
    draft = answer.json()["current"]
    assert (draft["node_key"], draft["operator_user_id"]) == ("draft", ids["d1"])
    d2 = await dl.staff(conn, "d2", "acme")

    csrf = await dl.log_in(client, conn, d2)
    answer = await client.post(f"{base}/runs/{draft['run_id']}/confirm", headers=csrf,
                               json={})
    assert answer.status_code == 403
    assert answer.json()["detail"]["code"] == "not_operator"
    answer = await client.post("/v1/delivery/claims", headers=csrf, json={"order_no": "NOPE"})
    assert (answer.status_code, answer.json()["detail"]["message_zh"]) == (
        409, "订单不存在或不在待认领状态")
    assert (await client.post(f"{base}/pause", headers=csrf,
                              json={"remark": "x"})).status_code == 403

    csrf = await dl.log_in(client, conn, ids["admin"])
    answer = await client.post(f"{base}/pause", headers=csrf, json={"remark": ""})
    assert answer.status_code == 422 and "请填写备注" in answer.text
    answer = await client.post(f"{base}/pause", headers=csrf, json={"remark": "等客户"})
    assert answer.json()["status"] == "paused"
    assert (answer.json()["log"][-1]["action"], answer.json()["log"][-1]["actor_role"]) == (
        "暂停项目", "服务商管理员")
    answer = await client.post(f"{base}/operator", headers=csrf, json={"user_id": d2})
    assert answer.json()["current"]["operator_user_id"] == d2
    assert answer.json()["log"][-1]["action"] == "更换操作人"
    answer = await client.get("/v1/delivery/queue", params={"kind": "staff"}, headers=csrf)
    assert answer.status_code == 200 and answer.json() == []

    csrf = await dl.log_in(client, conn, pm)
    assert (await client.get(base)).status_code == 200
    assert (await client.post(f"{base}/cancel", headers=csrf, json={})).status_code == 403
    csrf = await dl.log_in(client, conn, stranger)
    assert (await client.get(base)).status_code == 404
    answer = await client.post(f"{base}/cancel", headers=ADMIN, json={"remark": "退款"})
    assert answer.json()["status"] == "cancelled"


@pytest.fixture
async def test_clock_env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """The worker follows the stored clock offset only with the test clock on (its
    environment is copied from this process's); this process's clock is put back."""
    monkeypatch.setenv("CARDPULSE_TEST_CLOCK", "true")
    yield
    CLOCK.set_offset(0)


@pytest.mark.req("I-42")
@pytest.mark.req("I-37")
async def test_the_worker_sweeps_timeouts_and_polls_the_queue(
        conn: Conn, db_url: str, settings: Settings, test_clock_env: None,
        running_worker: WorkerProcess) -> None:
    await store_clock(db_url, at("2026-06-01T09:00:00"))  # a Monday
    ids = await setup(conn, dl.flow({"key": "work", "kind": "general", "name": "交付",
                                     "role": "设计师", "timeout_days": "0.1"}))
    pid = await start(conn, ids)
    waiting = await projects.start_project(
        conn, order_no="LATER", product_id=await dl.product(conn, await dl.template(
            conn, dl.STANDARD)), customer_name="客户乙", rng=rng())
    ready = settings.run_dir / "worker.ready"
    await eventually_async(lambda: _true(ready.exists()), timeout=90, what="worker ready")
    await dl.set_providers(conn, (await project_rows.get_project(conn, waiting)).product_id,
                           [("acme", 10, 10)])
    await store_clock(db_url, at("2026-06-01T12:00:00"))  # past 11:24, and 3 h since a poll
    moved = time.monotonic()

    async def swept() -> Run | None:
        run = await current(conn, pid)
        return run if run.timed_out_at is not None else None

    run = await eventually_async(swept, timeout=60, what="timed out by the worker")
    assert time.monotonic() - moved < 60
    assert run.timed_out_at == run.deadline_at and run.timeout_side == "provider"

    async def polled() -> str | None:
        return (await project_rows.get_project(conn, waiting)).provider_id

    assert await eventually_async(polled, timeout=60, what="assigned by the poll") == "acme"


async def _true(value: bool) -> bool | None:
    return value or None


@pytest.mark.req("I-53")
@pytest.mark.req("I-01")
async def test_a_customer_buys_a_service_and_its_project_starts(
        conn: Conn, client: httpx.AsyncClient) -> None:
    """`POST /v1/delivery/purchases` and the console's buy form: a market order number, the
    project started for the buyer; only customers buy, and only services."""
    ids = await setup(conn)
    csrf = await dl.log_in(client, conn, ids["c"])
    bought = await client.post("/v1/delivery/purchases", headers=csrf,
                               json={"product_id": ids["product"]})
    assert bought.status_code == 201, bought.text
    project = bought.json()
    assert re.fullmatch(r"MSP\d{8}[0-9A-F]{10}", project["order_no"]), project
    assert (project["customer_user_id"], project["current"]["node_key"]) == (ids["c"], "req")
    listed = (await client.get("/v1/delivery/purchased", headers=csrf)).json()
    assert [p["project_id"] for p in listed["items"]] == [project["project_id"]]
    cards = await dl.product(conn, await dl.template(conn, dl.STANDARD))
    await conn.execute("UPDATE dl_products SET kind = 'card_order' WHERE product_id = %s",
                       (cards,))
    refused = await client.post("/v1/delivery/purchases", headers=csrf,
                                json={"product_id": cards})
    assert refused.status_code == 409
    assert refused.json()["detail"]["code"] == "product_not_for_sale"
    page = await client.get("/console/delivery/purchased")
    assert ids["product"] in page.text and cards not in page.text, "only services are offered"
    form = await client.post("/console/delivery/purchased/buy", data={
        "csrf_token": csrf["X-CSRF-Token"], "product_id": ids["product"]})
    assert form.status_code == 303
    assert form.headers["location"].startswith("/console/delivery/projects/pj-")
    staff = await dl.log_in(client, conn, ids["d1"])
    answer = await client.post("/v1/delivery/purchases", headers=staff,
                               json={"product_id": ids["product"]})
    assert answer.status_code == 403
