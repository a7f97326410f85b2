"""Imports (X-05, X-06, G4-27; H-20, H-31/H-36, H-41): upload a file as a task, list the
tasks, download a task's failure file and each kind's empty template.

An upload is checked here (size, template, rows; a settlement's total) and answered at once;
its valid rows are then applied in the background by the kind's registered `apply`
(store/imports.py), chunk by chunk, while `GET /v1/imports/{task_id}` shows `rows_done`.
A kind nothing has registered answers 503 `import_unavailable`. Platform staff who change
business objects (admin, platform_operator) import; platform finance and platform_ops read
(§7.2 H); everyone else 403.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import xlsxwriter
from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from api.console.exports import XLSX_TYPE, as_xlsx
from api.deps import Caller, Db, Principal, Res, Resources, actor, forbid
from api.openapi import FORBIDDEN, NOT_FOUND, UNAVAILABLE
from api.routers.series import attachment
from api.schemas.imports import ImportTaskPublic
from core.clock import now
from domain.imports import kinds
from domain.imports.errors import FileRefused, TooLarge
from domain.imports.kinds import COLUMNS, MAX_ROWS, OPTIONAL, Kind
from domain.imports.sheet import Sheet, read_sheet
from domain.imports.table import SHANGHAI, RowContext
from domain.refusals import Refusal
from store import imports
from store.agents import Actor
from store.imports import Apply, ImportTask, NewTask, Status

router = APIRouter(prefix="/v1/imports", tags=["imports"], responses=FORBIDDEN)
WRITERS = ("admin", "platform_operator")
READERS = ("admin", "platform_operator", "platform_finance", "platform_ops")
MAX_BYTES = 32 << 20
SETTLEMENT_EXISTS = Refusal(code="settlement_exists", message_zh="该厂家该周期的结算单已导入",
                            message_en="This factory's settlement for this period has "
                                       "already been imported")


class Unavailable(Refusal):
    code = "import_unavailable"
    message_zh = "该类导入暂不可用"
    message_en = "This kind of import is not available yet"


def _reader(caller: Principal) -> None:
    if caller.role not in READERS:
        raise forbid("imports are platform staff's")


def _tenant(caller: Principal) -> str:
    """X-06's tenant: the platform for platform staff, else the caller's own tenant."""
    if caller.enterprise_id is not None:
        return f"enterprise:{caller.enterprise_id}"
    if caller.agent_id is not None:
        return f"agent:{caller.agent_id}"
    return "platform"


async def _read(file: UploadFile) -> bytes:
    content = await file.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise TooLarge(MAX_BYTES)
    return content


def _settlement(sheet: Sheet, factory_id: str | None, period: str | None,
                total_fen: str | None) -> tuple[dict[str, Any], str]:
    header = kinds.settlement_header(factory_id, period, total_fen)
    kinds.check_total(sheet, header)
    params = {"factory_id": header.factory_id, "period": header.period,
              "total_fen": header.total_fen}
    return params, f"{header.factory_id}/{header.period}"


async def _apply_later(res: Resources, task: ImportTask, apply: Apply, rows: Sequence[Any],
                       cells: Mapping[int, tuple[str, ...]], who: Actor) -> None:
    whole = task.kind == "number_card_settlement"  # H-31: one batch, one transaction
    async with res.pool.connection() as conn:
        await imports.run(conn, task, apply, rows, cells, who,
                          chunk=max(len(rows), 1) if whole else imports.CHUNK)


def _answer(task: ImportTask, code: int) -> JSONResponse:
    return JSONResponse(ImportTaskPublic.of(task).model_dump(mode="json"), status_code=code)


@router.post("/{kind}", status_code=201, response_model=ImportTaskPublic, responses={
    200: {"description": "the same file was uploaded within 24 h: its task (X-06)"},
    409: {"description": "`settlement_exists`"}, **UNAVAILABLE})
async def upload(kind: Kind, caller: Caller, db: Db, res: Res, request: Request,
                 background: BackgroundTasks, file: Annotated[UploadFile, File()],
                 factory_id: Annotated[str | None, Form(max_length=64)] = None,
                 period: Annotated[str | None, Form(max_length=7)] = None,
                 total_fen: Annotated[str | None, Form(max_length=20)] = None) -> Response:
    """Import a file (xlsx, or UTF-8 csv): 201 with the task, which applies its valid rows
    in the background; a file refused as a whole is 422 (and listed as `rejected`)."""
    if caller.role not in WRITERS:
        raise forbid("platform operators import")
    apply = imports.registered(kind)
    if apply is None:
        raise Unavailable()
    content = await _read(file)
    who = actor(caller, request)
    new = NewTask(f"IMP{uuid.uuid4().hex[:20]}", kind, _tenant(caller),
                  (file.filename or "upload")[:255], hashlib.sha256(content).hexdigest(), who)
    previous = await imports.same_file(db, new.kind, new.tenant, new.file_sha256)
    if previous is not None:
        return _answer(previous, 200)
    if kind == "number_card_settlement":
        kinds.settlement_header(factory_id, period, total_fen)  # a bad field: 422, no task
    try:
        sheet = read_sheet(content, MAX_ROWS[kind])
        params: dict[str, Any] = {}
        key: str | None = None
        if kind == "number_card_settlement":
            params, key = _settlement(sheet, factory_id, period, total_fen)
        known = (await imports.existing_iccids(db, kinds.iccids_of(sheet))
                 if kinds.needs_iccids(kind) else None)
        checked = kinds.check_rows(kind, sheet, RowContext(now(), known, SHANGHAI))
    except FileRefused as refused:
        await imports.reject(db, new, refused)
        raise
    if kind == "number_card_settlement":
        params["lines_fen"] = sum(getattr(row, "amount_fen", 0) for row in checked.valid)
    new = NewTask(new.task_id, new.kind, new.tenant, new.file_name, new.file_sha256, who,
                  params, key)
    task, created = await imports.start(db, new, checked.header, len(sheet.rows),
                                        checked.failed, SETTLEMENT_EXISTS)
    if created:
        background.add_task(_apply_later, res, task, apply, checked.valid, checked.cells, who)
    return _answer(task, 201 if created else 200)


@router.get("", response_model=list[ImportTaskPublic])
async def list_tasks(caller: Caller, db: Db, kind: Kind | None = None,
                     status: Status | None = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50,
                     offset: Annotated[int, Query(ge=0, le=100_000)] = 0
                     ) -> list[ImportTaskPublic]:
    """The import task list, newest first (X-05)."""
    _reader(caller)
    found = await imports.tasks(db, kind=kind, status=status, limit=limit, offset=offset)
    return [ImportTaskPublic.of(task) for task in found]


def _template(header: Sequence[str]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    text, bold = book.add_format({"num_format": "@"}), book.add_format({"bold": True})
    page = book.add_worksheet("导入模板")
    for column, name in enumerate(header):
        page.write_string(0, column, name, bold)
        page.set_column(column, column, 24, text)  # ICCIDs stay text, not rounded numbers
    book.close()
    return out.getvalue()


@router.get("/templates/{kind}.xlsx", response_class=Response,
            responses={200: {"content": {XLSX_TYPE: {}}}})
async def template(kind: Kind, caller: Caller) -> Response:
    """The kind's empty template: its exact column names (optional ones last)."""
    _reader(caller)
    return Response(_template((*COLUMNS[kind], *OPTIONAL[kind])), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": attachment(f"{kind}-template.xlsx")})


@router.get("/{task_id}", response_model=ImportTaskPublic, responses=NOT_FOUND)
async def get_task(task_id: str, caller: Caller, db: Db) -> ImportTaskPublic:
    """One task: while `running`, `rows_done` of `rows_total` are processed."""
    _reader(caller)
    return ImportTaskPublic.of(await imports.get(db, task_id))


@router.get("/{task_id}/failures.xlsx", response_class=Response,
            responses={200: {"content": {XLSX_TYPE: {}}}, **NOT_FOUND})
async def failure_file(task_id: str, caller: Caller, db: Db) -> Response:
    """The failed rows (G4-27): 行号, the uploaded columns, and 失败原因."""
    _reader(caller)
    task = await imports.get(db, task_id)
    rows = await imports.failures(db, task_id)
    body = as_xlsx(["行号", *task.header, "失败原因"],
                   ([row.row_no, *row.cells, row.error_zh] for row in rows), SHANGHAI,
                   sheet="失败明细")
    return Response(body, media_type=XLSX_TYPE,
                    headers={"Content-Disposition": attachment(f"{task_id}-failures.xlsx")})

