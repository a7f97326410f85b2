"""Assignment and the queue (I-29 … I-37, SM-I-QUEUE): weighted provider draws, least-loaded
staff with ties broken among the tied only, loads at their limits, the queue's reasons and its
FIFO draining, claiming (I-33, I-32), change of provider (I-44), and 200 concurrent starts
against 100 places."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from domain.delivery import machines as m
from domain.delivery.assign import ProviderSlot, StaffSlot, pick_provider, pick_staff
from domain.delivery.machines import Actor
from domain.refusals import Refusal
from store.db import Conn, create_pool
from store.delivery import assign, project_admin, project_rows, projects
from tests.support import delivery as dl
from tests.support.api import ADMIN

SIMPLE = dl.flow({"key": "pick", "kind": "assign", "name": "分配设计师", "role": "设计师"},
                 {"key": "draft", "kind": "general", "name": "设计稿", "role": "设计师"})


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as c:
        await dl.forms_and_messages(c)
        yield c


def draws(n: int, pick: Any, slots: Any, seed: int = 11) -> Counter[str | None]:
    rng = random.Random(seed)
    return Counter(pick(slots, rng) for _ in range(n))


@pytest.mark.req("I-29")
@pytest.mark.req("I-26")
def test_providers_are_drawn_by_weight_among_those_with_spare_capacity() -> None:
    slots = [ProviderSlot("a", 20, 10, 9), ProviderSlot("b", 30, 10, 0),
             ProviderSlot("full", 50, 10, 10), ProviderSlot("zero", 100, 0, 0)]
    seen = draws(20_000, pick_provider, slots)
    assert set(seen) == {"a", "b"}  # full and max-load-0 providers never, their weight uncounted
    # 20/(20+30) = 0.4: four standard deviations of 20 000 draws is about 0.014
    assert abs(seen["a"] / 20_000 - 0.4) < 0.014
    assert pick_provider([ProviderSlot("a", 20, 10, 10)], random.Random(1)) is None
    assert pick_provider([], random.Random(1)) is None


@pytest.mark.req("I-29")
@pytest.mark.req("I-27")
def test_provider_draws_pass_a_chi_square_test_at_the_weight_limits() -> None:
    slots = [ProviderSlot("w1", 1, 2000, 1999), ProviderSlot("w39", 39, 1, 0),
             ProviderSlot("w100", 100, 2000, 0), ProviderSlot("full", 100, 2000, 2000)]
    n = 28_000
    seen = draws(n, pick_provider, slots, seed=5)
    expected = {"w1": n / 140, "w39": n * 39 / 140, "w100": n * 100 / 140}
    assert set(seen) == set(expected)
    chi2 = sum((seen[k] - e) ** 2 / e for k, e in expected.items())
    assert chi2 < 13.8  # 2 degrees of freedom, p = 0.001


@pytest.mark.req("I-31")
@pytest.mark.req("AMB-43")
@pytest.mark.req("AMB-47")
def test_staff_ties_are_broken_among_the_tied_only() -> None:
    slots = [StaffSlot("a", 4, 1), StaffSlot("b", 8, 2), StaffSlot("c", 3, 1),
             StaffSlot("paused", 5, 0, accepting=False), StaffSlot("zero", 0, 0),
             StaffSlot("full", 2, 2)]
    seen = draws(4_000, pick_staff, slots)
    assert set(seen) == {"a", "b"}  # 1/4 = 2/8 < 1/3; paused, max 0 and full never
    assert abs(seen["a"] / 4_000 - 0.5) < 0.04
    assert draws(50, pick_staff, [*slots, StaffSlot("idle", 50, 12)]) == Counter({"idle": 50})
    assert pick_staff([StaffSlot("full", 1, 1)], random.Random(1)) is None


async def start(conn: Conn, product: str, order_no: str, seed: int = 3) -> str:
    return await projects.start_project(conn, order_no=order_no, product_id=product,
                                        customer_name="客户", rng=random.Random(seed))


async def entry(conn: Conn, project_id: str) -> assign.QueueEntry | None:
    return next((e for e in await assign.entries(conn) if e.project_id == project_id), None)


@pytest.mark.req("I-35")
@pytest.mark.req("I-36")
@pytest.mark.req("I-37")
@pytest.mark.req("AMB-36")
@pytest.mark.req("SM-I-QUEUE")
async def test_the_provider_queue_fills_with_reasons_and_drains_oldest_first(conn: Conn) -> None:
    await dl.tenant(conn, "acme")
    await dl.staff(conn, "d1", "acme", max_load=10)
    template = await dl.template(conn, SIMPLE)
    bare = await dl.product(conn, template)
    lone = await start(conn, bare, "NOPROV")
    queued = await entry(conn, lone)
    assert queued is not None and (queued.kind, queued.reason) == ("provider", "产品未配置服务商")
    assert (await project_rows.current_run(conn, lone)).state == "queued"  # type: ignore[union-attr]

    product = await dl.product(conn, template, providers=[("acme", 10, 1)])
    first = await start(conn, product, "P1")
    second = await start(conn, product, "P2")
    third = await start(conn, product, "P3")
    assert (await project_rows.get_project(conn, first)).provider_id == "acme"
    for late in (second, third):
        found = await entry(conn, late)
        assert found is not None and found.reason == m.PROVIDERS_FULL == "所有服务商员工持单量已满"
    before = await entry(conn, third)
    assert await assign.drain_queue(conn, rng=random.Random(1), kind="provider") == 0
    await project_admin.cancel(conn, first, Actor(None, "系统"), "订单取消")
    assert await assign.drain_queue(conn, rng=random.Random(1), kind="provider") == 1
    assert (await project_rows.get_project(conn, second)).provider_id == "acme"  # the oldest
    assert (await project_rows.current_run(conn, second)).node_key == "draft"  # type: ignore[union-attr]
    still = await entry(conn, third)
    assert still is not None and before is not None
    assert still.queued_at == before.queued_at and still.last_attempt_at > before.last_attempt_at
    log = [line.action for line in await project_rows.log_lines(conn, second)]
    assert log[-4:] == ["分配服务商已完成", "进入分配设计师", "分配设计师已完成", "进入设计稿"]
    # I-54: leaves the queue
    await project_admin.cancel(conn, third, Actor(None, "系统"), "订单退款")
    assert await entry(conn, third) is None
    # the bare product gets a provider: the manual 分单 for it assigns
    await dl.set_providers(conn, bare, [("acme", 5, 5)])
    assert await assign.drain_queue(conn, rng=random.Random(1), product_id=bare) == 1
    assert await entry(conn, lone) is None


@pytest.mark.req("I-36")
@pytest.mark.req("I-37")
@pytest.mark.req("AMB-33")
@pytest.mark.req("I-34")
async def test_the_staff_queue_waits_for_a_free_designer(conn: Conn) -> None:
    await dl.tenant(conn, "acme")
    d1 = await dl.staff(conn, "d1", "acme", max_load=1)
    await dl.staff(conn, "paused", "acme", max_load=5, accepting=False)
    await dl.staff(conn, "zero", "acme", max_load=0)
    product = await dl.product(conn, await dl.template(conn, SIMPLE),
                               providers=[("acme", 10, 100)])
    first = await start(conn, product, "S1")
    second = await start(conn, product, "S2")
    assert (await project_rows.current_run(conn, first)).operator_user_id == d1  # type: ignore[union-attr]
    waiting = await entry(conn, second)
    assert waiting is not None
    assert (waiting.kind, waiting.provider_id, waiting.reason) == (
        "staff", "acme", "没有找到可接单的服务商员工")
    assert await assign.drain_queue(conn, rng=random.Random(1), kind="staff") == 0
    await dl.set_staff(conn, d1, max_load=2)
    assert await assign.drain_queue(conn, rng=random.Random(1), kind="staff",
                                    provider_id="acme") == 1
    assert await project_rows.held(conn, d1) == 2
    assert (await project_rows.current_run(conn, second)).operator_user_id == d1  # type: ignore[union-attr]


CLAIMED = dl.flow(
    {"key": "claim", "kind": "claim", "name": "认领订单", "role": "客户经理"},
    {"key": "pick", "kind": "assign", "name": "分配设计师", "role": "设计师",
     "rule": "department_first"},
    {"key": "draft", "kind": "general", "name": "设计稿", "role": "设计师"})


@pytest.mark.req("I-33")
@pytest.mark.req("I-32")
@pytest.mark.req("AMB-32")
@pytest.mark.req("I-64")  # the department scheme of distribution: each department claims its own
async def test_a_claimed_order_is_assigned_inside_the_claimants_department(conn: Conn) -> None:
    await dl.tenant(conn, "acme")
    north = await dl.department(conn, "acme", "北区")
    south = await dl.department(conn, "acme", "南区")
    manager = await dl.staff(conn, "mgr", "acme", ("客户经理",), department_id=north)
    mine = await dl.staff(conn, "x1", "acme", max_load=1, department_id=north)
    await dl.staff(conn, "x2", "acme", max_load=9, department_id=south)
    product = await dl.product(conn, await dl.template(conn, CLAIMED),
                               providers=[("acme", 10, 100)])
    first = await start(conn, product, "C1")
    second = await start(conn, product, "C2")
    for code, call in (("order_not_claimable", projects.claim(conn, "NOPE", manager,
                                                              rng=random.Random(1))),
                       ("claim_role_mismatch", projects.claim(conn, "C1", mine,
                                                              rng=random.Random(1)))):
        with pytest.raises(Refusal) as caught:
            await call
        assert caught.value.code == code
    assert caught.value.message_zh == "您的角色不能认领该订单"
    assert await projects.claim(conn, "C1", manager, rng=random.Random(1)) == first
    project = await project_rows.get_project(conn, first)
    assert (project.claimed_by, project.claimed_department) == (manager, north)
    assert (await project_rows.current_run(conn, first)).operator_user_id == mine  # type: ignore[union-attr]
    with pytest.raises(m.NotClaimable) as again:
        await projects.claim(conn, "C1", manager, rng=random.Random(1))
    assert again.value.message_zh == "订单不存在或不在待认领状态"
    # x1 is full: the second order queues in the department, never going south
    await projects.claim(conn, "C2", manager, rng=random.Random(1))
    waiting = await entry(conn, second)
    assert waiting is not None and waiting.reason == m.NO_STAFF


@pytest.mark.req("I-44")
@pytest.mark.req("AMB-30")
@pytest.mark.req("I-50")
async def test_change_of_provider_restarts_the_flow_with_a_new_epoch(conn: Conn) -> None:
    await dl.tenant(conn, "acme", "北京服务商")
    await dl.tenant(conn, "hebei", "河北服务商")
    await dl.tenant(conn, "other", "其他服务商")
    d1 = await dl.staff(conn, "d1", "acme")
    h1 = await dl.staff(conn, "h1", "hebei")
    product = await dl.product(conn, await dl.template(conn, SIMPLE),
                               providers=[("acme", 10, 5), ("hebei", 10, 0)])
    pid = await start(conn, product, "CP1")
    assert await project_rows.held(conn, d1) == 1
    vendor = Actor("u-vendor", "小二")
    for code, target in (("provider_not_configured", "other"), ("same_provider", "acme"),
                         ("provider_load_full", "hebei")):
        with pytest.raises(Refusal) as caught:
            await project_admin.change_provider(conn, pid, target, vendor, "", rng=random.Random(1))
        assert caught.value.code == code
    assert caught.value.message_zh == "所选服务商持单量已满"
    await dl.set_providers(conn, product, [("acme", 10, 5), ("hebei", 10, 1)])
    await project_admin.pause(conn, pid, vendor, "等待更换")
    await project_admin.change_provider(conn, pid, "hebei", vendor, "北京无人力",
                                        rng=random.Random(1))
    project = await project_rows.get_project(conn, pid)
    assert (project.provider_id, project.epoch, project.status) == ("hebei", 2, "in_progress")
    assert (await project_rows.held(conn, d1), await project_rows.held(conn, h1)) == (0, 1)
    runs = await project_rows.runs(conn, pid)
    assert {r.state for r in runs if r.epoch == 1} == {"done", "abandoned"}
    assert [r.node_key for r in runs if r.epoch == 2] == ["assign_provider", "pick", "draft"]
    log = await project_rows.log_lines(conn, pid)
    changed = next(line for line in log if line.action.startswith("服务商由"))
    assert (changed.action, changed.remark, changed.epoch) == (
        "服务商由北京服务商更换为河北服务商", "北京无人力", 2)
    assert [line.action for line in log if line.epoch == 1][0] == "项目开始"  # kept


@pytest.mark.req("I-34")
@pytest.mark.req("I-29")
@pytest.mark.req("I-31")
@pytest.mark.req("I-37")
async def test_two_hundred_concurrent_starts_fill_exactly_one_hundred_places(
        db_url: str, conn: Conn) -> None:
    providers = {"acme": 60, "hebei": 40}
    for provider, cap in providers.items():
        await dl.tenant(conn, provider)
        for i in range(cap // 20):
            await dl.staff(conn, f"{provider}{i}", provider, max_load=20)
    product = await dl.product(conn, await dl.template(conn, SIMPLE),
                               providers=[(p, 10, cap) for p, cap in providers.items()])

    pool = create_pool(db_url, max_size=40)  # 40 transactions at once, 200 starts in all
    await pool.open()

    async def one(n: int) -> str:
        async with pool.connection() as own:
            return await start(own, product, f"RUSH-{n}", seed=n)

    try:
        started = await asyncio.gather(*(one(n) for n in range(200)))
    finally:
        await pool.close()
    assert len(set(started)) == 200
    queue = await assign.entries(conn)
    assert len(queue) == 100 and {e.kind for e in queue} == {"provider"}
    assigned = [await project_rows.get_project(conn, p) for p in started]
    per_provider = Counter(p.provider_id for p in assigned if p.provider_id)
    assert per_provider == Counter(providers)
    loads = [await project_rows.held(conn, f"u-{p}{i}") for p, cap in providers.items()
             for i in range(cap // 20)]
    assert loads == [20] * 5


@pytest.mark.req("I-35")
@pytest.mark.req("I-44")
@pytest.mark.req("I-33")
@pytest.mark.req("SM-I-QUEUE")
async def test_the_queue_claims_and_provider_changes_through_the_api(
        conn: Conn, client: httpx.AsyncClient) -> None:
    await dl.tenant(conn, "vend", "厂商")
    await dl.tenant(conn, "acme", "北京服务商")
    await dl.tenant(conn, "hebei", "河北服务商")
    vendor = await dl.staff(conn, "vadmin", "vend", ("厂商管理员",), role="vendor_admin")
    other_vendor = await dl.staff(conn, "oadmin", "acme", ("厂商管理员",), role="vendor_admin")
    manager = await dl.staff(conn, "mgr", "acme", ("客户经理",))
    await dl.staff(conn, "x1", "acme", max_load=9)
    await dl.staff(conn, "h1", "hebei", max_load=9)
    product = await dl.product(conn, await dl.template(conn, CLAIMED), vendor_id="vend")
    csrf = await dl.log_in(client, conn, vendor)
    made = await client.post("/v1/delivery/projects", headers=csrf, json={
        "order_no": "Q-1", "product_id": product, "customer_name": "客户"})
    assert made.status_code == 201, made.text
    pid = made.json()["project_id"]
    queue = await client.get("/v1/delivery/queue", params={"kind": "provider"})
    assert [(e["project_id"], e["reason"]) for e in queue.json()] == [(pid, "产品未配置服务商")]
    await dl.set_providers(conn, product, [("acme", 10, 5)])
    answer = await client.post("/v1/delivery/queue/assign", headers=csrf,
                               json={"kind": "provider", "product_id": product})
    assert answer.json() == {"assigned": 1}
    assert (await client.get("/v1/delivery/queue")).json() == []

    csrf = await dl.log_in(client, conn, other_vendor)  # another vendor's product: not found
    answer = await client.post("/v1/delivery/queue/assign", headers=csrf,
                               json={"kind": "provider", "product_id": product})
    assert answer.status_code == 404
    csrf = await dl.log_in(client, conn, manager)
    answer = await client.post("/v1/delivery/claims", headers=csrf, json={"order_no": "Q-1"})
    assert answer.json() == {"project_id": pid}
    detail = (await client.get(f"/v1/delivery/projects/{pid}")).json()
    assert detail["claimed_by"] == manager and detail["current"]["node_key"] == "draft"

    await dl.set_providers(conn, product, [("acme", 10, 5), ("hebei", 10, 5)])
    answer = await client.post(f"/v1/delivery/projects/{pid}/provider", headers=ADMIN,
                               json={"provider_id": "hebei", "remark": "换人"})
    assert answer.status_code == 200, answer.text
    changed = next(line for line in answer.json()["log"] if line["action"].startswith("服务商由"))
    assert (changed["action"], changed["actor_name"], changed["remark"]) == (
        "服务商由北京服务商更换为河北服务商", "小二", "换人")
    assert answer.json()["current"]["node_key"] == "claim"  # restarted from the beginning
    csrf = await dl.log_in(client, conn, manager)
    answer = await client.post(f"/v1/delivery/projects/{pid}/provider", headers=csrf,
                               json={"provider_id": "acme"})
    assert answer.status_code == 404  # no longer its provider's project
