"""Products and their providers through the API (specs/business.md §6 I-09, I-24 … I-28,
SM-I-PRODUCT-PROVIDERS, §7.2 I): the product centre and its filters, binding published
templates only, the provider list with its weights and max loads at their limits and one
beyond (I-27's messages byte for byte), current loads as the vendor PM reads them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from core.settings import Settings
from tests.support.delivery_catalogue import department, dl_person, link, tenant
from tests.support.pricing import Market, market, ok

pytestmark = pytest.mark.integration
P = "/v1/delivery/products"
T = "/v1/delivery/templates"
RANGE = "权重取值范围为1-100，最大持单量取值范围为0-2000"
INTEGER = "文本框只支持整数，不支持小数"
OVER = "最大持单量不得超过 2000"


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Market]:
    """Vendors acme and beta; providers hebei and beijing linked to acme; acme's admin and
    PM, beta's admin, a platform operator."""
    async with market(settings) as made:
        for name in ("acme", "beta", "hebei", "beijing"):
            await tenant(settings, name, {"hebei": "河北服务商", "beijing": "北京服务商"}.get(name))
        await link(settings, "acme", "hebei")
        await link(settings, "acme", "beijing")
        await dl_person(made, "acme.admin", "vendor_admin", "acme")
        await dl_person(made, "acme.pm", "vendor_pm", "acme")
        await dl_person(made, "beta.admin", "vendor_admin", "beta")
        yield made


async def published(client: Any, nodes: list[dict[str, Any]], name: str = "交付") -> str:
    made = await ok(client.post(T, json={"name": name, "nodes": nodes}), 201)
    await ok(client.post(f"{T}/{made['template_id']}/publish"))
    return str(made["template_id"])


DONE = {"kind": "complete", "name": "验收"}


async def product(client: Any, no: str, name: str = "企业接入服务") -> dict[str, Any]:
    return dict(await ok(client.post(P, json={"product_no": no, "name": name,
                                              "version": "标准版"}), 201))


@pytest.mark.req("I-24", "I-25", "I-10")
async def test_the_product_centre_and_template_binding(world: Market) -> None:
    admin, pm, beta = (world.people[n] for n in ("acme.admin", "acme.pm", "beta.admin"))
    first = await product(admin, "SP-001")
    assert first["vendor_id"] == "acme" and first["provider_status"] == "未配置"
    assert first["template_id"] is None and first["kind"] == "service"
    await product(admin, "SP-002", "设计服务")
    taken = await admin.post(P, json={"product_no": "SP-001", "name": "again"})
    assert taken.status_code == 409, taken.text
    by_admin = await ok(world.admin.post(P, json={"product_no": "CO-1", "name": "卡单",
                                                  "kind": "card_order"}), 201)
    assert by_admin["vendor_id"] == "platform" and by_admin["kind"] == "card_order"
    draft = await ok(admin.post(T, json={"name": "草稿", "nodes": [DONE]}), 201)
    answer = await admin.put(f"{P}/{first['product_id']}/template",
                             json={"template_id": draft["template_id"]})
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"]["code"] == "template_not_published"
    others = await published(beta, [DONE])
    answer = await admin.put(f"{P}/{first['product_id']}/template",
                             json={"template_id": others})
    assert answer.status_code == 404, answer.text
    own = await published(admin, [DONE], "标准交付")
    bound = await ok(admin.put(f"{P}/{first['product_id']}/template",
                               json={"template_id": own}))
    assert bound["template_id"] == own and bound["template_name"] == "标准交付"
    listed = await ok(pm.get(P))
    assert {p["product_no"] for p in listed} == {"SP-001", "SP-002"}
    assert [p["product_no"] for p in await ok(pm.get(P, params={"product_no": "001"}))] == [
        "SP-001"]
    assert [p["product_no"] for p in await ok(pm.get(P, params={"name": "设计"}))] == [
        "SP-002"]
    assert [p["product_no"] for p in await ok(pm.get(P, params={
        "template_name": "标准"}))] == ["SP-001"]
    assert await ok(beta.get(P)) == []
    assert (await beta.get(f"{P}/{first['product_id']}")).status_code == 404
    every = {p["product_no"] for p in await ok(world.admin.get(P))}
    assert {"SP-001", "SP-002", "CO-1"} <= every
    for answer in (await pm.post(P, json={"product_no": "X-1", "name": "x"}),
                   await pm.put(f"{P}/{first['product_id']}/template",
                                json={"template_id": own}),
                   await pm.put(f"{P}/{first['product_id']}/providers", json=[])):
        assert answer.status_code == 403, answer.text


def problems(answer: Any) -> list[tuple[int, str, str]]:
    assert answer.status_code == 422, answer.text
    return [(e["loc"][1], e["loc"][2], e["message_zh"]) for e in answer.json()["detail"]]


@pytest.mark.req("I-26", "I-27", "SM-I-PRODUCT-PROVIDERS")
async def test_weights_and_max_loads_at_their_limits(world: Market) -> None:
    admin = world.people["acme.admin"]
    pid = (await product(admin, "SP-010"))["product_id"]
    url = f"{P}/{pid}/providers"

    def row(weight: Any, max_load: Any, provider: str = "hebei") -> dict[str, Any]:
        return {"provider_id": provider, "weight": weight, "max_load": max_load}

    fine: tuple[tuple[Any, Any], ...] = ((1, 0), (100, 2000), ("50", "1999"))
    for weight, max_load in fine:
        saved = await ok(admin.put(url, json=[row(weight, max_load)]))
        assert [(p["weight"], p["max_load"]) for p in saved["providers"]] == [
            (int(weight), int(max_load))]
        assert saved["provider_status"] == "已配置"
    refused: tuple[tuple[Any, Any, str, str], ...] = (
            (0, 10, "weight", RANGE), (101, 10, "weight", RANGE), (-1, 10, "weight", RANGE),
            (10, -1, "max_load", RANGE), (10, 2001, "max_load", OVER),
            (1.5, 10, "weight", INTEGER), (10, 1.5, "max_load", INTEGER),
            (10, "2.5", "max_load", INTEGER), ("abc", 10, "weight", RANGE))
    for weight, max_load, field, message in refused:
        assert problems(await admin.put(url, json=[row(weight, max_load)])) == [
            (0, field, message)], (weight, max_load)
    everything = await admin.put(url, json=[
        row(101, 2001), row(2.5, 10, "beijing"), row(10, 10, "beta"), row(10, 10)])
    assert problems(everything) == [
        (0, "weight", RANGE), (0, "max_load", OVER), (1, "weight", INTEGER),
        (2, "provider_id", "该服务商未与厂商建立服务关系，请联系平台运营配置"),
        (3, "provider_id", "服务商重复")]
    detail = everything.json()["detail"][1]
    assert detail["code"] == "provider_max_load_exceeded"
    assert detail["message_en"] == "Max load must not exceed 2000"
    unchanged = await ok(admin.get(f"{P}/{pid}"))
    assert [(p["weight"], p["max_load"]) for p in unchanged["providers"]] == [(50, 1999)]
    defaults = await ok(admin.put(url, json=[{"provider_id": "acme"},
                                             {"provider_id": "beijing", "weight": 30}]))
    assert {(p["provider_id"], p["weight"], p["max_load"]) for p in defaults["providers"]} == {
        ("acme", 10, 1000), ("beijing", 30, 1000)}
    assert {t["tenant_id"] for t in defaults["allowed_providers"]} == {
        "acme", "hebei", "beijing"}
    cleared = await ok(admin.put(url, json=[]))
    assert cleared["providers"] == [] and cleared["provider_status"] == "未配置"


@pytest.mark.req("I-28", "I-34", "I-09")
async def test_the_vendor_pm_reads_weights_loads_and_the_department_warning(
        world: Market, settings: Settings) -> None:
    admin, pm = world.people["acme.admin"], world.people["acme.pm"]
    nodes = [{"kind": "claim", "name": "认领", "role": "客户经理"},
             {"kind": "assign", "name": "分配", "role": "设计师", "rule": "department_first"},
             DONE]
    template = await published(admin, nodes, "部门分单")
    pid = (await product(admin, "SP-020"))["product_id"]
    await ok(admin.put(f"{P}/{pid}/template", json={"template_id": template}))
    await ok(admin.put(f"{P}/{pid}/providers", json=[
        {"provider_id": "hebei", "weight": 10, "max_load": 500},
        {"provider_id": "beijing", "weight": 20, "max_load": 600}]))
    lacking = await department(settings, "hebei", "一部")
    staffed = await department(settings, "hebei", "二部")
    await dl_person(world, "hebei.km", "provider_staff", "hebei", business_roles=["客户经理"],
                    department_id=staffed)
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        for i, (status, paused, completed) in enumerate((
                ("in_progress", False, False), ("paused", True, False),
                ("completed", False, True))):
            await conn.execute("""
                INSERT INTO dl_projects (project_id, order_no, product_id, template_id, nodes,
                    vendor_id, provider_id, customer_name, status, paused_at, completed_at)
                VALUES (%s, %s, %s, %s, '[]', 'acme', 'hebei', '客户', %s,
                        CASE WHEN %s THEN cp_now() END, CASE WHEN %s THEN cp_now() END)""",
                               (f"prj{i}", f"ord{i}", pid, template, status, paused, completed))
    seen = await ok(pm.get(f"{P}/{pid}"))
    assert [(p["name"], p["weight"], p["max_load"], p["current_load"])
            for p in seen["providers"]] == [("北京服务商", 20, 600, 0), ("河北服务商", 10, 500, 2)]
    assert [(w["provider_id"], w["department_id"]) for w in seen["warnings"]] == [
        ("hebei", lacking)]
    assert seen["warnings"][0]["message_zh"] == "部门“一部”没有“客户经理”角色的员工，无法认领订单"


@pytest.mark.req("I-25", "I-27", "I-28", "CONSOLE")
async def test_the_console_provider_form(world: Market) -> None:
    """The product centre's provider form: ticked providers start at 10 / 1000, a refused
    box shows I-27's message beside it; the PM sees the same page without the forms."""
    admin, pm = world.people["acme.admin"], world.people["acme.pm"]
    pid = (await product(admin, "SP-030"))["product_id"]
    centre = await admin.get("/console/delivery/products")
    assert centre.status_code == 200 and "配置服务商" in centre.text and "未配置" in centre.text
    page = f"/console/delivery/products/{pid}"
    shown = await admin.get(page)
    assert 'name="hebei:weight" value="10"' in shown.text
    assert 'name="hebei:max_load" value="1000"' in shown.text
    form = {"providers_form": "yes", "hebei:on": "on", "hebei:weight": "10",
            "hebei:max_load": "2001", "beijing:on": "on", "beijing:weight": "1.5",
            "beijing:max_load": "1000", "acme:weight": "0", "acme:max_load": "0"}
    refused = await admin.post(f"{page}/providers", data=form)
    assert refused.status_code == 422, refused.text
    assert f'data-error="hebei:max_load">{OVER}<' in refused.text
    assert f'data-error="beijing:weight">{INTEGER}<' in refused.text
    assert 'data-error="acme:' not in refused.text  # not ticked: not judged
    saved = await admin.post(f"{page}/providers", data=form | {"hebei:max_load": "2000",
                                                               "beijing:weight": "30"})
    assert saved.status_code == 303, saved.text
    read = await pm.get(page)
    assert read.status_code == 200 and 'data-testid="providers-form"' not in read.text
    assert "北京服务商" in read.text and "2000" in read.text
    assert (await pm.post(f"{page}/providers", data=form)).status_code == 403


@pytest.mark.req("I-35", "SM-I-PRODUCT-PROVIDERS")
async def test_saving_providers_polls_the_queue_for_the_product(world: Market) -> None:
    """A project of a product without providers waits in the provider queue; saving the
    providers assigns it at once (SM-I-PRODUCT-PROVIDERS: queue re-polled)."""
    admin = world.people["acme.admin"]
    pid = (await product(admin, "SP-040"))["product_id"]
    template = await published(admin, [DONE], "直接验收")
    await ok(admin.put(f"{P}/{pid}/template", json={"template_id": template}))
    started = await ok(admin.post("/v1/delivery/projects", json={
        "order_no": "ORD-Q1", "product_id": pid, "customer_name": "客户"}), 201)
    assert started["provider_id"] is None
    queued = await ok(admin.get("/v1/delivery/queue", params={"kind": "provider"}))
    assert [(q["project_id"], q["reason"]) for q in queued] == [
        (started["project_id"], "产品未配置服务商")]
    await ok(admin.put(f"{P}/{pid}/providers", json=[{"provider_id": "hebei"}]))
    assert await ok(admin.get("/v1/delivery/queue", params={"kind": "provider"})) == []
    project = await ok(admin.get(f"/v1/delivery/projects/{started['project_id']}"))
    assert project["provider_id"] == "hebei"
    assert (await ok(admin.get(f"{P}/{pid}")))["providers"][0]["current_load"] == 1
