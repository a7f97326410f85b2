"""Service-flow templates through the API (specs/business.md §6 I-08, I-10 … I-23,
SM-I-TEMPLATE, §7.2 I): the presets, create with the built-in start node, every publish
violation in the spec's words, published templates frozen (the API and the DB trigger), copy,
the public templates' name suffix, who may do what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from core.settings import Settings
from tests.support.delivery_catalogue import dl_person, link, tenant
from tests.support.pricing import Market, market, ok

pytestmark = pytest.mark.integration
T = "/v1/delivery/templates"


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Market]:
    """Vendors acme and beta, provider hebei linked to acme; acme's admin and PM, beta's
    admin, a hebei staff member, a platform operator."""
    async with market(settings) as made:
        for name in ("acme", "beta", "hebei"):
            await tenant(settings, name)
        await link(settings, "acme", "hebei")
        await dl_person(made, "acme.admin", "vendor_admin", "acme")
        await dl_person(made, "acme.pm", "vendor_pm", "acme")
        await dl_person(made, "beta.admin", "vendor_admin", "beta")
        await dl_person(made, "hebei.staff", "provider_staff", "hebei", business_roles=["设计师"])
        await made.person("operator", "platform_operator")
        yield made


def good_nodes() -> list[dict[str, Any]]:
    """A template using every node kind that publishes."""
    return [
        {"kind": "claim", "name": "认领订单", "role": "客户经理", "timeout_days": "0"},
        {"kind": "assign", "name": "分配订单", "role": "设计师", "rule": "department_first"},
        {"kind": "submit_requirement", "name": "提交需求", "form_id": "f_basic",
         "timeout_days": 2, "reminders": [
             {"receiver": "customer", "trigger": "entered", "template": "提交需求节点-通知客户"}]},
        {"kind": "container", "name": "设计", "children": [
            {"kind": "general", "name": "设计稿", "side": "provider", "role": "设计师",
             "upload": True, "timeout_days": "1.5"},
            {"kind": "confirm", "name": "方案确认", "side": "customer", "role": "设计师",
             "rejectable": True, "auto_advance": True, "timeout_days": 365.0}]},
        {"kind": "complete", "name": "项目验收", "rejectable": True, "auto_advance": True,
         "timeout_days": "3.0", "reminders": [
             {"receiver": "customer", "trigger": "timed_out",
              "template": "项目完成节点-通知客户"}]}]


async def draft(made: Market, nodes: list[dict[str, Any]], who: str = "acme.admin",
                name: str = "设计服务") -> dict[str, Any]:
    made_ = made.people[who]
    return dict(await ok(made_.post(T, json={"name": name, "nodes": nodes}), 201))


async def violations(made: Market, nodes: list[dict[str, Any]], who: str = "acme.admin",
                     name: str = "设计服务") -> list[tuple[str | None, str, str]]:
    """Publish a new draft of these nodes: the (node key, field, message_zh) it is refused
    with."""
    made_ = made.people[who]
    template = await draft(made, nodes, who, name)
    answer = await made_.post(f"{T}/{template['template_id']}/publish")
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail["code"] == "template_invalid"
    return [(v["node_key"], v["field"], v["message_zh"]) for v in detail["violations"]]


@pytest.mark.req("I-08", "I-16", "I-20")
async def test_the_platform_presets_are_read_by_vendors(world: Market) -> None:
    admin = world.people["acme.admin"]
    roles = {r["name"] for r in await ok(admin.get("/v1/delivery/roles"))}
    assert {"设计师", "客户经理", "工程师", "服务人员", "服务商管理员", "厂商管理员",
            "项目经理"} <= roles
    messages = {m["name"]: m for m in await ok(admin.get("/v1/delivery/message-templates"))}
    for name in ("项目完成节点-通知客户", "确认节点-通知服务商员工",
                 "认领订单节点-通知服务商管理员"):
        assert name in messages
        assert "{order_no}" in messages[name]["body_zh"] and messages[name]["body_en"]
    assert messages["项目完成节点-通知客户"]["node_kind"] == "complete"
    assert messages["项目完成节点-通知客户"]["receiver"] == "customer"
    filtered = await ok(admin.get("/v1/delivery/message-templates", params={"name": "确认节点"}))
    assert filtered and all("确认节点" in m["name"] for m in filtered)
    forms = await ok(admin.get("/v1/delivery/requirement-forms"))
    assert len(forms) >= 2
    kinds = {f["type"] for form in forms for f in form["fields"]}
    assert kinds == {"text", "textarea", "select", "date"}
    assert all(isinstance(f["required"], bool) for form in forms for f in form["fields"])
    staff = world.people["hebei.staff"]
    assert (await staff.get("/v1/delivery/roles")).status_code == 403


@pytest.mark.req("I-11", "I-12", "SM-I-TEMPLATE")
async def test_create_needs_a_name_and_starts_with_the_built_in_node(world: Market) -> None:
    admin = world.people["acme.admin"]
    answer = await admin.post(T, json={"name": "  ", "nodes": []})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["message_zh"] == "请输入服务流程名称"
    made = await draft(world, [{"kind": "complete", "name": "验收"},
                               {"key": "n1", "kind": "confirm", "name": "确认"}])
    assert made["status"] == "unpublished" and made["vendor_id"] == "acme"
    assert made["nodes"][0] == {"key": "assign_provider", "kind": "assign_provider",
                                "name": "分配服务商"}
    keys = [n["key"] for n in made["nodes"]]
    assert keys == ["assign_provider", "n2", "n1"]  # n1 was taken: the new node got n2


@pytest.mark.req("I-12", "I-13", "I-14", "I-15", "I-16", "I-17", "I-18", "I-19", "I-20",
                 "I-21", "I-22", "SM-I-TEMPLATE")
async def test_a_complete_template_publishes_and_is_then_frozen(
        world: Market, settings: Settings) -> None:
    admin = world.people["acme.admin"]
    template = await draft(world, good_nodes())
    tid = template["template_id"]
    edited = await ok(admin.put(f"{T}/{tid}", json={
        "name": "设计服务 v2", "description": "说明", "nodes": template["nodes"]}))
    assert edited["name"] == "设计服务 v2" and edited["status"] == "unpublished"
    published = await ok(admin.post(f"{T}/{tid}/publish"))
    assert published["status"] == "published" and published["published_at"]
    for answer in (await admin.put(f"{T}/{tid}", json={"name": "x", "nodes": []}),
                   await admin.delete(f"{T}/{tid}"),
                   await admin.post(f"{T}/{tid}/publish")):
        assert answer.status_code == 409, answer.text
        assert answer.json()["detail"] == {"code": "template_published",
                                           "message_zh": "已发布的模板不支持编辑",
                                           "message_en": "A published template cannot be edited"}
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            await conn.execute("UPDATE dl_templates SET name = 'x' WHERE template_id = %s",
                               (tid,))
        with pytest.raises(psycopg.errors.CheckViolation):
            await conn.execute("DELETE FROM dl_templates WHERE template_id = %s", (tid,))
    assert (await ok(admin.get(f"{T}/{tid}")))["name"] == "设计服务 v2"


@pytest.mark.req("I-12", "I-22")
async def test_first_and_last_node(world: Market) -> None:
    admin = world.people["acme.admin"]
    template = await draft(world, [])
    missing_start = await ok(admin.put(f"{T}/{template['template_id']}", json={
        "name": "无起点", "nodes": [{"kind": "confirm", "name": "确认", "role": "设计师",
                                  "side": "provider"}]}))
    answer = await admin.post(f"{T}/{missing_start['template_id']}/publish")
    found = {v["message_zh"] for v in answer.json()["detail"]["violations"]}
    last = "模板最后一个节点需为完成项目节点"
    assert found == {"分配服务商节点为系统内置起始节点，不可删除", last}
    assert await violations(world, []) == [("assign_provider", "kind", last)]
    in_middle = await violations(world, [{"kind": "complete", "name": "验收"},
                                         {"kind": "complete", "name": "再验收"}])
    assert in_middle == [("n1", "kind", "该节点只能作为模板的第一个或最后一个节点")]


@pytest.mark.req("I-13", "I-14", "I-15", "I-16", "I-17", "I-18", "I-19", "I-20", "I-22")
async def test_publish_reports_every_violation_at_its_node_and_field(world: Market) -> None:
    nodes: list[dict[str, Any]] = [
        {"key": "c1", "kind": "claim", "name": "认领", "role": "客户经理", "rejectable": True},
        {"key": "c2", "kind": "claim", "name": "", "role": ""},
        {"key": "a1", "kind": "assign", "name": "分配", "role": "不存在的角色"},
        {"key": "s1", "kind": "submit_requirement", "name": "需求", "rejectable": True,
         "labels": {"submit_label": " "}},
        {"key": "s2", "kind": "submit_requirement", "name": "需求2", "form_id": "f_nope"},
        {"key": "k1", "kind": "container", "name": "空容器"},
        {"key": "k2", "kind": "container", "name": "外层", "children": [
            {"key": "k3", "kind": "container", "name": "内层", "children": [
                {"key": "g0", "kind": "general", "name": "内", "role": "设计师",
                 "side": "provider"}]}]},
        {"key": "g1", "kind": "general", "name": "通用", "role": "设计师", "side": "provider",
         "upload": True,
         "labels": {"upload_label": ""}, "timeout_days": "1.25", "effect": "teleport"},
        {"key": "f1", "kind": "confirm", "name": "确认", "role": "设计师", "side": "nowhere",
         "rejectable": True, "labels": {"reject_label": ""}, "timeout_days": 365.1,
         "reminders": [
             {"receiver": "customer", "trigger": "entered", "template": "项目完成节点-通知客户"},
             {"receiver": "boss", "trigger": "later", "template": "不存在"}]},
        {"key": "f1", "kind": "warp", "name": "未知"},
        {"key": "z", "kind": "complete", "name": "验收", "timeout_days": "abc"}]
    found = await violations(world, nodes)
    expected = [
        ("c2", "kind", "模板最多只能配置一个认领订单节点"),
        ("f1", "key", "节点标识重复"),
        ("c1", "rejectable", "该类型节点不支持驳回"),
        ("c1", "rejectable", "上一步为分配服务商、分配订单或认领订单节点时，不可设置为可驳回"),
        ("c2", "name", "请填写节点名称"),
        ("c2", "role", "请选择角色"),
        ("a1", "role", "请选择平台预置的角色"),
        ("a1", "rule", "请选择分单规则"),
        ("s1", "rejectable", "该类型节点不支持驳回"),
        ("s1", "rejectable", "上一步为分配服务商、分配订单或认领订单节点时，不可设置为可驳回"),
        ("s1", "form_id", "请选择需求模板"),
        ("s1", "labels.submit_label", "请填写按钮名称"),
        ("s2", "form_id", "需求模板不存在"),
        ("k1", "children", "容器节点至少包含一个子节点"),
        ("k3", "kind", "容器节点不可嵌套"),
        ("g1", "timeout_days", "超时时间最多保留1位小数"),
        ("g1", "effect", "该节点不支持此卡单动作"),
        ("g1", "labels.upload_label", "请填写按钮名称"),
        ("f1", "side", "请选择操作方"),
        ("f1", "timeout_days", "超时时间取值范围为0.0-365.0"),
        ("f1", "labels.reject_label", "请填写驳回按钮名称"),
        ("f1", "reminders.0.template", "消息模板与节点或接收者不匹配"),
        ("f1", "reminders.1.receiver", "请选择消息接收者"),
        ("f1", "reminders.1.trigger", "请选择触发条件"),
        ("f1", "reminders.1.template", "消息模板不存在"),
        ("f1", "kind", "未知的节点类型"),
        ("z", "timeout_days", "超时时间取值范围为0.0-365.0")]
    assert sorted(found, key=str) == sorted(expected, key=str)


@pytest.mark.req("I-15", "I-22")
async def test_department_first_needs_a_claim_node_before_it(world: Market) -> None:
    admin = world.people["acme.admin"]
    assign = {"key": "a", "kind": "assign", "name": "分配", "role": "设计师",
              "rule": "department_first"}
    claim = {"key": "c", "kind": "claim", "name": "认领", "role": "客户经理"}
    done = {"key": "z", "kind": "complete", "name": "验收"}
    template = await draft(world, [assign, claim, done])
    answer = await admin.post(f"{T}/{template['template_id']}/publish")
    assert answer.status_code == 422
    assert answer.json()["detail"]["violations"] == [{
        "node_key": "a", "field": "rule", "code": "department_first_requires_claim",
        "message_zh": "部门优先需要先配置认领订单节点",
        "message_en": "Department-first needs a claim-order node before it"}]
    fixed = await ok(admin.put(f"{T}/{template['template_id']}", json={
        "name": "部门优先", "nodes": [template["nodes"][0], claim, assign, done]}))
    assert (await ok(admin.post(f"{T}/{fixed['template_id']}/publish")))["status"] == "published"


@pytest.mark.req("I-17", "I-19", "I-22")
async def test_no_rejectable_node_right_after_a_system_or_claim_node(world: Market) -> None:
    """AMB-35: with nobody to send it back to, a node right after the start, an assign-order
    or a claim-order node (even across a container boundary) cannot be rejectable."""
    confirm = {"kind": "confirm", "name": "确认", "role": "设计师", "side": "customer",
               "rejectable": True}
    message = "上一步为分配服务商、分配订单或认领订单节点时，不可设置为可驳回"
    assert await violations(world, [confirm | {"key": "f"},
                                    {"kind": "complete", "name": "验收"}]) == [
        ("f", "rejectable", message)]
    assert await violations(world, [
        {"kind": "assign", "name": "分配", "role": "设计师", "rule": "provider_first"},
        {"kind": "container", "name": "组", "children": [confirm | {"key": "f"}]},
        {"kind": "complete", "name": "验收"}]) == [("f", "rejectable", message)]
    assert await violations(world, [
        {"kind": "claim", "name": "认领", "role": "客户经理"},
        {"key": "z", "kind": "complete", "name": "验收", "rejectable": True}]) == [
        ("z", "rejectable", message)]


TIMEOUTS = [(None, True), ("", True), (0, True), ("0.0", True), ("0.1", True), (365, True),
            ("365.0", True), ("1.50", True), ("365.1", False), (-0.1, False), ("0.05", False),
            ("1.25", False)]


@pytest.mark.req("I-14", "I-22")
async def test_timeouts_at_their_limits(world: Market) -> None:
    """0.0–365.0 working days with at most one decimal; 0 or empty = no timeout (AMB-52)."""
    admin = world.people["acme.admin"]
    for timeout, publishes in TIMEOUTS:
        template = await draft(world, [{"key": "z", "kind": "complete", "name": "验收",
                                        "timeout_days": timeout}])
        answer = await admin.post(f"{T}/{template['template_id']}/publish")
        assert (answer.status_code == 200) is publishes, (timeout, answer.text)


@pytest.mark.req("I-10", "SM-I-TEMPLATE")
async def test_copy_public_or_own_into_a_new_draft(world: Market) -> None:
    operator, admin = world.people["operator"], world.people["acme.admin"]
    beta = world.people["beta.admin"]
    shared = await draft(world, [{"kind": "complete", "name": "验收"}], "operator", "公共交付")
    assert shared["vendor_id"] is None and shared["public"] is True
    await ok(operator.post(f"{T}/{shared['template_id']}/publish"))
    copy = await ok(admin.post(f"{T}/{shared['template_id']}/copy"), 201)
    assert copy["vendor_id"] == "acme" and copy["status"] == "unpublished"
    assert copy["copied_from"] == shared["template_id"] and copy["nodes"] == shared["nodes"]
    again = await ok(admin.post(f"{T}/{copy['template_id']}/copy"), 201)
    assert again["template_id"] != copy["template_id"]
    assert (await beta.post(f"{T}/{copy['template_id']}/copy")).status_code == 404
    assert (await beta.post(f"{T}/{shared['template_id']}/copy")).status_code == 201
    mine = {t["template_id"] for t in await ok(admin.get(T))}
    assert {shared["template_id"], copy["template_id"], again["template_id"]} <= mine
    assert all(t["vendor_id"] in (None, "acme") for t in await ok(admin.get(T)))
    own = await ok(admin.get(T, params={"scope": "own"}))
    assert {t["template_id"] for t in own} == {copy["template_id"], again["template_id"]}
    public = await ok(admin.get(T, params={"scope": "public", "status": "published"}))
    assert [t["template_id"] for t in public] == [shared["template_id"]]
    named = await ok(admin.get(T, params={"name": "公共"}))
    assert {t["template_id"] for t in named} == mine
    assert (await admin.delete(f"{T}/{again['template_id']}")).status_code == 204
    assert (await admin.get(f"{T}/{again['template_id']}")).status_code == 404


@pytest.mark.req("I-23")
async def test_the_auto_assign_suffix_of_public_templates(world: Market) -> None:
    assign = {"kind": "assign", "name": "分配", "role": "设计师", "rule": "provider_first"}
    done = {"kind": "complete", "name": "验收"}
    required = "含分配订单节点的公共模板名称需以“子账号自动分单”结尾"
    forbidden = "不含分配订单节点的公共模板名称不能以“子账号自动分单”结尾"
    assert await violations(world, [assign, done], "operator", "设计") == [
        (None, "name", required)]
    assert await violations(world, [done], "operator", "设计-子账号自动分单") == [
        (None, "name", forbidden)]
    operator = world.people["operator"]
    for nodes, name in (([assign, done], "设计-子账号自动分单"), ([done], "设计")):
        made = await draft(world, nodes, "operator", name)
        await ok(operator.post(f"{T}/{made['template_id']}/publish"))
    mine = await draft(world, [assign, done], "acme.admin", "设计")  # a vendor's: no rule
    await ok(world.people["acme.admin"].post(f"{T}/{mine['template_id']}/publish"))


@pytest.mark.req("I-04", "SM-I-TEMPLATE")
async def test_who_may_do_what(world: Market) -> None:
    admin, pm = world.people["acme.admin"], world.people["acme.pm"]
    beta, staff = world.people["beta.admin"], world.people["hebei.staff"]
    operator = world.people["operator"]
    mine = await draft(world, [{"kind": "complete", "name": "验收"}])
    tid = mine["template_id"]
    shared = await draft(world, [{"kind": "complete", "name": "验收"}], "operator", "公共")
    assert (await ok(pm.get(f"{T}/{tid}")))["template_id"] == tid
    assert {t["template_id"] for t in await ok(pm.get(T))} == {tid, shared["template_id"]}
    body = {"name": "x", "nodes": []}
    for answer in (await pm.post(T, json=body), await pm.put(f"{T}/{tid}", json=body),
                   await pm.post(f"{T}/{tid}/publish"), await pm.delete(f"{T}/{tid}"),
                   await pm.post(f"{T}/{tid}/copy"), await staff.get(T),
                   await admin.put(f"{T}/{shared['template_id']}", json=body),
                   await operator.put(f"{T}/{tid}", json=body)):
        assert answer.status_code == 403, answer.text
    for answer in (await beta.get(f"{T}/{tid}"), await beta.put(f"{T}/{tid}", json=body),
                   await beta.post(f"{T}/{tid}/publish"), await beta.delete(f"{T}/{tid}")):
        assert answer.status_code == 404, answer.text
    assert tid not in {t["template_id"] for t in await ok(beta.get(T))}
    everything = {t["template_id"] for t in await ok(world.admin.get(T))}
    assert {tid, shared["template_id"]} <= everything


@pytest.mark.req("I-11", "I-21", "I-22", "CONSOLE")
async def test_the_console_editor_saves_drafts_and_shows_violations_at_their_fields(
        world: Market) -> None:
    admin = world.people["acme.admin"]
    page = "/console/delivery/templates"
    listed = await admin.get(page)
    assert listed.status_code == 200 and "服务流程模板" in listed.text
    made = await admin.post(page, data={"name": "控制台模板", "description": "说明"})
    assert made.status_code == 303, made.text
    editor = made.headers["location"]
    tid = editor.rsplit("/", 1)[1]
    form = {"name": "控制台模板", "description": "说明", "0:key": "assign_provider",
            "0:kind": "assign_provider", "0:name": "分配服务商"}
    added = await admin.post(editor, data=form | {"op": "add", "new_kind": "complete"})
    assert added.status_code == 200, added.text
    added = await admin.post(editor, data=form | {
        "1:kind": "complete", "1:name": "验收", "op": "add", "new_kind": "confirm"})
    nodes = (await ok(admin.get(f"{T}/{tid}")))["nodes"]
    assert [n["kind"] for n in nodes] == ["assign_provider", "confirm", "complete"]
    assert nodes[1]["labels"] == {"confirm_label": "确认", "reject_label": "驳回"}
    confirm_key = nodes[1]["key"]
    fields = form | {"1:key": confirm_key, "1:kind": "confirm", "1:name": "方案确认",
                     "1:side": "provider", "1:role": "", "1:timeout_days": "1.25",
                     "1:label_confirm_label": "确认", "1:label_reject_label": "驳回",
                     "1:rejectable": "on", "2:key": nodes[2]["key"], "2:kind": "complete",
                     "2:name": "验收", "op": "publish"}
    refused = await admin.post(editor, data=fields)
    assert refused.status_code == 422, refused.text
    after_start = "上一步为分配服务商、分配订单或认领订单节点时，不可设置为可驳回"
    for field, message in (("role", "请选择角色"), ("timeout_days", "超时时间最多保留1位小数"),
                           ("rejectable", after_start)):
        assert f'data-error="{confirm_key}:{field}">{message}<' in refused.text
    admin.cookies.set("cardpulse_lang", "en")
    english = await admin.post(editor, data=fields)
    admin.cookies.delete("cardpulse_lang")
    assert "A timeout keeps at most 1 decimal" in english.text
    assert (await ok(admin.get(f"{T}/{tid}")))["status"] == "unpublished"
    fixed = fields | {"1:role": "设计师", "1:timeout_days": "1.5"}
    del fixed["1:rejectable"]
    published = await admin.post(editor, data=fixed)
    assert published.status_code == 303, published.text
    after = await ok(admin.get(f"{T}/{tid}"))
    assert after["status"] == "published" and after["nodes"][1]["timeout_days"] == "1.5"
    frozen = await admin.get(editor)
    assert frozen.status_code == 200 and 'data-testid="save"' not in frozen.text


@pytest.mark.req("CONSOLE")
async def test_a_forged_editor_form_is_refused_not_a_server_error(world: Market) -> None:
    admin = world.people["acme.admin"]
    template = await draft(world, [])
    editor = f"/console/delivery/templates/{template['template_id']}"
    for form in ({"op": "up:x"}, {"op": "remove:7"}, {"x.y:kind": "confirm", "op": "save"},
                 {"0:kind": "confirm", "op": "unremind:0:9"}):
        answer = await admin.post(editor, data={"name": "n"} | form)
        assert answer.status_code == 422, (form, answer.text)
