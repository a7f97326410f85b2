"""The console's authorisation matrix: every page of every console router, for every role,
on the viewer's own tenant and on another — and every change, forged by each role that may not
make it. A page added without a place in this matrix fails the first test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.app import create_app
from api.console.pages import ROUTERS
from core.clock import now
from core.money import Fen
from core.settings import Settings
from domain.imports.kinds import SettlementHeader, SettlementLine
from domain.ledger import PAYMENT_CHANNEL, FeeType, Transfer, card_wallet
from domain.refusals import Refusal
from store import commissions, imports, ledger, settlements
from store.agents import Actor
from store.commissions import NewRecord
from store.imports import NewTask
from tests.support.api import ADMIN
from tests.support.delivery_views import seed as seed_delivery
from tests.support.delivery_views import signed_in as delivery_person
from tests.support.people import log_in, person

pytestmark = [pytest.mark.integration, pytest.mark.req("CONSOLE")]
OWN, OTHER = "89860000000000001111", "89860000000000002222"
World = tuple[dict[str, "Person"], tuple[str, str]]  # people by role, an API key id per tenant
ORDERS: list[str] = ["", ""]  # an order through A (by A's end user) and one through B
RECORDS: list[str] = ["", ""]  # a commission line of A and one of B
# A template and a product of vendor acme and of beta (test_the_delivery_pages makes them).
TEMPLATES: list[str] = ["tpl_none", "tpl_none"]
PRODUCTS: list[str] = ["prd_none", "prd_none"]
FILES: list[str] = ["", ""]  # an attachment of a delivery project of `vend` and one of `rival`
RECHARGE = '{"recharge": {"mode": "first", "threshold_fen": 5000}}'  # a one-time rule's terms
ROLES = ("admin", "ops", "ent_admin", "viewer", "anonymous")
# What each path parameter stands for on the viewer's own tenant and on the other one.
OBJECTS = {"enterprise_id": ("acme", "rival"), "pool_id": ("acme-pool", "rival-pool"),
           "iccid": (OWN, OTHER), "key_id": ("KEY", "KEY"), "operator": ("ctcc", "ctcc"),
           # the money pages: agent A (and an order its end user bought through it) and B
           "agent_id": ("A", "B"), "order_id": ("ORDER", "ORDER"),
           "package_id": ("p90", "p90"),  # the platform's money pages: its packages
           "request_id": ("RQ", "RQ"),  # a refund request (the empty form is refused first)
           "record_id": ("RECORD", "RECORD"),  # a commission line of A and one of B: RECORDS
           "kind": ("real_name", "real_name"),  # an import's kind
           "task_id": ("IMPmatrix", "IMPmatrix"),  # an import task (refused as a whole)
           "rule_id": ("rA", "rA"),  # a commission rule (of A)
           "batch_id": ("stl-F1-2026-03", "stl-F1-2026-03"),  # a number-card settlement batch
           "notification_id": ("999999", "999999"),  # a reminder of nobody's (an inbox)
           "user_id": ("USER", "USER"),  # a delivery user of tenant t1 and one of t2: USERS
           # the delivery pages: a template and a product of vendor acme and of vendor beta
           "template_id": ("TEMPLATE", "TEMPLATE"), "product_id": ("PRODUCT", "PRODUCT"),
           # delivery (tests/support/delivery_views.py): a project of `vend`, one of `rival`
           "project_id": ("P-RUN", "P-RIVAL"), "file_id": ("FILE", "FILE")}
MONEY = ("/console/a/", "/console/me/")  # pages of an agent's people and of end users
# The delivery pages read like the platform's pages for these roles (§7.2: platform staff
# read) unless DELIVERY_OTHERS says otherwise; the delivery roles' own answers:
# DELIVERY_PAGES (test_the_delivery_pages), tests/integration/test_delivery_dashboard.py —
# except the project centre's pages, checked for every role by test_the_project_centre_pages
# (DELIVERY_EXPECTED), and the catalogue's (CATALOGUE).
DELIVERY = "/console/delivery/"
PLATFORM_LIKE = ("/console/ops/", DELIVERY)
USERS: list[str] = ["", ""]  # a provider staff member of t1 and one of t2
# The templates and the product centre, whose pages show a vendor's objects: checked with the
# delivery roles and real objects by test_the_delivery_catalogue_pages.
CATALOGUE = ("/console/delivery/templates", "/console/delivery/products")
FORMATS = ("csv", "xlsx")  # `{fmt}` of an export: both are checked
SESSION_PATHS = {"/console", "/console/login", "/console/logout", "/console/password",
                 "/console/lang/{lang}"}
SIGN_IN = 303  # no session: to the login form
# Expected answers per role (admin, ops, ent_admin, viewer, anonymous).
READ_OWN = (200, 200, 200, 200, SIGN_IN)
READ_OTHER = (200, 200, 404, 404, SIGN_IN)
READ_OPS = (200, 200, 404, 404, SIGN_IN)
# Viewers may not read the enterprise's API keys (as GET /v1/enterprises/{id}/api-keys); their
# keys page says so instead of listing them.
EXCEPTIONS = {"/console/e/acme/keys.csv": (200, 200, 200, 403, SIGN_IN),
              "/console/e/acme/keys.xlsx": (200, 200, 200, 403, SIGN_IN),
              # every person has an inbox (empty unless the delivery workflow reminds them)
              "/console/delivery/inbox": (200, 200, 200, 200, SIGN_IN),
              "/console/delivery/inbox/unread": (200, 200, 200, 200, SIGN_IN)}
# A change with an empty form: the guard answers before the form is read (422 = allowed).
CHANGE_OWN = (422, 403, 422, 403, SIGN_IN)
CHANGE_OTHER = (422, 403, 404, 404, SIGN_IN)
CHANGE_OPS = (422, 403, 404, 404, SIGN_IN)
# Only platform finance decides commission unfreezes (§7.2 "H commission"): the admin too is
# refused before the form is read.
CHANGE_EXCEPTIONS = {"/console/ops/money/commission-approvals/decide":
                     (403, 403, 404, 404, SIGN_IN),
                     # someone else's reminder (here: nobody's) is not found for anyone
                     "/console/delivery/inbox/999999/read": (404, 404, 404, 404, SIGN_IN),
                     # everyone's own address for reminder emails: empty clears it
                     "/console/delivery/inbox/email": (200, 200, 200, 200, SIGN_IN)}
# Platform and enterprise people have no money page of an agent or end user (checked fully
# with the agent's roles by test_the_money_pages_of_agents_and_end_users).
NONE_OF_THEIRS = (404, 404, 404, 404, SIGN_IN)


@dataclass
class Person:
    client: httpx.AsyncClient
    csrf: str


def console_routes() -> list[tuple[str, str]]:
    """(method, path) of every console page but signing in and out."""
    return sorted((method, route.path) for router in ROUTERS for route in router.routes
                  if isinstance(route, APIRoute) and route.path not in SESSION_PATHS
                  for method in (route.methods or set()) - {"HEAD"})


def fill(path: str, side: int, key_id: tuple[str, str]) -> list[str]:
    """The path for the own (0) or the other (1) tenant, once per export format."""
    return [_fill(path.replace("{fmt}", fmt), side, key_id)
            for fmt in (FORMATS if "{fmt}" in path else ("",))]


def _fill(path: str, side: int, key_id: tuple[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in OBJECTS, f"{path}: add {name!r} to OBJECTS and to the matrix"
        found = OBJECTS[name][side]
        if found == "ORDER":
            return ORDERS[side]
        if found == "RECORD":
            return RECORDS[side]
        if found == "USER":
            return USERS[side]
        if found in ("TEMPLATE", "PRODUCT"):
            return (TEMPLATES if found == "TEMPLATE" else PRODUCTS)[side]
        if found == "FILE":
            return FILES[side]
        return key_id[side] if found == "KEY" else found
    return re.sub(r"\{(\w+)\}", value, path)


async def _world(app: FastAPI, client: httpx.AsyncClient) -> World:
    for ent, iccid in (("acme", OWN), ("rival", OTHER)):
        for path, body in (("/v1/enterprises", {"enterprise_id": ent, "name": ent}),
                           ("/v1/pools", {"pool_id": f"{ent}-pool", "enterprise_id": ent,
                                          "limit_bytes": 1000}),
                           ("/v1/cards", {"iccid": iccid, "enterprise_id": ent,
                                          "operator": "onelink", "pool_id": f"{ent}-pool"})):
            made = await client.post(path, json=body, headers=ADMIN)
            assert made.status_code == 201, made.text
    keys = [await client.post(f"/v1/enterprises/{ent}/api-keys",
                              json={"role": "enterprise_viewer"}, headers=ADMIN)
            for ent in ("acme", "rival")]
    people: dict[str, Person] = {}
    for role, login, tenant in (("admin", "root.admin", None), ("platform_ops", "ops.li", None),
                                ("enterprise_admin", "ent.admin", "acme"),
                                ("enterprise_viewer", "ent.viewer", "acme")):
        own = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
        csrf = (await person(own, login, role, tenant))["X-CSRF-Token"]
        people[{"admin": "admin", "platform_ops": "ops", "enterprise_admin": "ent_admin",
                "enterprise_viewer": "viewer"}[role]] = Person(own, csrf)
    people["anonymous"] = Person(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api"), "")
    await _money_world(app, client, people)
    await _delivery_world(app, client, people)
    await _project_world(app, people)
    return people, (keys[0].json()["key_id"], keys[1].json()["key_id"])


async def _delivery_person(app: FastAPI, client: httpx.AsyncClient, login: str, role: str,
                           tenant: str) -> Person:
    made = await client.post("/v1/delivery/users", headers=ADMIN, json={
        "login": login, "role": role, "tenant_id": tenant, "display_name": login,
        "business_roles": ["设计师"]})
    assert made.status_code == 201, made.text
    own = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    csrf = (await log_in(own, made.json()["login"],
                         made.json()["one_time_password"]))["X-CSRF-Token"]
    return Person(own, csrf)


async def _delivery_world(app: FastAPI, client: httpx.AsyncClient,
                          people: dict[str, Person]) -> None:
    """Delivery tenants t1 (its vendor admin, PM, provider admin and a staff member) and t2
    (its vendor admin); a staff member of each, never signed in, whose password is reset:
    USERS."""
    for tenant in ("t1", "t2"):
        made = await client.post("/v1/delivery/tenants", headers=ADMIN,
                                 json={"tenant_id": tenant, "name": tenant})
        assert made.status_code == 201, made.text
    for key, login, role, tenant in (("dv_admin", "boss", "vendor_admin", "t1"),
                                     ("dv_pm", "pm", "vendor_pm", "t1"),
                                     ("pv_admin", "padmin", "provider_admin", "t1"),
                                     ("pv_staff", "staff", "provider_staff", "t1"),
                                     ("other_dv_admin", "boss", "vendor_admin", "t2")):
        people[key] = await _delivery_person(app, client, login, role, tenant)
    for side, tenant in enumerate(("t1", "t2")):
        made = await client.post("/v1/delivery/users", headers=ADMIN, json={
            "login": "target", "role": "provider_staff", "tenant_id": tenant,
            "display_name": "target", "business_roles": ["设计师"]})
        assert made.status_code == 201, made.text
        USERS[side] = made.json()["user_id"]


async def _signed_in(app: FastAPI, client: httpx.AsyncClient, login: str, role: str,
                     agent_id: str) -> Person:
    made = await client.post("/v1/users", headers=ADMIN, json={
        "login": login, "role": role, "agent_id": agent_id, "enterprise_id": None})
    assert made.status_code == 201, made.text
    own = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    csrf = (await log_in(own, login, made.json()["one_time_password"]))["X-CSRF-Token"]
    return Person(own, csrf)


async def _money_world(app: FastAPI, client: httpx.AsyncClient,
                       people: dict[str, Person]) -> None:
    """Agents A and B selling p90 at 90.00; an end user of each buys it from its card's
    wallet (credited through the ledger), so each agent has an order: ORDERS."""
    for path, body in (("/v1/agents", {"agent_id": "A", "name": "A"}),
                       ("/v1/agents", {"agent_id": "B", "name": "B"}),
                       ("/v1/packages", {"package_id": "p90", "name": "p90",
                                         "business_line": "traffic_card",
                                         "purchase_price_fen": 5000,
                                         "package_bytes": 1 << 30})):
        made = await client.post(path, json=body, headers=ADMIN)
        assert made.status_code == 201, made.text
    found = []
    for agent_id, iccid, prefix in (("A", OWN, ""), ("B", OTHER, "other_")):
        cost = await client.post("/v1/prices", headers=ADMIN, json={
            "kind": "cost", "package_id": "p90", "agent_id": agent_id, "amount_fen": 6000})
        assert cost.status_code == 201, cost.text
        admin = await _signed_in(app, client, f"{agent_id.lower()}.admin", "agent_admin",
                                 agent_id)
        retail = await admin.client.post("/v1/prices", headers={"X-CSRF-Token": admin.csrf},
                                         json={"kind": "retail", "package_id": "p90",
                                               "amount_fen": 9000})
        assert retail.status_code == 201, retail.text
        async with await psycopg.AsyncConnection.connect(
                app.state.resources.settings.require_database(), autocommit=True) as conn:
            await ledger.transfer(conn, Transfer(f"seed-{iccid}", PAYMENT_CHANNEL,
                                                 card_wallet(iccid), Fen(9000),
                                                 FeeType.RECHARGE))
        user = await _signed_in(app, client, f"{agent_id.lower()}.user", "end_user", agent_id)
        order = await user.client.post("/v1/orders", headers={"X-CSRF-Token": user.csrf},
                                       json={"package_id": "p90", "iccid": iccid,
                                             "method": "wallet"})
        assert order.status_code == 201, order.text
        found.append(order.json()["order_id"])
        people[f"{prefix}ag_admin"] = admin
        people[f"{prefix}end_user"] = user
        if agent_id == "A":
            people["ag_viewer"] = await _signed_in(app, client, "a.viewer", "agent_viewer",
                                                   "A")
    ORDERS[:] = found
    RECORDS[:] = await _commission_lines(app.state.resources.settings)


async def _commission_lines(settings: Settings) -> list[str]:
    """A frozen commission line of A and one of B, produced through the lifecycle."""
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as conn:
        lines = []
        for owner in ("A", "B"):
            await conn.execute(
                "INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids,"
                " amount_mode, amount_value, freeze_days, requires_approval, terms,"
                " effective_from, status, created_by) VALUES (%s, 1, %s, 'one_time', '{p90}',"
                " 'fixed', 300, 7, true, %s,"
                " cp_now(), 'active', 'admin')",
                (f"r{owner}", owner, RECHARGE))
            lines += await commissions.produce(conn, [NewRecord(
                idem_key=f"one_time:r{owner}:{owner}", part="one_time", rule_kind="one_time",
                rule_id=f"r{owner}", rule_version=1, agent_id=owner, amount_fen=300,
                state="frozen", freeze_days=7, requires_approval=True, explanation={},
                at=now(), timed=True)], settings.orders_topic)
        await imports.reject(conn, NewTask("IMPmatrix", "real_name", "platform", "f.xlsx",
                                           "0" * 64, Actor("user:root.admin", "admin")),
                             Refusal(code="empty_file"))
        made = await settlements.import_batch(
            conn, SettlementHeader("F1", "2026-03", Fen(1000)), [SettlementLine(2, OWN, Fen(1000))],
            actor=Actor("user:root.admin", "admin"), at=now(), topic=settings.orders_topic)
        assert made.batch_id == OBJECTS["batch_id"][0], made.batch_id
        return [line.record_id for line in lines]


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://api") as client:
            people, key_id = await _world(app, client)
            yield people, key_id
            for each in people.values():
                await each.client.aclose()


def test_every_console_page_has_a_place_in_the_matrix() -> None:
    routes = console_routes()
    assert len(routes) > 20
    for method, path in routes:
        assert method in ("GET", "POST"), (method, path)
        assert path.startswith(("/console/e/{enterprise_id}", "/console/ops/",
                                "/console/a/{agent_id}/", "/console/me/", DELIVERY)), path
        fill(path, 0, ("k", "k"))


async def _answers(people: dict[str, Person], method: str, path: str, *, csrf: bool = True,
                   roles: tuple[str, ...] = ROLES) -> tuple[int, ...]:
    got = []
    for role in roles:
        who = people[role]
        headers = {"X-CSRF-Token": who.csrf} if csrf and who.csrf else {}
        answer = await who.client.request(method, path, headers=headers, data={})
        got.append(answer.status_code)
        if role == "anonymous":
            assert answer.headers["location"].startswith("/console/login"), path
    return tuple(got)


async def test_who_sees_which_page(world: World) -> None:
    people, key_id = world
    wrong = {}
    for method, path in console_routes():
        if (method != "GET" or path.startswith(CATALOGUE)
                or (method, path) in DELIVERY_EXPECTED):
            continue
        cases = ([(url, READ_OPS) for url in fill(path, 0, key_id)]
                 if path.startswith(PLATFORM_LIKE) and ("GET", path) not in DELIVERY_OTHERS else
                 [(url, DELIVERY_OTHERS[("GET", path)])
                  for side in (0, 1) for url in fill(path, side, key_id)]
                 if path.startswith(DELIVERY) else
                 [(url, NONE_OF_THEIRS) for side in (0, 1) for url in fill(path, side, key_id)]
                 if path.startswith(MONEY) else
                 [(url, READ_OWN) for url in fill(path, 0, key_id)]
                 + [(url, READ_OTHER) for url in fill(path, 1, key_id)])
        for url, expected in cases:
            expected = EXCEPTIONS.get(url, expected)
            got = await _answers(people, "GET", url)
            if got != expected:
                wrong[url] = dict(zip(ROLES, got, strict=True))
    assert wrong == {}


async def test_who_may_change_what(world: World) -> None:
    people, key_id = world
    wrong = {}
    for method, path in console_routes():
        if (method != "POST" or path.startswith(CATALOGUE)
                or (method, path) in DELIVERY_EXPECTED):
            continue
        cases = ([(url, CHANGE_OPS) for url in fill(path, 0, key_id)]
                 if path.startswith(PLATFORM_LIKE) and ("POST", path) not in DELIVERY_OTHERS
                 else
                 [(url, DELIVERY_OTHERS[("POST", path)])
                  for side in (0, 1) for url in fill(path, side, key_id)]
                 if path.startswith(DELIVERY) else
                 [(url, NONE_OF_THEIRS) for side in (0, 1) for url in fill(path, side, key_id)]
                 if path.startswith(MONEY) else
                 [(url, CHANGE_OWN) for url in fill(path, 0, key_id)]
                 + [(url, CHANGE_OTHER) for url in fill(path, 1, key_id)])
        for url, expected in cases:
            expected = CHANGE_EXCEPTIONS.get(url, expected)
            got = await _answers(people, "POST", url)
            if got != expected and not _allowed_changed(got, expected):
                wrong[url] = dict(zip(ROLES, got, strict=True))
    assert wrong == {}


def _allowed_changed(got: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """A change that needs no form fields (stop, replay all…) may succeed (200/303) where an
    empty form is refused (422): only the allowed roles."""
    return all(g == e or (e == 422 and g in (200, 303)) for g, e in zip(got, expected,
                                                                        strict=True))


async def test_a_change_without_the_csrf_token_is_refused_for_everyone(
        world: World) -> None:
    people, key_id = world
    for method, path in console_routes():
        if method == "POST":
            for url in fill(path, 0, key_id):
                got = await _answers(people, "POST", url, csrf=False)
                assert got == (403, 403, 403, 403, SIGN_IN), (url, got)


# The money pages for an agent's people and end users (and the other agent's admin):
# (ag_admin, ag_viewer, end_user, other_ag_admin, other_end_user, anonymous).
MONEY_ROLES = ("ag_admin", "ag_viewer", "end_user", "other_ag_admin", "other_end_user",
               "anonymous")
AGENT_READ = ((200, 200, 404, 404, 404, SIGN_IN), (404, 404, 404, 200, 404, SIGN_IN))
AGENT_CHANGE = ((422, 403, 404, 404, 404, SIGN_IN), (404, 404, 404, 422, 404, SIGN_IN))
USER_PAGE = (404, 404, 200, 404, 200, SIGN_IN)  # an end user's own pages, any end user
USER_ORDER = ((404, 404, 200, 404, 404, SIGN_IN), (404, 404, 404, 404, 200, SIGN_IN))
USER_CHANGE = (404, 404, 422, 404, 422, SIGN_IN)


async def test_the_money_pages_of_agents_and_end_users(world: World) -> None:
    """Agent A's pages for A's admin and viewer (B's: not found), changes by its admin only;
    an end user's pages for end users, its order's page for its buyer only."""
    people, key_id = world
    wrong = {}
    for method, path in console_routes():
        if not path.startswith(MONEY):
            continue
        for side in (0, 1):
            if path.startswith("/console/a/"):
                expected = (AGENT_CHANGE if method == "POST" else AGENT_READ)[side]
            elif method == "POST":
                expected = USER_CHANGE
            else:
                expected = USER_ORDER[side] if "{order_id}" in path else USER_PAGE
            for url in fill(path, side, key_id):
                got = await _answers(people, method, url, roles=MONEY_ROLES)
                if got != expected and not _allowed_changed(got, expected):
                    wrong[url] = dict(zip(MONEY_ROLES, got, strict=True))
    assert wrong == {}


async def test_an_object_under_the_wrong_enterprise_is_not_found_even_for_the_admin(
        world: World) -> None:
    people, _ = world
    for url in ("/console/e/acme/pools/rival-pool", f"/console/e/acme/cards/{OTHER}"):
        answer = await people["admin"].client.get(url)
        assert answer.status_code == 404, url


# The delivery pages (§6 I, §7.2 "I delivery", X-02) for platform and enterprise people and
# the delivery roles of tenant `vend` (whose project is P-RUN) and `rival` (P-RIVAL).
CENTRE_ROLES = ("admin", "ops", "ent_admin", "vend.admin", "vend.pm", "prov.admin",
                "designer", "buyer", "rival.admin", "anonymous")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def _project_world(app: FastAPI, people: dict[str, Person]) -> None:
    """tests/support/delivery_views.py's projects and people; an attachment on each side."""
    url = app.state.resources.settings.require_database()
    await seed_delivery(url)
    for login in ("vend.admin", "vend.pm", "prov.admin", "designer", "buyer", "rival.admin"):
        found = await delivery_person(app, url, login)
        people[login] = Person(found.client, found.csrf)
    for side, (login, project) in enumerate((("designer", "P-RUN"),
                                             ("rival.admin", "P-RIVAL"))):
        who = people[login]
        made = await who.client.post(f"/v1/delivery/projects/{project}/files",
                                     headers={"X-CSRF-Token": who.csrf},
                                     files={"file": ("a.png", PNG, "image/png")})
        assert made.status_code == 201, made.text
        FILES[side] = made.json()["file_id"]


def _by_role(**codes: int) -> tuple[int, ...]:
    """Expected answers in CENTRE_ROLES order; unnamed roles answer `rest`."""
    rest = codes.pop("rest")
    return tuple(SIGN_IN if role == "anonymous" else codes.get(role.replace(".", "_"), rest)
                 for role in CENTRE_ROLES)


_OWN = _by_role(rest=200, ent_admin=403, rival_admin=404)
_OTHER = _by_role(rest=404, admin=200, ops=200, ent_admin=403, rival_admin=200)
_WRITE_OTHER = _by_role(rest=404, admin=422, ops=403, ent_admin=403, rival_admin=422)
DELIVERY_EXPECTED: dict[tuple[str, str], tuple[tuple[int, ...], tuple[int, ...]]] = {
    ("GET", "/console/delivery/projects"): (_by_role(rest=200, ent_admin=403),) * 2,
    ("GET", "/console/delivery/projects.{fmt}"): (_by_role(rest=200, ent_admin=403),) * 2,
    ("GET", "/console/delivery/projects/{project_id}"): (_OWN, _OTHER),
    ("GET", "/console/delivery/projects/{project_id}/files/{file_id}"): (_OWN, _OTHER),
    ("GET", "/console/delivery/mine"): (_by_role(
        rest=403, vend_admin=200, prov_admin=200, designer=200, rival_admin=200),) * 2,
    ("GET", "/console/delivery/purchased"): (_by_role(rest=200),) * 2,
    ("GET", "/console/delivery/queue"): (_by_role(rest=200, ent_admin=403, designer=403,
                                                  buyer=403),) * 2,
    ("POST", "/console/delivery/projects/{project_id}/messages"): (_by_role(
        rest=422, ops=403, ent_admin=403, vend_pm=403, rival_admin=404), _WRITE_OTHER),
    ("POST", "/console/delivery/projects/{project_id}/notes"): (_by_role(
        rest=422, ops=403, ent_admin=403, vend_pm=403, buyer=403, rival_admin=404),
        _WRITE_OTHER),
    ("POST", "/console/delivery/projects/{project_id}/files"): (_by_role(
        rest=422, ops=403, ent_admin=403, vend_pm=403, buyer=403, rival_admin=404),
        _WRITE_OTHER),
    ("POST", "/console/delivery/projects/{project_id}/act"): (_by_role(
        rest=422, ops=403, ent_admin=403, vend_pm=403, buyer=403, rival_admin=404),
        _WRITE_OTHER),
    ("GET", "/console/delivery/claim"): (_by_role(
        rest=403, vend_admin=200, prov_admin=200, designer=200, rival_admin=200),) * 2,
    ("POST", "/console/delivery/claim"): (_by_role(
        rest=403, vend_admin=422, prov_admin=422, designer=422, rival_admin=422),) * 2,
    ("POST", "/console/delivery/purchased/buy"): (_by_role(rest=403, buyer=422),) * 2,
    ("POST", "/console/delivery/queue/assign"): (_by_role(
        rest=422, ops=403, ent_admin=403, vend_pm=403, designer=403, buyer=403),) * 2,
}


async def test_the_project_centre_pages(world: World) -> None:
    """Each project centre page for every role, on `vend`'s project and on `rival`'s: a project
    outside the reader's scope is not found, a role without projects is refused, and a change
    is refused before its form is read for who may not make it."""
    people, key_id = world
    wrong = {}
    for method, path in console_routes():
        if (method, path) not in DELIVERY_EXPECTED:
            continue
        for side in (0, 1):
            expected = DELIVERY_EXPECTED[method, path][side]
            for url in fill(path, side, key_id):
                got = await _answers(people, method, url, roles=CENTRE_ROLES)
                if got != expected and not _allowed_changed(got, expected):
                    wrong[f"{method} {url}"] = dict(zip(CENTRE_ROLES, got, strict=True))
    assert wrong == {}


# The delivery system settings and the inbox for the delivery roles (§7.2 "I delivery"): each
# page's answers for (vendor_admin, vendor_pm, provider_admin, provider_staff, customer,
# platform_operator); a change with an empty form (422 = allowed). The dashboard's: in
# tests/integration/test_delivery_dashboard.py.
SETTINGS_ROLES = ("vendor_admin", "vendor_pm", "provider_admin", "provider_staff", "customer",
                  "platform_operator")
SETTINGS_READ = (200, 404, 200, 404, 404, 200)
SETTINGS_CHANGE = (403, 404, 403, 404, 404, 422)
SETTINGS_PAGES = {
    ("GET", "/console/delivery/holidays"): SETTINGS_READ,
    ("POST", "/console/delivery/holidays/day"): SETTINGS_CHANGE,
    ("POST", "/console/delivery/holidays/year"): SETTINGS_CHANGE,
    ("GET", "/console/delivery/message-templates"): SETTINGS_READ,
    ("GET", "/console/delivery/roles"): SETTINGS_READ,
    ("GET", "/console/delivery/inbox"): (200,) * 6,
    ("GET", "/console/delivery/inbox/unread"): (200,) * 6,
    ("POST", "/console/delivery/inbox/{notification_id}/read"): (404,) * 6,
    ("POST", "/console/delivery/inbox/email"): (200,) * 6,
}


@pytest.mark.req("I-61")
async def test_the_delivery_settings_pages(settings: Settings) -> None:
    from tests.support.delivery_time import own_client, signed_in

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                         autocommit=True) as conn:
            people = {role: await signed_in(app, conn, f"d.{role}", role,
                                            None if role in ("customer", "platform_operator")
                                            else "v1")
                      for role in SETTINGS_ROLES}
        routes = set(console_routes())
        assert set(SETTINGS_PAGES) <= routes, "a page of this table is gone"
        wrong = {}
        for (method, path), expected in SETTINGS_PAGES.items():
            url = _fill(path, 0, ("k", "k"))
            got = []
            for role in SETTINGS_ROLES:
                client, csrf = people[role]
                got.append((await client.request(method, url, headers=csrf, data={}))
                           .status_code)
            if tuple(got) != expected and not _allowed_changed(tuple(got), expected):
                wrong[url] = dict(zip(SETTINGS_ROLES, got, strict=True))
        anonymous = own_client(app)
        for method, path in SETTINGS_PAGES:
            answer = await anonymous.request(method, _fill(path, 0, ("k", "k")))
            assert answer.status_code == SIGN_IN, path
        for client, _ in people.values():
            await client.aclose()
        await anonymous.aclose()
    assert wrong == {}


# The delivery workflow's pages (§7.2 "I delivery", X-02) for t1's vendor admin, vendor PM,
# provider admin and staff member, t2's vendor admin, and nobody signed in: per (method, path),
# the answers on t1's object and on t2's (pages without an object: the same twice). A change
# posts an empty form (422 = allowed; 200/303 also for a change that needs no field).
DELIVERY_ROLES = ("dv_admin", "dv_pm", "pv_admin", "pv_staff", "other_dv_admin", "anonymous")
_ADMINS_READ = (200, 403, 200, 403, 200, SIGN_IN)
_ADMINS_CHANGE = (422, 403, 422, 403, 422, SIGN_IN)
DELIVERY_PAGES: dict[tuple[str, str], tuple[tuple[int, ...], tuple[int, ...]]] = {
    ("GET", "/console/delivery/users"): (_ADMINS_READ, _ADMINS_READ),
    ("POST", "/console/delivery/users"): (_ADMINS_CHANGE, _ADMINS_CHANGE),
    ("POST", "/console/delivery/users/{user_id}/password-reset"): (
        (200, 403, 200, 403, 404, SIGN_IN), (404, 404, 404, 404, 200, SIGN_IN)),
    ("POST", "/console/delivery/departments"): (_ADMINS_CHANGE, _ADMINS_CHANGE),
    ("GET", "/console/delivery/loads"): (_ADMINS_READ, _ADMINS_READ),
    ("POST", "/console/delivery/loads"): (_ADMINS_CHANGE, _ADMINS_CHANGE),
    ("GET", "/console/delivery/me"): ((200,) * 5 + (SIGN_IN,),) * 2,
    ("POST", "/console/delivery/me/accepting"): ((422, 403, 422, 422, 422, SIGN_IN),) * 2,
}
# Platform and enterprise people on a delivery page that is not platform-like (admin, ops,
# ent_admin, viewer, anonymous): the pages of a tenant's own people are nobody else's.
DELIVERY_OTHERS: dict[tuple[str, str], tuple[int, ...]] = dict.fromkeys(DELIVERY_PAGES,
                                                                       NONE_OF_THEIRS)


async def test_the_delivery_pages(world: World) -> None:
    people, key_id = world
    routes = console_routes()
    wrong = {}
    for (method, path), answers in DELIVERY_PAGES.items():
        assert (method, path) in routes, (method, path)
        for side in (0, 1):
            for url in fill(path, side, key_id):
                got = await _answers(people, method, url, roles=DELIVERY_ROLES)
                if got != answers[side] and not _allowed_changed(got, answers[side]):
                    wrong[url] = dict(zip(DELIVERY_ROLES, got, strict=True))
    assert wrong == {}


# The templates and product pages (§7.2 "I delivery"): (admin, acme's vendor admin, acme's
# vendor PM, a provider staff member, beta's vendor admin, anonymous); objects of acme (side 0)
# and beta (1).
CATALOGUE_ROLES = ("admin", "vendor_admin", "vendor_pm", "provider_staff", "other_vendor",
                  "anonymous")
DELIVERY_LIST = (200, 200, 200, 403, 200, SIGN_IN)
DELIVERY_READ = ((200, 200, 200, 403, 404, SIGN_IN), (200, 404, 404, 403, 200, SIGN_IN))
DELIVERY_CREATE = (422, 422, 403, 403, 422, SIGN_IN)
# Changing a product: its vendor's admin and platform writers; a template: its owner only (the
# admin writes public templates), anyone who reads it may copy it.
PRODUCT_CHANGE = ((422, 422, 403, 403, 404, SIGN_IN), (422, 404, 404, 403, 422, SIGN_IN))
TEMPLATE_CHANGE = ((403, 422, 403, 403, 404, SIGN_IN), (403, 404, 404, 403, 422, SIGN_IN))
TEMPLATE_COPY = ((422, 422, 403, 403, 404, SIGN_IN), (422, 404, 404, 403, 422, SIGN_IN))


def _delivery_expected(method: str, path: str, side: int) -> tuple[int, ...]:
    if method == "GET":
        return DELIVERY_READ[side] if "{" in path else DELIVERY_LIST
    if "{" not in path:
        return DELIVERY_CREATE
    if "{product_id}" in path:
        return PRODUCT_CHANGE[side]
    return (TEMPLATE_COPY if path.endswith("/copy") else TEMPLATE_CHANGE)[side]


@pytest.mark.req("I-04", "X-03")
async def test_the_delivery_catalogue_pages(settings: Settings) -> None:
    """Vendors read their own and public templates and their own products; another vendor's
    are not found; the vendor PM reads only; provider staff have no access."""
    from tests.support.delivery_catalogue import PASSWORD, dl_user, tenant

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        people: dict[str, Person] = {}

        def client() -> httpx.AsyncClient:
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://api")
        async with client() as admin_api:
            own = client()
            people["admin"] = Person(own, (await person(own, "root.admin", "admin", None))[
                "X-CSRF-Token"])
            for name in ("acme", "beta", "hebei"):
                await tenant(settings, name)
            for role, login, dl_tenant in (
                    ("vendor_admin", "acme.admin", "acme"), ("vendor_pm", "acme.pm", "acme"),
                    ("provider_staff", "hebei.staff", "hebei"),
                    ("other_vendor", "beta.admin", "beta")):
                await dl_user(settings, login, role if role != "other_vendor" else
                              "vendor_admin", dl_tenant)
                own = client()
                people[role] = Person(own, (await log_in(own, login, PASSWORD))["X-CSRF-Token"])
            people["anonymous"] = Person(client(), "")
            for side, who in enumerate(("vendor_admin", "other_vendor")):
                headers = {"X-CSRF-Token": people[who].csrf}
                made = await people[who].client.post("/v1/delivery/templates", headers=headers,
                                                     json={"name": "流程", "nodes": []})
                assert made.status_code == 201, made.text
                TEMPLATES[side] = made.json()["template_id"]
                made = await people[who].client.post("/v1/delivery/products", headers=headers,
                                                     json={"product_no": f"P-{side}",
                                                           "name": "商品"})
                assert made.status_code == 201, made.text
                PRODUCTS[side] = made.json()["product_id"]
            wrong = {}
            for method, path in console_routes():
                if not path.startswith(CATALOGUE):
                    continue
                for side in (0, 1):
                    expected = _delivery_expected(method, path, side)
                    for url in fill(path, side, ("k", "k")):
                        got = await _answers(people, method, url, roles=CATALOGUE_ROLES)
                        if got != expected and not _allowed_changed(got, expected):
                            wrong[f"{method} {url}"] = dict(zip(CATALOGUE_ROLES, got,
                                                                strict=True))
            assert admin_api is not None
            for each in people.values():
                await each.client.aclose()
        assert wrong == {}
