"""Delivery projects for people to read (§6 I: I-38, I-39, I-46, I-50, I-52, I-53; §7.2 "I
delivery", X-03): the project list by tab with filters and keyset pages, one project's detail,
my projects (待处理 / 已处理) and purchased services. Whose projects a caller reads comes from
`domain.delivery.views.scope_of`: another tenant's project is not found (404), a role without
delivery projects is refused (403). The console pages call the same functions."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Caller, Db, Principal, forbid
from api.errors import invalid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.schemas.delivery_views import (
    LogPublic,
    OperatorPublic,
    ProjectDetail,
    ProjectListItem,
    ProjectPage,
    RequirementPublic,
    StepPublic,
    TimeoutPublic,
)
from domain.delivery.views import (
    TIMEOUT_NAMES,
    MineTab,
    Scope,
    Tab,
    scope_of,
    waiting_text_zh,
)
from store.db import Conn
from store.delivery import detail as details
from store.delivery import views
from store.delivery.views import Filters, ProjectRow

router = APIRouter(tags=["delivery projects"], responses=FORBIDDEN)
Limit = Annotated[int, Query(ge=1, le=views.MAX_PAGE)]
Text = Annotated[str | None, Query(max_length=100)]
MINE_ROLES = ("provider_admin", "provider_staff", "vendor_admin")


def scope(caller: Principal) -> Scope:
    """The caller's projects (§7.2 "project list, detail, export"), or 403."""
    found = scope_of(caller.role, caller.dl_tenant_id, caller.user_id)
    if found is None:
        raise forbid(f"{caller.role} has no delivery projects to read")
    return found


def item(row: ProjectRow) -> ProjectListItem:
    """A list row with its waiting text and, when its current node timed out, the mark."""
    timeout = None
    if row.timed_out_at is not None and row.node_state == "active":
        side = row.timeout_side or "provider"
        timeout = TimeoutPublic(side=side, label_zh=TIMEOUT_NAMES.get(side, side),
                                node_name=row.node_name or "", deadline_at=row.deadline_at,
                                timed_out_at=row.timed_out_at)
    waiting = (waiting_text_zh(row.node_name or "", row.node_side or "")
               if row.node_state == "active" and row.status == "in_progress" else None)
    return ProjectListItem.model_validate(row, from_attributes=True).model_copy(
        update={"timeout": timeout, "waiting_zh": waiting})


def cursor_of(row: ProjectRow) -> str:
    return base64.urlsafe_b64encode(
        f"{row.created_at.isoformat()}|{row.project_id}".encode()).decode()


def after(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        at, project_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), project_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid("query", "cursor", "not a cursor this list gave", cursor) from exc


def page(rows: list[ProjectRow], limit: int) -> ProjectPage:
    shown = rows[:limit]
    return ProjectPage(items=[item(r) for r in shown],
                       next_cursor=cursor_of(shown[-1]) if len(rows) > limit else None)


async def project_rows(caller: Principal, db: Conn, tab: Tab, where: Filters,
                       limit: int) -> list[ProjectRow]:
    """The tab's projects the caller reads (limit + 1 rows: whether more follow)."""
    return await views.projects(db, scope(caller), tab, where, limit + 1)


@router.get("/v1/delivery/projects", response_model=ProjectPage)
async def list_projects(caller: Caller, db: Db, tab: Tab = "in_progress",
                        order_no: Text = None, provider: Text = None, product: Text = None,
                        customer: Text = None, cursor: str | None = None,
                        limit: Limit = 50) -> ProjectPage:
    """I-38: projects by status tab, newest first, with filters on order no., provider (id or
    name), product (number or name) and customer name; I-39's timeout mark on each row."""
    where = Filters(order_no, provider, product, customer, after(cursor))
    return page(await project_rows(caller, db, tab, where, limit), limit)


async def project_detail(caller: Principal, db: Conn, project_id: str) -> ProjectDetail:
    found = await details.detail(db, scope(caller), project_id)
    row = found.project
    return ProjectDetail(
        project=item(row), pause_remark=row.pause_remark, paused_at=row.paused_at,
        completed_at=row.completed_at, cancelled_at=row.cancelled_at, epoch=row.epoch,
        steps=[StepPublic.model_validate(s) for s in found.steps],
        operators=[OperatorPublic.model_validate(o) for o in found.operators],
        requirements=[RequirementPublic.model_validate(r) for r in found.requirements],
        log=[LogPublic.model_validate(line) for line in found.log],
        earlier_log=[LogPublic.model_validate(line) for line in found.earlier_log])


@router.get("/v1/delivery/projects/{project_id}/detail", response_model=ProjectDetail,
            responses=NOT_FOUND)
async def get_project_detail(project_id: str, caller: Caller, db: Db) -> ProjectDetail:
    """I-46, I-50: status, steps "第1步 … 第n步", provider-side operators with their contacts,
    the submitted requirements and the flow log (earlier epochs' apart, I-44)."""
    return await project_detail(caller, db, project_id)


async def mine_rows(caller: Principal, db: Conn, tab: MineTab, where: Filters,
                    limit: int) -> list[ProjectRow]:
    if caller.role not in MINE_ROLES or caller.user_id is None or caller.dl_tenant_id is None:
        raise forbid("my projects are for the provider's people (I-52)")
    return await views.my_projects(db, caller.user_id, caller.dl_tenant_id, tab, where,
                                   limit + 1)


@router.get("/v1/delivery/my-projects", response_model=ProjectPage)
async def my_projects(caller: Caller, db: Db, tab: MineTab = "pending", order_no: Text = None,
                      customer: Text = None, product: Text = None, cursor: str | None = None,
                      limit: Limit = 50) -> ProjectPage:
    """I-52: 待处理 (the current node waits for me) and 已处理 (I acted on it); filters order
    no., customer, product no."""
    where = Filters(order_no, None, product, customer, after(cursor))
    return page(await mine_rows(caller, db, tab, where, limit), limit)


async def purchased_rows(caller: Principal, db: Conn, where: Filters,
                         limit: int) -> list[ProjectRow]:
    if caller.user_id is None:
        raise forbid("purchased services are a signed-in person's own (I-53)")
    return await views.purchased(db, caller.user_id, where, limit + 1)


@router.get("/v1/delivery/purchased", response_model=ProjectPage)
async def purchased(caller: Caller, db: Db, order_no: Text = None, cursor: str | None = None,
                    limit: Limit = 50) -> ProjectPage:
    """I-53: the services this account bought, newest first."""
    return page(await purchased_rows(caller, db, Filters(order_no, after=after(cursor)),
                                     limit), limit)
