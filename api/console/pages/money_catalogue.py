"""The platform's packages and agents (G1): packages with their purchase prices, made and
repriced here — a new purchase price lists the top-level cost prices it invalidated (G1-12);
the agent tree at any depth (G1-19, G1-21), agents made under the platform or another agent,
disabled and enabled (G1-20), moved (platform only), the cost prices of top-level agents set
(below the purchase price: `cost_below_purchase` at the field, G1-06), and each agent's wallet.

Changes go through the API's handlers (`POST /v1/packages`, `PATCH /v1/packages/{id}`,
`POST /v1/agents…`, `POST /v1/prices`) with the viewer's principal: the same rules, audit
rows and re-checks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.amounts import Amount, Refused, to_bytes
from api.console.auth import Page, Viewer
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.forms import problem_of, say
from api.console.pages.money import BUSINESS, MONEY_GUARD, may, names, refused, require_role
from api.console.render import html
from api.deps import Db
from api.routers import agents as agent_api
from api.routers import packages as package_api
from api.routers import prices as price_api
from api.schemas.agents import AgentCreate, AgentMove
from api.schemas.packages import PackageCreate, PackageUpdate
from api.schemas.prices import PriceCreate
from core.money import parse_yuan
from domain.ledger import agent_available, agent_commission_frozen, agent_withdrawing
from domain.pricing.visibility import price_scope
from domain.refusals import Refusal
from store import agents, packages, pricing
from store.db import Conn
from store.errors import AlreadyExists
from store.money_console import balances

router = APIRouter(prefix="/console/ops/money", dependencies=MONEY_GUARD)
PLATFORM = "-"  # the move form's value for "top level, under the platform"
BAD_AMOUNT = N_("Enter an amount in yuan with at most two decimals, for example 60 or 59.90.")
Yuan = Annotated[str, Form(max_length=32)]


def _fen(text: str) -> int | None:
    try:
        return int(parse_yuan(text))
    except ValueError:
        return None


def _validation(exc: RequestValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'][1:])}: {error['msg']}"


# ---- packages ------------------------------------------------------------------------------

async def _packages_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                         **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {
        "error": None, "notice": None, "errors": {}, "invalidated": None, "changed": None,
        "form": {"package_id": "", "name": "", "business_line": "traffic_card",
                 "card_managed": True, "price": "", "validity_cycles": "1",
                 "data_number": "", "data_unit": "GB"}, **shown}
    return html(request, "money_packages.html", frame(
        viewer, "money_packages", packages=await packages.list_packages(
            db, everything=True, agent_id=None), can=may(viewer), **names(), **values),
        status=code)


@router.get("/packages")
async def packages_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _packages_page(request, viewer, db)


@router.post("/packages")
async def create_package(request: Request, viewer: Page, db: Db,
                         package_id: Annotated[str, Form(max_length=64)],
                         name: Annotated[str, Form(max_length=100)],
                         business_line: Annotated[Literal["traffic_card", "number_card"],
                                                  Form()],
                         price: Yuan,
                         validity_cycles: Annotated[int, Form(ge=1, le=120)] = 1,
                         card_managed: Annotated[str | None, Form(max_length=8)] = None,
                         data_number: Annotated[str, Form(max_length=32)] = "",
                         data_unit: Annotated[str, Form(max_length=8)] = "GB"
                         ) -> HTMLResponse:
    """A package, as POST /v1/packages makes it (a traffic package's price is its purchase
    price, a number card's the factory's; its data typed in MB or GB)."""
    require_role(viewer, BUSINESS)
    form = {"package_id": package_id, "name": name, "business_line": business_line,
            "card_managed": card_managed is not None, "price": price,
            "validity_cycles": str(validity_cycles), "data_number": data_number,
            "data_unit": data_unit}
    amount = _fen(price)
    try:
        data = to_bytes(Amount(data_number, data_unit), required=False)
    except Refused as exc:
        return await _packages_page(request, viewer, db, code=422, form=form,
                                    errors={"data": exc.message})
    if amount is None:
        return await _packages_page(request, viewer, db, code=422, form=form,
                                    errors={"price": say(request, BAD_AMOUNT)})
    line_price = ("purchase_price_fen" if business_line == "traffic_card"
                  else "factory_price_fen")
    try:
        body = PackageCreate.model_validate({
            "package_id": package_id.strip(), "name": name.strip(),
            "business_line": business_line, "card_managed": card_managed is not None,
            line_price: amount, "validity_cycles": validity_cycles, "package_bytes": data})
        made = await package_api.create_package(body, viewer.principal, db, request)
    except ValidationError as exc:
        return await _packages_page(request, viewer, db, code=422, form=form,
                                    error=problem_of(exc))
    except RequestValidationError as exc:
        return await _packages_page(request, viewer, db, code=422, form=form,
                                    error=_validation(exc))
    except AlreadyExists:
        return await _packages_page(request, viewer, db, code=409, form=form, error=say(
            request, N_("The package id %(id)s is taken."), id=package_id))
    return await _packages_page(request, viewer, db, code=201, notice=say(
        request, N_("The package %(id)s is created."), id=made.package_id))


@router.post("/packages/{package_id}/price")
async def change_purchase_price(request: Request, package_id: str, viewer: Page, db: Db,
                                price: Yuan) -> HTMLResponse:
    """A new purchase price, as PATCH /v1/packages/{id} sets it; the page lists the cost
    prices it invalidated (G1-12)."""
    require_role(viewer, BUSINESS)
    await packages.get_package(db, package_id)
    amount = _fen(price)
    try:
        if amount is None:
            raise ValueError(BAD_AMOUNT)
        body = PackageUpdate(purchase_price_fen=amount)
    except (ValueError, ValidationError):
        return await _packages_page(request, viewer, db, code=422,
                                    errors={package_id: say(request, BAD_AMOUNT)})
    try:
        done = await package_api.update_package(package_id, body, viewer.principal, db,
                                                request)
    except RequestValidationError as exc:
        return await _packages_page(request, viewer, db, code=422,
                                    errors={package_id: _validation(exc)})
    except Refusal as exc:
        return await _packages_page(request, viewer, db, code=422,
                                    errors={package_id: refused(request, exc)})
    return await _packages_page(
        request, viewer, db, changed=package_id, invalidated=done.invalidated,
        notice=say(request, N_("The purchase price of %(id)s is changed."), id=package_id))


# ---- agents --------------------------------------------------------------------------------

async def _agents_page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                       **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"error": None, "notice": None, "errors": {}, "invalidated": None,
                              "form": {"agent_id": "", "name": "", "parent_id": ""},
                              "cost_form": {}, **shown}
    tree = await agents.list_agents(db, None)
    accounts = {a.agent_id: {"available": agent_available(a.agent_id),
                             "withdrawing": agent_withdrawing(a.agent_id),
                             "frozen": agent_commission_frozen(a.agent_id)} for a in tree}
    posted = await balances(db, [key for each in accounts.values() for key in each.values()])
    wallets = {agent_id: {name: posted.get(key, 0) for name, key in each.items()}
               for agent_id, each in accounts.items()}
    costs: dict[str, list[pricing.Price]] = {}
    for price in await pricing.list_prices(db, price_scope("admin", None), kind="cost"):
        costs.setdefault(price.agent_id, []).append(price)
    traffic = [p for p in await packages.list_packages(db, everything=True, agent_id=None)
               if p.business_line == "traffic_card"]
    return html(request, "money_agents.html", frame(
        viewer, "money_agents", tree=tree, wallets=wallets, costs=costs, traffic=traffic,
        platform=PLATFORM, can=may(viewer), **names(), **values), status=code)


@router.get("/agents")
async def agents_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _agents_page(request, viewer, db)


@router.post("/agents")
async def create_agent(request: Request, viewer: Page, db: Db,
                       agent_id: Annotated[str, Form(max_length=64)],
                       name: Annotated[str, Form(max_length=100)],
                       parent_id: Annotated[str, Form(max_length=64)] = PLATFORM,
                       business_lines: Annotated[list[str] | None, Form()] = None
                       ) -> HTMLResponse:
    """An agent under the platform or under another agent, as POST /v1/agents makes it."""
    require_role(viewer, BUSINESS)
    form = {"agent_id": agent_id, "name": name, "parent_id": parent_id}
    try:
        body = AgentCreate.model_validate({
            "agent_id": agent_id.strip(), "name": name.strip(),
            "parent_id": None if parent_id in ("", PLATFORM) else parent_id,
            "business_lines": business_lines or ["traffic_card"]})
        await agent_api.create_agent(body, viewer.principal, db, request)
    except ValidationError as exc:
        return await _agents_page(request, viewer, db, code=422, form=form,
                                  error=problem_of(exc))
    except AlreadyExists:
        return await _agents_page(request, viewer, db, code=409, form=form, error=say(
            request, N_("The agent id %(id)s is taken."), id=agent_id))
    except Refusal as exc:
        return await _agents_page(request, viewer, db, code=422, form=form,
                                  error=refused(request, exc))
    return await _agents_page(request, viewer, db, code=201, notice=say(
        request, N_("The agent %(id)s is created."), id=agent_id))


@router.post("/agents/{agent_id}/status")
async def switch_agent(request: Request, agent_id: str, viewer: Page, db: Db,
                       status: Annotated[Literal["active", "disabled"], Form()]
                       ) -> HTMLResponse:
    """Disable (no new sales through it and its downstream, G1-20) or enable an agent."""
    require_role(viewer, BUSINESS)
    switch = agent_api.enable_agent if status == "active" else agent_api.disable_agent
    await switch(agent_id, viewer.principal, db, request)
    notice = (N_("The agent %(id)s is enabled.") if status == "active"
              else N_("The agent %(id)s is disabled."))
    return await _agents_page(request, viewer, db, notice=say(request, notice, id=agent_id))


@router.post("/agents/{agent_id}/move")
async def move_agent(request: Request, agent_id: str, viewer: Page, db: Db,
                     parent_id: Annotated[str, Form(max_length=64)]) -> HTMLResponse:
    """Below another parent, with its downstream (platform only, G1-21); orders keep their
    snapshot, the cost prices it breaks become invalid (G1-12)."""
    require_role(viewer, BUSINESS)
    body = AgentMove(parent_id=None if parent_id == PLATFORM else parent_id)
    try:
        await agent_api.move_agent(agent_id, body, viewer.principal, db, request)
    except Refusal as exc:
        return await _agents_page(request, viewer, db, code=422,
                                  errors={f"move:{agent_id}": refused(request, exc)})
    return await _agents_page(request, viewer, db, notice=say(
        request, N_("The agent %(id)s is moved."), id=agent_id))


@router.post("/agents/{agent_id}/cost")
async def set_cost(request: Request, agent_id: str, viewer: Page, db: Db,
                   package_id: Annotated[str, Form(max_length=64)], amount: Yuan
                   ) -> HTMLResponse:
    """The platform's cost price for a top-level agent, as POST /v1/prices sets it (below the
    purchase price: `cost_below_purchase`, shown at the field, G1-06)."""
    require_role(viewer, BUSINESS)
    key = f"cost:{agent_id}"
    shown = {"cost_form": {agent_id: {"package_id": package_id, "amount": amount}}}
    fen = _fen(amount)
    try:
        if fen is None:
            raise ValueError(BAD_AMOUNT)
        body = PriceCreate(kind="cost", package_id=package_id, agent_id=agent_id,
                           amount_fen=fen)
    except (ValueError, ValidationError):
        return await _agents_page(request, viewer, db, code=422,
                                  errors={key: say(request, BAD_AMOUNT)}, **shown)
    try:
        done = await price_api.set_price(body, viewer.principal, db, request)
    except Refusal as exc:
        return await _agents_page(request, viewer, db, code=422 if exc.field else 409,
                                  errors={key: refused(request, exc)}, **shown)
    return await _agents_page(request, viewer, db, invalidated=done.invalidated, notice=say(
        request, N_("The cost price of %(agent)s for %(package)s is set."), agent=agent_id,
        package=package_id))
