"""The platform's import page (X-05, X-06; §7.2 "H commission": imports C for admin and
platform_operator, R for platform finance): upload a long-term verification, real-name or
number-card settlement file, the task list with status and counts, each task's failure file and
each kind's empty template. Everything goes through the handlers of `/v1/imports` with the
viewer's principal, so the checks, the refusals (shown in the spec's words) and the background
application of the valid rows are theirs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Form,
    HTTPException,
    Request,
    UploadFile,
    status,
)
from fastapi.responses import HTMLResponse, Response

from api.console.auth import Page, Viewer
from api.console.i18n import N_
from api.console.layout import frame
from api.console.pages.forms import say
from api.console.pages.money import MONEY_GUARD, refused
from api.console.render import html
from api.deps import Db, Res
from api.routers import imports as import_api
from domain.imports.kinds import Kind
from domain.refusals import Refusal
from store.db import Conn

KINDS: tuple[Kind, ...] = ("long_term_verification", "real_name", "number_card_settlement")
KIND_NAMES = {"long_term_verification": N_("Long-term commission verification"),
              "real_name": N_("Real-name results"),
              "number_card_settlement": N_("Number-card settlement")}
STATUS_NAMES = {"running": N_("Running"), "done": N_("Done"), "failed": N_("Failed"),
                "rejected": N_("Refused as a whole")}
OUTCOMES = {"all_succeeded": N_("All succeeded"), "partly_succeeded": N_("Partly succeeded"),
            "all_failed": N_("All failed")}


async def _importer(request: Request, viewer: Page) -> None:
    """Only admin and platform operators import (§7.2); finance and ops read."""
    if request.method not in ("GET", "HEAD", "OPTIONS") \
            and viewer.principal.role not in import_api.WRITERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "platform operators import")


router = APIRouter(prefix="/console/ops/money/imports",
                   dependencies=[*MONEY_GUARD, Depends(_importer)])


async def _page(request: Request, viewer: Viewer, db: Conn, *, code: int = 200,
                **shown: Any) -> HTMLResponse:
    values: dict[str, Any] = {"error": None, "notice": None, "failed_kind": None, **shown}
    tasks = await import_api.list_tasks(viewer.principal, db, limit=200)
    return html(request, "commission_imports.html", frame(
        viewer, "imports", tasks=tasks, kinds=KINDS, kind_names=KIND_NAMES,
        import_status=STATUS_NAMES, outcomes=OUTCOMES,
        may_import=viewer.principal.role in import_api.WRITERS, **values), status=code)


@router.get("")
async def imports_page(request: Request, viewer: Page, db: Db) -> HTMLResponse:
    return await _page(request, viewer, db)


@router.post("/{kind}")
async def upload(request: Request, kind: Kind, viewer: Page, db: Db, res: Res,
                 background: BackgroundTasks, file: Annotated[UploadFile, File()],
                 factory_id: Annotated[str, Form(max_length=64)] = "",
                 period: Annotated[str, Form(max_length=7)] = "",
                 total_fen: Annotated[str, Form(max_length=20)] = "") -> HTMLResponse:
    """Upload a file as a task; its valid rows are applied after the answer."""
    try:
        answer = await import_api.upload(kind, viewer.principal, db, res, request, background,
                                         file, factory_id or None, period or None,
                                         total_fen or None)
    except Refusal as exc:
        return await _page(request, viewer, db, code=422 if exc.field else 409,
                           error=refused(request, exc), failed_kind=kind)
    again = answer.status_code == 200
    notice = (N_("This file was already imported in the last 24 hours: its task is listed.")
              if again else N_("The file is imported as a task; its rows are being applied."))
    return await _page(request, viewer, db, notice=say(request, notice))


@router.get("/templates/{kind}.xlsx")
async def template(kind: Kind, viewer: Page, db: Db) -> Response:
    return await import_api.template(kind, viewer.principal, db)


@router.get("/{task_id}/failures.xlsx")
async def failure_file(task_id: str, viewer: Page, db: Db) -> Response:
    return await import_api.failure_file(task_id, viewer.principal, db)
