"""The delivery workflow's parties and people through the API (specs/business.md §6.1, §6.4,
§7.2 "I delivery"): tenants and links kept by platform operations, users with an 8-character
one-time password shown once, departments, preset business roles, staff loads and statuses,
and who may do what (another tenant: 404, no part in it: 403)."""

from __future__ import annotations

import string
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from core.settings import Settings
from tests.support.console import shown_once
from tests.support.delivery_people import Crowd, crowd, users_create
from tests.support.people import NEW_PASSWORD

pytestmark = [pytest.mark.integration]
LOAD_ZH = "持单量可设置范围为0-50"


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Crowd]:
    """Tenants t1 and t2; t1 with its vendor admin, a vendor PM, a provider admin and a
    staff member; t2 with its vendor admin."""
    async with crowd(settings) as made:
        await made.tenant("t1")
        await made.tenant("t2")
        boss = await made.person("boss", "vendor_admin", "t1")
        await made.person("pm", "vendor_pm", "t1", by=boss)
        await made.person("padmin", "provider_admin", "t1")
        await made.person("design", "provider_staff", "t1", by=boss)
        await made.person("boss", "vendor_admin", "t2")
        yield made


def who(world: Crowd, login: str) -> httpx.AsyncClient:
    return world.people[login]


async def user_id(world: Crowd, login: str) -> str:
    listed = await world.admin.get("/v1/delivery/users")
    return next(str(u["user_id"]) for u in listed.json() if u["login"] == login)


@pytest.mark.req("I-02")
@pytest.mark.req("I-03")
async def test_tenants_and_links_are_kept_by_platform_operations(world: Crowd) -> None:
    operator = await world.admin.post("/v1/users", json={
        "login": "xiao.er", "role": "platform_operator", "enterprise_id": None})
    xiao_er = await world.sign_in("xiao.er", operator.json()["one_time_password"])
    made = await xiao_er.post("/v1/delivery/tenants", json={"tenant_id": "t3", "name": "T3"})
    assert made.status_code == 201 and made.json()["providers"] == []
    again = await xiao_er.post("/v1/delivery/tenants", json={"tenant_id": "t3", "name": "T3"})
    assert again.status_code == 409
    boss = who(world, "boss@t1")
    for method, path in (("POST", "/v1/delivery/tenants"),
                         ("POST", "/v1/delivery/tenants/t1/providers/t2"),
                         ("DELETE", "/v1/delivery/tenants/t1/providers/t2")):
        refused = await boss.request(method, path, json={"tenant_id": "t9", "name": "x"})
        assert refused.status_code == 403, (method, path, refused.text)
    linked = await xiao_er.post("/v1/delivery/tenants/t1/providers/t2")
    assert linked.status_code == 201 and linked.json()["providers"] == ["t2"]
    assert (await xiao_er.post("/v1/delivery/tenants/t1/providers/t2")).status_code == 200
    itself = await xiao_er.post("/v1/delivery/tenants/t1/providers/t1")
    assert itself.status_code == 409 and itself.json()["detail"]["code"] == "self_link"
    assert (await xiao_er.post("/v1/delivery/tenants/t1/providers/nope")).status_code == 404
    mine = await boss.get("/v1/delivery/tenants")
    assert [t["tenant_id"] for t in mine.json()] == ["t1"]
    assert mine.json()[0]["providers"] == ["t2"]
    every = await xiao_er.get("/v1/delivery/tenants")
    assert [t["tenant_id"] for t in every.json()] == ["platform", "t1", "t2", "t3"]
    gone = await xiao_er.delete("/v1/delivery/tenants/t1/providers/t2")
    assert gone.status_code == 204
    assert (await xiao_er.delete("/v1/delivery/tenants/t1/providers/t2")).status_code == 404


@pytest.mark.req("I-04")
@pytest.mark.req("I-06")
@pytest.mark.req("I-07")
async def test_a_new_user_gets_an_8_character_password_shown_once(world: Crowd) -> None:
    boss = who(world, "boss@t1")
    made = await boss.post("/v1/delivery/users", json={
        "login": "li", "role": "vendor_pm", "display_name": "李经理", "mobile": "13800000000",
        "landline": "010-12345678-123", "email": "li@t1.example"})
    assert made.status_code == 201, made.text
    body = made.json()
    password = body["one_time_password"]
    assert len(password) == 8 and set(password) <= set(string.ascii_letters + string.digits)
    assert body["login"] == "li@t1" and body["business_roles"] == ["项目经理"]
    assert body["email"] == "li@t1.example"  # where li's reminders are also emailed
    assert body["message_zh"] == "用户创建成功! 以下是账号信息, 请牢记!"
    assert body["message_en"] == "User created! Here is the account information, keep it safe!"
    listed = await boss.get("/v1/delivery/users")
    assert password not in listed.text and "li@t1" in listed.text
    # the one-time password opens a session that can only change it
    own = world.client()
    signed = await own.post("/v1/session", json={"login": "li@t1", "password": password})
    assert signed.status_code == 200 and signed.json()["must_change_password"] is True
    assert (await own.get("/v1/delivery/me")).status_code == 403
    await own.aclose()
    for wrong, field in (({"login": "li@t2"}, "login"), ({"landline": "12345678"}, "landline"),
                         ({"mobile": "12"}, "mobile"), ({"email": "li@t1"}, "email")):
        refused = await boss.post("/v1/delivery/users", json={
            "login": "zhao", "role": "vendor_pm", "display_name": "赵", **wrong})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == field
    no_name = await boss.post("/v1/delivery/users", json={"login": "zhao", "role": "vendor_pm"})
    assert no_name.status_code == 422
    assert (await boss.post("/v1/delivery/users", json={
        "login": "li", "role": "vendor_pm", "display_name": "李"})).status_code == 409
    # an administrator resets a forgotten password: a new one-time password, the old one dead
    reset = await boss.post(f"/v1/delivery/users/{body['user_id']}/password-reset")
    assert reset.status_code == 200 and len(reset.json()["one_time_password"]) == 8
    assert (await world.client().post("/v1/session", json={
        "login": "li@t1", "password": password})).status_code == 401
    again = await world.sign_in("li@t1", reset.json()["one_time_password"])
    assert (await again.get("/v1/delivery/me")).json()["must_change_password"] is False
    other = await who(world, "boss@t2").post(f"/v1/delivery/users/{body['user_id']}/password-reset")
    assert other.status_code == 404
    pm = await who(world, "pm@t1").post(f"/v1/delivery/users/{body['user_id']}/password-reset")
    assert pm.status_code == 403
    relog = await world.client().post("/v1/session", json={"login": "li@t1",
                                                           "password": NEW_PASSWORD})
    assert relog.status_code == 200


@pytest.mark.req("I-04")
@pytest.mark.req("X-01")
async def test_who_creates_which_role(world: Crowd) -> None:
    cases = (("boss@t1", "provider_admin", 403), ("boss@t1", "vendor_admin", 403),
             ("pm@t1", "vendor_pm", 403), ("padmin@t1", "vendor_pm", 403),
             ("design@t1", "provider_staff", 403), ("padmin@t1", "provider_staff", 201),
             ("boss@t1", "provider_staff", 201))
    for n, (login, role, code) in enumerate(cases):
        answer = await who(world, login).post("/v1/delivery/users", json={
            "login": f"n{n}", "role": role, "display_name": "x", "business_roles": ["工程师"]})
        assert answer.status_code == code, (login, role, answer.text)
    other = await who(world, "boss@t2").post("/v1/delivery/users", json={
        "login": "n9", "role": "vendor_pm", "display_name": "x", "tenant_id": "t1"})
    assert other.status_code == 404
    platform = await world.admin.post("/v1/delivery/users", json={
        "login": "boss", "role": "vendor_admin", "display_name": "x"})
    assert platform.status_code == 422  # the platform names the tenant


@pytest.mark.req("I-05")
@pytest.mark.req("I-08")
@pytest.mark.req("I-09")
async def test_departments_form_a_tree_and_staff_carry_preset_roles(world: Crowd) -> None:
    padmin = who(world, "padmin@t1")
    top = await padmin.post("/v1/delivery/departments", json={"name": "交付部"})
    assert top.status_code == 201 and top.json()["depth"] == 0
    child = await padmin.post("/v1/delivery/departments", json={
        "name": "北京组", "parent_id": top.json()["department_id"]})
    assert child.status_code == 201 and child.json()["depth"] == 1
    second = await padmin.post("/v1/delivery/departments", json={"name": "A 部"})
    assert (await padmin.post("/v1/delivery/departments",
                              json={"name": "交付部"})).status_code == 409
    elsewhere = await who(world, "boss@t2").post("/v1/delivery/departments", json={
        "name": "x", "parent_id": top.json()["department_id"]})
    assert elsewhere.status_code == 404
    base = {"role": "provider_staff", "display_name": "王"}
    made = await padmin.post("/v1/delivery/users", json={
        **base, "login": "wang", "department_id": child.json()["department_id"],
        "business_roles": ["设计师", "客户经理"]})
    assert made.status_code == 201, made.text
    assert made.json()["business_roles"] == ["设计师", "客户经理"]
    assert made.json()["department_name"] == "北京组"
    tree = await padmin.get("/v1/delivery/departments")
    assert [(d["name"], d["depth"], d["account_managers"]) for d in tree.json()] == [
        ("A 部", 0, 0), ("交付部", 0, 0), ("北京组", 1, 1)]
    assert second.status_code == 201
    for roles in ([], ["厨师"], ["项目经理"], ["服务商管理员"]):
        refused = await padmin.post("/v1/delivery/users", json={
            **base, "login": "zhou", "business_roles": roles})
        assert refused.status_code == 422, roles
        assert refused.json()["detail"][0]["code"] == "business_roles_invalid"
    t2_department = await who(world, "boss@t2").post("/v1/delivery/departments",
                                                     json={"name": "外部"})
    foreign = await padmin.post("/v1/delivery/users", json={
        **base, "login": "zhou", "business_roles": ["设计师"],
        "department_id": t2_department.json()["department_id"]})
    assert foreign.status_code == 404
    assert (await who(world, "design@t1").post("/v1/delivery/departments",
                                               json={"name": "x"})).status_code == 403
    assert (await who(world, "design@t1").get("/v1/delivery/departments")).status_code == 403


async def _hold(settings: Settings, staff: str) -> None:
    """A project of t1 in progress held by `staff` (its current load: 1)."""
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO dl_templates (template_id, vendor_id, name, nodes) "
            "VALUES ('tp1', 't1', 'tp', '[]');"
            "INSERT INTO dl_products (product_id, product_no, vendor_id, name, template_id) "
            "VALUES ('pr1', 'P1', 't1', 'p', 'tp1');"
            "INSERT INTO dl_projects (project_id, order_no, product_id, template_id, nodes, "
            "vendor_id, provider_id, customer_name) "
            "VALUES ('pj1', 'O1', 'pr1', 'tp1', '[]', 't1', 't1', 'c')")
        await conn.execute("INSERT INTO dl_holds (project_id, epoch, user_id, role, node_key) "
                           "VALUES ('pj1', 1, %s, '设计师', 'n2')", (staff,))


@pytest.mark.req("I-30")
@pytest.mark.req("SM-I-STAFF")
async def test_staff_loads_and_order_taking_status(world: Crowd, settings: Settings) -> None:
    padmin, design = who(world, "padmin@t1"), who(world, "design@t1")
    staff, admin_id = await user_id(world, "design@t1"), await user_id(world, "padmin@t1")
    await _hold(settings, staff)
    batch = await padmin.put("/v1/delivery/staff/loads", json=[
        {"user_id": staff, "max_load": 50, "accepting": False},
        {"user_id": admin_id, "max_load": 0}])
    assert batch.status_code == 200, batch.text
    shown = {p["login"]: p for p in batch.json()}
    assert set(shown) == {"boss@t1", "padmin@t1", "design@t1"}  # not the vendor PM
    assert (shown["design@t1"]["max_load"], shown["design@t1"]["accepting"],
            shown["design@t1"]["current_load"]) == (50, False, 1)
    assert shown["padmin@t1"]["max_load"] == 0 and shown["padmin@t1"]["accepting"] is True
    for bad in (-1, 51, 1.5):
        refused = await padmin.put("/v1/delivery/staff/loads", json=[
            {"user_id": admin_id, "max_load": 3}, {"user_id": staff, "max_load": bad}])
        assert refused.status_code == 422, bad
        detail = refused.json()["detail"][0]
        assert detail["message_zh"] == LOAD_ZH and detail["loc"] == ["body", "1", "max_load"]
    text = await padmin.put("/v1/delivery/staff/loads", json=[{"user_id": staff,
                                                                "max_load": "5"}])
    assert text.status_code == 422
    unchanged = await padmin.get("/v1/delivery/staff")
    assert {p["login"]: p["max_load"] for p in unchanged.json()}["padmin@t1"] == 0
    # the staff member reopens its own order-taking; the PM takes no orders
    mine = await design.put("/v1/delivery/me/accepting", json={"accepting": True})
    assert mine.status_code == 200 and mine.json()["accepting"] is True
    assert (await who(world, "pm@t1").put("/v1/delivery/me/accepting",
                                          json={"accepting": False})).status_code == 403
    # the vendor admin is its tenant's provider admin too (I-02): its own load
    boss = await who(world, "boss@t1").put("/v1/delivery/staff/loads", json=[
        {"user_id": await user_id(world, "boss@t1"), "max_load": 5}])
    assert boss.status_code == 200
    pm_id = await user_id(world, "pm@t1")
    assert (await padmin.put("/v1/delivery/staff/loads", json=[
        {"user_id": pm_id, "max_load": 5}])).status_code == 404


# §7.2 "I delivery" rows users, departments, staff max load / status, for t1's people, t2's
# vendor admin (another tenant) and platform ops (reads only).
MATRIX: tuple[tuple[str, str, Any, dict[str, int]], ...] = (
    # (method, path, body, {login: expected})
    ("GET", "/v1/delivery/users?tenant_id=t1", None,
     {"boss@t1": 200, "pm@t1": 403, "padmin@t1": 200, "design@t1": 403, "boss@t2": 404,
      "ops": 200}),
    ("POST", "/v1/delivery/departments?", {"name": "D", "tenant_id": "t1"},
     {"pm@t1": 403, "design@t1": 403, "boss@t2": 404, "ops": 403, "padmin@t1": 201}),
    ("GET", "/v1/delivery/staff?tenant_id=t1", None,
     {"boss@t1": 200, "pm@t1": 403, "padmin@t1": 200, "design@t1": 403, "boss@t2": 404,
      "ops": 200}),
    ("PUT", "/v1/delivery/staff/loads?tenant_id=t1", [],
     {"boss@t1": 200, "pm@t1": 403, "padmin@t1": 200, "design@t1": 403, "boss@t2": 404,
      "ops": 403}),
    ("POST", "/v1/delivery/users", {"login": "m", "role": "provider_staff", "tenant_id": "t1",
                                    "display_name": "m", "business_roles": ["设计师"]},
     {"pm@t1": 403, "design@t1": 403, "boss@t2": 404, "ops": 403}),
)


@pytest.mark.req("X-02")
@pytest.mark.req("X-03")
async def test_permission_matrix_of_people(world: Crowd) -> None:
    made = await world.admin.post("/v1/users", json={
        "login": "ops.li", "role": "platform_ops", "enterprise_id": None})
    world.people["ops"] = await world.sign_in("ops.li", made.json()["one_time_password"])
    wrong = {}
    for method, path, body, expected in MATRIX:
        for login, code in expected.items():
            answer = await who(world, login).request(method, path, json=body)
            if answer.status_code != code:
                wrong[(method, path, login)] = (answer.status_code, answer.text[:200])
    assert wrong == {}


@pytest.mark.req("I-07")
@pytest.mark.req("I-30")
@pytest.mark.req("X-02")
async def test_the_console_pages_of_people(world: Crowd) -> None:
    """User management shows the new password once (with its copy button), 持单量设置 saves
    every row at once, 个人信息 switches one's own order taking; menus follow the role."""
    boss, design = who(world, "boss@t1"), who(world, "design@t1")
    boss.cookies.set("cardpulse_lang", "en")
    csrf = boss.headers["X-CSRF-Token"]
    page = await boss.post("/console/delivery/users", data={
        "csrf_token": csrf, "login": "qian", "role": "provider_staff", "display_name": "钱",
        "business_roles": ["工程师", "客户经理"]})
    assert page.status_code == 201, page.text[:500]
    password = shown_once(page)
    assert len(password) == 8 and "User created! Here is the account information" in page.text
    assert "Copy the login and password" in page.text and "qian@t1" in page.text
    listed = await boss.get("/console/delivery/users")
    assert password not in listed.text and "工程师、客户经理" in listed.text
    assert ">User management<" in listed.text and ">Max load settings<" in listed.text
    refused = await boss.post("/console/delivery/users", data={
        "csrf_token": csrf, "login": "sun", "role": "provider_staff", "display_name": "孙",
        "business_roles": ["厨师"]})
    assert refused.status_code == 422 and "Choose preset provider roles" in refused.text
    staff = await user_id(world, "design@t1")
    rows = {"csrf_token": csrf, "user_id": [staff], f"max_load_{staff}": "51",
            f"accepting_{staff}": "0"}
    too_many = await boss.post("/console/delivery/loads", data=rows)
    assert too_many.status_code == 422 and "Max load ranges 0-50" in too_many.text
    saved = await boss.post("/console/delivery/loads", data={**rows, f"max_load_{staff}": "7"})
    assert saved.status_code == 200
    mine = (await design.get("/v1/delivery/me")).json()
    assert (mine["max_load"], mine["accepting"]) == (7, False)
    own = await design.get("/console/delivery/me")
    assert own.status_code == 200 and "个人信息" in own.text and "用户管理" not in own.text
    opened = await design.post("/console/delivery/me/accepting", data={
        "csrf_token": design.headers["X-CSRF-Token"], "accepting": "1"})
    assert opened.status_code == 200 and 'data-testid="accepting">正常<' in opened.text
    home = await design.get("/console")
    assert home.headers["location"] == "/console/delivery/mine", "staff start on my projects"


@pytest.mark.req("I-07")
async def test_the_first_vendor_admin_made_from_the_shell(settings: Settings) -> None:
    async with crowd(settings) as made:
        await made.tenant("t5")
        done = users_create(settings, "--login", "boss", "--role", "vendor_admin",
                            "--dl-tenant", "t5", "--name", "老板")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "boss@t5" in done.stdout
        password = done.stdout.strip().splitlines()[-1].split()[-1]
        assert len(password) == 8
        boss = await made.sign_in("boss@t5", password)
        assert (await boss.get("/v1/delivery/me")).json()["display_name"] == "老板"
    missing = users_create(settings, "--login", "x", "--role", "vendor_admin")
    assert missing.returncode == 2 and "--dl-tenant" in missing.stdout
