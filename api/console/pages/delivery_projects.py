"""The delivery project centre (§6 I, X-02 项目中心): 项目管理 — the four tabs with filters, the
timeout mark with its details on hover, and the export of the current tab (I-38, I-39); 项目详情
— steps, operators, business information, files, messages, notes and the flow log (I-46 …
I-50); 我的项目 (I-52); 排队情况 (I-35, I-36); 已购服务 (I-53). The pages call the JSON API's
own functions with the viewer's principal, so a page shows exactly what the API would answer
(another tenant's project: 404; a role without projects: 403)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.console.auth import Page, Viewer
from api.console.errors import redirect
from api.console.exports import Format
from api.console.i18n import N_, lang_of
from api.console.layout import frame
from api.console.pages.forms import download, say
from api.console.pages.money import refused
from api.console.render import html
from api.deps import Db, Principal, Res
from api.routers import delivery_files as files_api
from api.routers import delivery_views as views_api
from api.schemas.delivery_views import ProjectListItem
from domain.delivery.files import FileRefused
from domain.delivery.machines import QUEUE_ASSIGNERS
from domain.delivery.nodes import nodes_from_json, steps
from domain.delivery.views import (
    CLOSED,
    TABS,
    MineTab,
    QueueKind,
    Tab,
    answer_rows,
    is_provider_admin,
    queue_scope,
)
from domain.refusals import Refusal
from store.db import Conn
from store.delivery import detail as details
from store.delivery import purchases, views
from store.delivery.views import Filters, ProjectRow

router = APIRouter(prefix="/console/delivery")
Kind = Literal["message", "note", "file"]
CHANGERS = ("admin", "platform_operator")
SHOWN = 200  # rows a list page (and its export) holds
Text = Annotated[str | None, Query(max_length=100)]
TAB_NAMES = {"in_progress": N_("Projects in progress"), "completed": N_("Completed projects"),
             "paused": N_("Paused projects"), "cancelled": N_("Cancelled projects")}
STATUS_NAMES = {"in_progress": N_("In progress"), "completed": N_("Completed"),
                "paused": N_("Paused"), "cancelled": N_("Cancelled")}
STEP_NAMES = {"not_started": N_("Not started"), "current": N_("Current"),
              "queued": N_("Queued"), "done": N_("Done"), "rejected": N_("Rejected")}
SIDE_NAMES = {"provider": N_("Provider-side timeout"), "customer": N_("Customer-side timeout")}
WAITING = {"customer": N_("Entered %(node)s, waiting for the customer"),
           "provider": N_("Entered %(node)s, waiting for the provider"),
           "system": N_("Entered %(node)s, waiting for the system")}
COLUMNS = (N_("Order no."), N_("Business no."), N_("Product"), N_("Version"),
           N_("Sales channel"), N_("Created"), N_("Customer"), N_("Vendor"), N_("Provider"),
           N_("Current operator"), N_("Operator role"), N_("Project stage"), N_("Timeout"))
QUEUE_REASONS = {"所有服务商员工持单量已满": N_("All provider staff loads are full"),
                 "产品未配置服务商": N_("No provider is configured for the product"),
                 "没有找到可接单的服务商员工": N_("No provider staff available to take the order")}


def words() -> dict[str, Any]:
    return {"tab_names": TAB_NAMES, "project_status": STATUS_NAMES, "step_names": STEP_NAMES,
            "side_names": SIDE_NAMES, "waiting": WAITING, "queue_reasons": QUEUE_REASONS}


def page(request: Request, viewer: Viewer, template: str, section: str, *, code: int = 200,
          **values: Any) -> HTMLResponse:
    return html(request, template, frame(viewer, section, **words(), **values), status=code)


async def _rows(viewer: Viewer, db: Conn, tab: Tab, where: Filters) -> list[ProjectListItem]:
    found = await views_api.project_rows(viewer.principal, db, tab, where, SHOWN)
    return [views_api.item(r) for r in found[:SHOWN]]


@router.get("/projects")
async def projects_page(request: Request, viewer: Page, db: Db, tab: Tab = "in_progress",
                        order_no: Text = None, provider: Text = None, product: Text = None,
                        customer: Text = None) -> HTMLResponse:
    """项目管理: the tab's projects with filters (I-38) and the timeout mark (I-39)."""
    where = Filters(order_no, provider, product, customer)
    chosen = {"order_no": order_no or "", "provider": provider or "",
              "product": product or "", "customer": customer or ""}
    query = urlencode({k: v for k, v in chosen.items() if v})
    return page(request, viewer, "delivery_projects.html", "delivery_projects", tab=tab,
                 tabs=TABS, rows=await _rows(viewer, db, tab, where), chosen=chosen,
                 query=query)


def _waiting(request: Request, row: ProjectListItem) -> str:
    if row.node_state != "active" or row.node_name is None:
        return row.node_name or ""
    return say(request, WAITING.get(row.node_side or "", WAITING["system"]), node=row.node_name)


@router.get("/projects.{fmt}")
async def projects_export(request: Request, fmt: Format, viewer: Page, db: Db,
                          tab: Tab = "in_progress", order_no: Text = None,
                          provider: Text = None, product: Text = None,
                          customer: Text = None) -> Response:
    """The current tab's list as a file (I-38: 导出内容为当前页签下列表)."""
    rows = await _rows(viewer, db, tab, Filters(order_no, provider, product, customer))
    return download(request, fmt, f"projects-{tab}", COLUMNS, [
        [r.order_no, r.business_no, r.product_name, r.version, r.channel, r.created_at,
         r.customer_name, r.vendor_name, r.provider_name, r.operator_name, r.node_role,
         _waiting(request, r),
         say(request, SIDE_NAMES[r.timeout.side]) if r.timeout else ""] for r in rows])


def vendor_admin(principal: Principal, row: ProjectRow) -> bool:
    """Change provider and cancel (I-44, I-54): the vendor's admin, the platform operator."""
    return principal.role in CHANGERS or (principal.role == "vendor_admin"
                                          and principal.dl_tenant_id == row.vendor_id)


async def may_act(principal: Principal, db: Conn, row: ProjectRow) -> dict[str, bool]:
    """Which actions the detail page offers (the engine checks again)."""
    live = row.status in ("in_progress", "paused")
    waits = principal.user_id is not None and row.status == "in_progress" \
        and row.node_state == "active" \
        and await views.waits_for(db, row.project_id, principal.user_id, principal.dl_tenant_id)
    admin = principal.role == "admin" or is_provider_admin(
        principal.role, principal.dl_tenant_id, row.provider_id)
    return {"node": waits, "pause": admin and row.status == "in_progress",
            "resume": admin and row.status == "paused",
            "operator": admin and live and row.node_side == "provider"
            and row.node_role is not None and row.node_state == "active",
            "provider": vendor_admin(principal, row) and live,
            "cancel": vendor_admin(principal, row) and live,
            "evaluate": row.status == "completed" and row.evaluation is None
            and principal.user_id is not None and principal.user_id == row.customer_user_id}


async def _actions(request: Request, principal: Principal, db: Conn,
                   row: ProjectRow) -> dict[str, Any]:
    """The detail page's action panel: what the viewer may do, the current node, the form."""
    acts = await may_act(principal, db, row)
    node = None
    if row.node_key is not None:
        node = next((n for n in steps(nodes_from_json(await details.project_nodes(
            db, row.project_id))) if n.key == row.node_key), None)
    fields = []
    if acts["node"] and node is not None and node.kind == "submit_requirement" \
            and node.form_id:
        fields = [field_view(f, lang_of(request)) for f in
                  await views.form_fields(db, node.form_id)]
    return {"acts": acts, "node": node, "fields": fields, "evaluation": row.evaluation,
            "operators": await views.operator_choices(db, row.project_id, row.node_role or "",
                                                      row.operator_user_id)
            if acts["operator"] else [],
            "providers": await views.provider_choices(db, row.project_id)
            if acts["provider"] else []}


def field_view(field: dict[str, Any], lang: str) -> dict[str, Any]:
    """A requirement form field (I-16) as the form shows it."""
    key = str(field.get("key") or field.get("name") or "")
    label = field.get("label_en" if lang == "en" else "label_zh") or field.get("name") or key
    return {"key": key, "label": label, "type": field.get("type") or "text",
            "required": bool(field.get("required")), "options": field.get("options") or []}


async def detail_page(request: Request, viewer: Viewer, db: Conn, project_id: str, *,
                      code: int = 200, **shown: Any) -> HTMLResponse:
    limit = request.app.state.resources.settings.delivery_file_max_bytes
    principal = viewer.principal
    found = await views_api.project_detail(principal, db, project_id)
    row = await files_api.readable(principal, db, project_id)
    customer = principal.role == "customer"
    open_ = row.status not in CLOSED
    can = {"message": open_ and principal.user_id is not None
           and files_api.may_write(principal, row, "message"),
           "note": open_ and principal.user_id is not None
           and files_api.may_write(principal, row, "note"),
           "upload": open_ and principal.user_id is not None
           and await files_api.may_upload(principal, db, row)}
    values: dict[str, Any] = {"error": None, "notice": None, "draft": {}, **shown}
    return page(
        request, viewer, "delivery_project.html", "delivery_projects", code=code, d=found,
        max_mb=f"{limit / (1 << 20):g}",
        p=found.project, can=can, customer=customer,
        requirements=[(r, answer_rows(r.fields, r.answers, lang_of(request)))
                      for r in found.requirements],
        files=await files_api.list_files(project_id, principal, db),
        messages=await files_api.read_texts(principal, db, project_id, "message"),
        notes=[] if customer else await files_api.read_texts(principal, db, project_id, "note"),
        **await _actions(request, principal, db, row), **values)


@router.get("/projects/{project_id}")
async def project_page(request: Request, project_id: str, viewer: Page, db: Db
                       ) -> HTMLResponse:
    """项目详情 (I-46): steps, operators, business information and the four tabs."""
    return await detail_page(request, viewer, db, project_id)


@router.get("/projects/{project_id}/files/{file_id}")
async def file_download(project_id: str, file_id: str, viewer: Page, db: Db,
                        res: Res) -> FileResponse:
    return await files_api.download(project_id, file_id, viewer.principal, db, res)


async def _may_write(kind: Kind, project_id: str, viewer: Viewer, db: Conn) -> None:
    """The guard of a change: 404 outside the scope, 403 for who may not — before the form
    is read (the console matrix forges empty forms)."""
    row = await files_api.readable(viewer.principal, db, project_id)
    if kind == "file":
        allowed = await files_api.may_upload(viewer.principal, db, row)
    else:
        allowed = files_api.may_write(viewer.principal, row, kind)
    if not allowed or viewer.principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not change this")


async def message_guard(project_id: str, viewer: Page, db: Db) -> None:
    await _may_write("message", project_id, viewer, db)


async def note_guard(project_id: str, viewer: Page, db: Db) -> None:
    await _may_write("note", project_id, viewer, db)


async def file_guard(project_id: str, viewer: Page, db: Db) -> None:
    await _may_write("file", project_id, viewer, db)


async def _write(request: Request, viewer: Viewer, db: Conn, project_id: str, kind: str,
                 body: str) -> Response:
    try:
        await files_api.write_text(viewer.principal, db, project_id,
                                   "note" if kind == "note" else "message", body)
    except Refusal as exc:
        return await detail_page(request, viewer, db, project_id, code=422 if exc.field else 409,
                             error=refused(request, exc), draft={kind: body})
    return redirect(request, f"/console/delivery/projects/{project_id}#{kind}s")


@router.post("/projects/{project_id}/messages", dependencies=[Depends(message_guard)])
async def add_message(request: Request, project_id: str, viewer: Page, db: Db,
                      body: Annotated[str, Form(max_length=20_000)]) -> Response:
    """I-48: a message (≤ 500 characters)."""
    return await _write(request, viewer, db, project_id, "message", body)


@router.post("/projects/{project_id}/notes", dependencies=[Depends(note_guard)])
async def add_note(request: Request, project_id: str, viewer: Page, db: Db,
                   body: Annotated[str, Form(max_length=20_000)]) -> Response:
    """I-49: a note (≤ 500 characters), provider side only."""
    return await _write(request, viewer, db, project_id, "note", body)


@router.post("/projects/{project_id}/files", dependencies=[Depends(file_guard)])
async def add_file(request: Request, project_id: str, viewer: Page, db: Db, res: Res,
                   file: Annotated[UploadFile, File()]) -> Response:
    """I-47: an attachment at the current node."""
    try:
        await files_api.upload(viewer.principal, db, res.settings.state_dir,
                               res.settings.delivery_file_max_bytes, project_id, file)
    except FileRefused as exc:
        return await detail_page(request, viewer, db, project_id, code=exc.status,
                             error=refused(request, exc))
    except Refusal as exc:
        return await detail_page(request, viewer, db, project_id, code=409,
                             error=refused(request, exc))
    return redirect(request, f"/console/delivery/projects/{project_id}#files")


@router.get("/mine")
async def mine_page(request: Request, viewer: Page, db: Db, tab: MineTab = "pending",
                    order_no: Text = None, customer: Text = None,
                    product: Text = None) -> HTMLResponse:
    """我的项目 (I-52): 待处理 and 已处理."""
    found = await views_api.mine_rows(viewer.principal, db, tab,
                                      Filters(order_no, None, product, customer), SHOWN)
    chosen = {"order_no": order_no or "", "customer": customer or "", "product": product or ""}
    return page(request, viewer, "delivery_mine.html", "delivery_mine", tab=tab,
                 rows=[views_api.item(r) for r in found[:SHOWN]], chosen=chosen)


@router.get("/purchased")
async def purchased_page(request: Request, viewer: Page, db: Db,
                         order_no: Text = None) -> HTMLResponse:
    """已购服务 (I-53): the services this account bought."""
    found = await views_api.purchased_rows(viewer.principal, db, Filters(order_no), SHOWN)
    offers = (await purchases.for_sale(db) if viewer.principal.role == "customer" else [])
    return page(request, viewer, "delivery_purchased.html", "delivery_purchased",
                 rows=[views_api.item(r) for r in found[:SHOWN]], offers=offers,
                 chosen={"order_no": order_no or ""})


@router.get("/queue")
async def queue_page(request: Request, viewer: Page, db: Db, kind: QueueKind | None = None,
                     order_no: Text = None, provider: Text = None,
                     assigned: Annotated[int | None, Query(ge=0)] = None) -> HTMLResponse:
    """排队情况 (I-35, I-36): the provider queue (vendor) or the staff queue (provider),
    oldest first, filtered by order no. and provider name."""
    role, tenant = viewer.principal.role, viewer.principal.dl_tenant_id
    every: tuple[QueueKind, ...] = ("provider", "staff")
    kinds = [k for k in every if queue_scope(role, tenant, k) is not None]
    chosen_kind: QueueKind = kind or (kinds[0] if kinds else "provider")
    scope = queue_scope(role, tenant, chosen_kind)
    if scope is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role has no queue to read")
    rows = await views.queue(db, scope, chosen_kind, order_no, provider, SHOWN)
    return page(request, viewer, "delivery_queue.html", "delivery_queue", kind=chosen_kind,
                 kinds=kinds, rows=rows, assigned=assigned,
                 can_assign=role in QUEUE_ASSIGNERS[chosen_kind],
                 chosen={"order_no": order_no or "", "provider": provider or ""})
