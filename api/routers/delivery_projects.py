"""Delivery projects: start, node actions, administrators' changes, claims and the queue
(§6.4 … §6.6, §7.2 "I delivery"). Visibility: platform staff see every project, a vendor's
people their vendor's, a provider's people their provider's, a customer his own — another's
is not found (404); a role that only reads gets 403. Only the node's operator (or the
customer on customer nodes) acts on a node (I-51: 403)."""

from __future__ import annotations

import random
from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Request, status

from api.deps import PLATFORM_READERS, Caller, Db, Principal
from api.openapi import NOT_FOUND, Responses
from api.schemas.delivery_projects import (
    AssignBody,
    Assigned,
    CancelBody,
    ClaimBody,
    Claimed,
    ConfirmBody,
    EvaluationBody,
    LogPublic,
    OperatorChange,
    PauseBody,
    ProjectCreate,
    ProjectPublic,
    ProviderChange,
    PurchaseCreate,
    QueueEntryPublic,
    RejectBody,
    RequirementBody,
    RunPublic,
)
from domain.delivery import machines as m
from domain.delivery.machines import QUEUE_ASSIGNERS, Actor
from store.db import Conn
from store.delivery import assign, project_admin, project_rows, projects, purchases
from store.delivery.project_rows import Project
from store.errors import NotFound

RESPONSES: Responses = {
    403: {"description": "the role may not do this; for node actions `not_operator` (I-51) "
                         "as {code, message_zh, message_en}"},
    **NOT_FOUND,
    409: {"description": "a state rule refused: `project_closed` (项目已完结), `project_paused`, "
                         "`node_not_current`, `requirement_form_missing` (请先填写需求表单), "
                         "`operator_load_full` (所选员工持单量已满), `provider_load_full` "
                         "(所选服务商持单量已满), `order_not_claimable`, `claim_role_mismatch`"}}
router = APIRouter(prefix="/v1/delivery", tags=["delivery"], responses=RESPONSES)
RunId = Annotated[int, Path(ge=1, le=1 << 62)]
T = TypeVar("T")
VENDOR_ROLES = ("vendor_admin", "vendor_pm")
PROVIDER_ROLES = ("provider_admin", "provider_staff", "vendor_admin")
# The tenant's admins who run the provider side (a vendor admin is its provider admin: I-02).
PROVIDER_ADMINS = ("provider_admin", "vendor_admin")
CHANGERS = ("admin", "platform_operator")


def rng(request: Request) -> random.Random:
    """The API process's random source (seeded by CARDPULSE_TEST_RANDOM_SEED)."""
    source: random.Random = request.app.state.delivery_rng
    return source


def _forbid(message: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, message)


async def _run(call: Awaitable[T]) -> T:
    """A store call whose NotOperator refusal answers 403 (I-51)."""
    try:
        return await call
    except m.NotOperator as refused:
        raise HTTPException(status.HTTP_403_FORBIDDEN, refused.as_detail()) from refused


def sees(caller: Principal, project: Project) -> bool:
    if caller.role in PLATFORM_READERS:
        return True
    if caller.role in VENDOR_ROLES and caller.dl_tenant_id == project.vendor_id:
        return True
    if caller.role in PROVIDER_ROLES and caller.dl_tenant_id == project.provider_id:
        return True
    return caller.role == "customer" and caller.user_id == project.customer_user_id


async def _visible(db: Conn, caller: Principal, project_id: str) -> Project:
    project = await project_rows.get_project(db, project_id)
    if not sees(caller, project):
        raise NotFound(f"project {project_id!r}")
    return project


ROLE_NAMES = {"vendor_admin": "厂商管理员", "provider_admin": "服务商管理员"}


async def _actor(db: Conn, caller: Principal, role: str = "") -> Actor:
    """The caller as the flow log shows him (I-50): platform staff as 小二, an administrator
    with the business role he acts in."""
    if caller.role in CHANGERS or caller.user_id is None:
        return Actor(caller.user_id, m.PLATFORM_NAME)
    who = await project_rows.person(db, caller.user_id)
    return Actor(who.user_id, who.name, role or ROLE_NAMES.get(caller.role, ""))


async def _provider_actor(db: Conn, caller: Principal) -> Actor:
    return await _actor(db, caller, "服务商管理员")


async def _person(db: Conn, caller: Principal) -> Actor:
    """A signed-in person (node actions need one), as the flow log shows him."""
    if caller.user_id is None:
        raise _forbid("node actions are taken by a signed-in person (I-51)")
    if caller.role in CHANGERS:
        return Actor(caller.user_id, m.PLATFORM_NAME)
    who = await project_rows.person(db, caller.user_id)
    return Actor(who.user_id, who.name)  # the store names the node's role (I-50)


def _require(allowed: bool, what: str) -> None:
    if not allowed:
        raise _forbid(f"your role may not {what}")


def _provider_admin(caller: Principal, project: Project) -> bool:
    return caller.role == "admin" or (caller.role in PROVIDER_ADMINS
                                      and caller.dl_tenant_id == project.provider_id)


def _vendor_admin(caller: Principal, project: Project) -> bool:
    return caller.role in CHANGERS or (caller.role == "vendor_admin"
                                       and caller.dl_tenant_id == project.vendor_id)


async def public(db: Conn, project_id: str) -> ProjectPublic:
    project = await project_rows.get_project(db, project_id)
    runs = [RunPublic.model_validate(r, from_attributes=True)
            for r in await project_rows.runs(db, project_id)]
    current = next((r for r in runs if r.state in ("active", "queued")), None)
    log = [LogPublic.model_validate(line, from_attributes=True)
           for line in await project_rows.log_lines(db, project_id)]
    return ProjectPublic.model_validate(
        {**{k: getattr(project, k) for k in ProjectPublic.model_fields
            if hasattr(project, k)}, "current": current, "runs": runs, "log": log})


@router.post("/projects", status_code=status.HTTP_201_CREATED)
async def start_project(body: ProjectCreate, db: Db, caller: Caller,
                        request: Request) -> ProjectPublic:
    """Start the delivery project of an order (idempotent by order number)."""
    vendor = await assign.product_vendor(db, body.product_id)
    if caller.role not in CHANGERS:
        if caller.role in VENDOR_ROLES and caller.dl_tenant_id == vendor:
            _require(caller.role == "vendor_admin", "start projects")
        else:
            raise NotFound(f"product {body.product_id!r}")
    project_id = await projects.start_project(db, **body.model_dump(), rng=rng(request))
    return await public(db, project_id)


@router.post("/purchases", status_code=status.HTTP_201_CREATED)
async def buy(body: PurchaseCreate, db: Db, caller: Caller, request: Request) -> ProjectPublic:
    """A customer buys a service product (I-01, I-53): a market order number and its
    delivery project at once. 409 `product_not_for_sale` for a card-order product (bought
    through a card purchase), `product_without_template` without a published template."""
    if caller.role != "customer" or caller.user_id is None:
        raise _forbid("only a customer signed in buys services")
    project_id = await purchases.buy(db, product_id=body.product_id,
                                     customer_user_id=caller.user_id,
                                     business_no=body.business_no, rng=rng(request))
    return await public(db, project_id)


@router.get("/projects/{project_id}")
async def get_project(project_id: str, db: Db, caller: Caller) -> ProjectPublic:
    """A project's state, node runs and flow log (I-50)."""
    await _visible(db, caller, project_id)
    return await public(db, project_id)


@router.post("/projects/{project_id}/runs/{run_id}/confirm")
async def confirm(project_id: str, run_id: RunId, body: ConfirmBody, db: Db, caller: Caller,
                  request: Request) -> ProjectPublic:
    """The operator confirms the current node (I-17, I-18, I-19, I-51)."""
    await _visible(db, caller, project_id)
    actor = await _person(db, caller)
    await _run(projects.confirm(db, project_id, run_id, actor, remark=body.remark,
                                rng=rng(request), detail=body.detail))
    return await public(db, project_id)


@router.post("/projects/{project_id}/runs/{run_id}/reject")
async def reject(project_id: str, run_id: RunId, body: RejectBody, db: Db, caller: Caller,
                 request: Request) -> ProjectPublic:
    """A rejectable node sends the flow back to the previous step (I-17, AMB-35)."""
    await _visible(db, caller, project_id)
    actor = await _person(db, caller)
    await _run(projects.reject(db, project_id, run_id, actor, reason=body.reason,
                               rng=rng(request)))
    return await public(db, project_id)


@router.post("/projects/{project_id}/runs/{run_id}/requirement")
async def submit_requirement(project_id: str, run_id: RunId, body: RequirementBody, db: Db,
                             caller: Caller, request: Request) -> ProjectPublic:
    """The customer submits the requirement form (I-16)."""
    await _visible(db, caller, project_id)
    actor = await _person(db, caller)
    await _run(projects.submit_requirement(db, project_id, run_id, actor, body.answers,
                                           rng=rng(request)))
    return await public(db, project_id)


@router.post("/projects/{project_id}/evaluation")
async def evaluate(project_id: str, body: EvaluationBody, db: Db,
                   caller: Caller) -> ProjectPublic:
    """The customer evaluates a completed project once (I-51)."""
    project = await _visible(db, caller, project_id)
    _require(caller.user_id is not None and caller.user_id == project.customer_user_id,
             "evaluate this project")
    await _run(project_admin.evaluate(db, project_id, await _person(db, caller), body.stars,
                                      body.text))
    return await public(db, project_id)


@router.post("/projects/{project_id}/pause")
async def pause(project_id: str, body: PauseBody, db: Db, caller: Caller) -> ProjectPublic:
    """I-43: pause with a required remark (provider admin)."""
    project = await _visible(db, caller, project_id)
    _require(_provider_admin(caller, project), "pause projects")
    await project_admin.pause(db, project_id, await _provider_actor(db, caller), body.remark)
    return await public(db, project_id)


@router.post("/projects/{project_id}/resume")
async def resume(project_id: str, db: Db, caller: Caller) -> ProjectPublic:
    """I-43: 启动项目 (provider admin)."""
    project = await _visible(db, caller, project_id)
    _require(_provider_admin(caller, project), "start projects")
    await project_admin.resume(db, project_id, await _provider_actor(db, caller))
    return await public(db, project_id)


@router.post("/projects/{project_id}/cancel")
async def cancel(project_id: str, body: CancelBody, db: Db, caller: Caller) -> ProjectPublic:
    """I-54: the vendor admin (or the platform) cancels a project."""
    project = await _visible(db, caller, project_id)
    _require(_vendor_admin(caller, project), "cancel projects")
    await project_admin.cancel(db, project_id, await _actor(db, caller), body.remark)
    return await public(db, project_id)


@router.post("/projects/{project_id}/provider")
async def change_provider(project_id: str, body: ProviderChange, db: Db, caller: Caller,
                          request: Request) -> ProjectPublic:
    """I-44: another configured provider with spare capacity; the flow restarts."""
    project = await _visible(db, caller, project_id)
    _require(_vendor_admin(caller, project), "change the provider")
    await project_admin.change_provider(db, project_id, body.provider_id,
                                        await _actor(db, caller), body.remark, rng=rng(request))
    return await public(db, project_id)


@router.post("/projects/{project_id}/operator")
async def change_operator(project_id: str, body: OperatorChange, db: Db,
                          caller: Caller) -> ProjectPublic:
    """I-45: the current node's operator, within the role and with spare load."""
    project = await _visible(db, caller, project_id)
    _require(_provider_admin(caller, project), "change the operator")
    await project_admin.change_operator(db, project_id, body.user_id,
                                        await _provider_actor(db, caller), body.remark)
    return await public(db, project_id)


@router.post("/claims")
async def claim(body: ClaimBody, db: Db, caller: Caller, request: Request) -> Claimed:
    """I-33: a 客户经理 claims an order awaiting claim by its number."""
    user_id = caller.user_id
    if caller.role not in PROVIDER_ROLES or user_id is None:
        raise _forbid("your role may not claim orders")
    project_id = await projects.claim(db, body.order_no, user_id, rng=rng(request))
    return Claimed(project_id=project_id)


def _queue_scope(caller: Principal, kind: str) -> dict[str, str | None]:
    """Which queue entries the caller sees: platform all; vendor people their vendor's
    provider queue; a provider's admins their staff queue."""
    if caller.role in PLATFORM_READERS:
        return {}
    if kind == "provider" and caller.role in VENDOR_ROLES:
        return {"vendor_id": caller.dl_tenant_id}
    if kind == "staff" and caller.role in PROVIDER_ROLES:
        return {"provider_id": caller.dl_tenant_id}
    raise _forbid(f"your role does not see the {kind} queue")


@router.get("/queue")
async def queue(db: Db, caller: Caller, kind: Annotated[
        str, Query(pattern="^(provider|staff)$")] = "provider") -> list[QueueEntryPublic]:
    """The queue, oldest first, with reasons and last attempts (I-35 … I-37)."""
    found = await assign.entries(db, kind=kind, **_queue_scope(caller, kind))
    return [QueueEntryPublic.model_validate(e, from_attributes=True) for e in found]


@router.post("/queue/assign")
async def assign_now(body: AssignBody, db: Db, caller: Caller, request: Request) -> Assigned:
    """Manual 分单 (SM-I-QUEUE): vendor admin (provider queue, one of its products), provider
    admin (its staff queue), platform operator."""
    _require(caller.role in QUEUE_ASSIGNERS[body.kind], "assign from this queue")
    provider_id = None
    if caller.role not in CHANGERS:
        if body.kind == "provider":
            if body.product_id is None:
                raise _forbid("name the product whose queue to assign")
            if await assign.product_vendor(db, body.product_id) != caller.dl_tenant_id:
                raise NotFound(f"product {body.product_id!r}")
        else:
            provider_id = caller.dl_tenant_id
    done = await assign.drain_queue(db, rng=rng(request), kind=body.kind,
                                    provider_id=provider_id, product_id=body.product_id)
    return Assigned(assigned=done)
