"""A delivery project's files (I-47), messages (I-48) and notes (I-49).

Everyone who reads the project (api/routers/delivery_views.scope) lists and downloads its
files and reads its messages; notes are hidden from the customer (403). Attachments are added
by the person the current node waits for (its operator, or the customer on a customer node) or
the provider's admin; messages by the provider's people and the customer; notes by the
provider's people — and by the platform administrator signed in. A closed project (completed,
cancelled) takes no more messages, notes or files: 409 `project_closed` "项目已完结".

Uploads: multipart `file`, at most `delivery_file_max_bytes` (413), of the allow-list and with
bytes that agree with the declared type (415), kept on disk under the state directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse

from api.deps import Caller, Db, Principal, Res, forbid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.routers.delivery_views import scope
from api.routers.series import attachment
from api.schemas.delivery_views import FilePublic, TextCreate, TextPublic
from domain.delivery.files import FileRefused
from domain.delivery.views import (
    CLOSED,
    ProjectClosed,
    check_text,
    is_provider_admin,
    on_provider_side,
)
from store.db import Conn
from store.delivery import files, views
from store.delivery.files import Kind, Upload
from store.delivery.views import ProjectRow

router = APIRouter(tags=["delivery projects"], responses={**FORBIDDEN, **NOT_FOUND})
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "`project_closed` 项目已完结"},
    422: {"description": "`message_too_long` 留言内容不超过500字, `note_too_long` "
                         "备注内容不超过500字, `text_required`"}}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "`project_closed` 项目已完结"},
    413: {"description": "`file_too_large`"},
    415: {"description": "`file_type_unsupported`, `file_type_mismatch`, `file_executable`"}}


async def readable(caller: Principal, db: Conn, project_id: str) -> ProjectRow:
    """The project, if the caller reads it (else 404, or 403 without delivery projects)."""
    return await views.project(db, scope(caller), project_id)


def _person(caller: Principal) -> str:
    if caller.user_id is None:
        raise forbid("sign in as a person to write into a project")
    return caller.user_id


def may_write(caller: Principal, row: ProjectRow, kind: Kind) -> bool:
    """Messages: the provider's people and the customer; notes: the provider's people;
    both: the platform administrator (§7.2 "I delivery")."""
    if caller.role == "admin" or on_provider_side(caller.role, caller.dl_tenant_id,
                                                   row.provider_id):
        return True
    return kind == "message" and caller.role == "customer" \
        and row.customer_user_id == caller.user_id


async def may_upload(caller: Principal, db: Conn, row: ProjectRow) -> bool:
    """I-47: the current node's operator (or the customer of a customer node), or the
    provider's admin."""
    if caller.role == "admin" or is_provider_admin(caller.role, caller.dl_tenant_id,
                                                    row.provider_id):
        return True
    return caller.user_id is not None and await views.waits_for(
        db, row.project_id, caller.user_id, caller.dl_tenant_id)


def file_name(name: str | None) -> str:
    """The uploaded file's name as text PostgreSQL stores (no NUL, no lone surrogate)."""
    text = (name or "upload").replace("\x00", "")[:255] or "upload"
    return text.encode("utf-8", "replace").decode("utf-8")


def _refused(exc: FileRefused) -> JSONResponse:
    return JSONResponse({"detail": exc.as_detail()}, status_code=exc.status)


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(files.CHUNK):
        yield chunk


async def upload(caller: Principal, db: Conn, root: Path, limit: int, project_id: str,
                 file: UploadFile) -> FilePublic:
    """Add an attachment (raises FileRefused, ProjectClosed, 403)."""
    row = await readable(caller, db, project_id)
    user_id = _person(caller)
    if not await may_upload(caller, db, row):
        raise forbid("only the current node's operator or the provider's admin adds files")
    if row.status in CLOSED:
        raise ProjectClosed()
    made = await files.add_file(
        db, root, project_id, row.node_key, Upload(file_name(file.filename),
                                                   file.content_type, _chunks(file)),
        user_id=user_id, role=row.node_role or caller.role, limit=limit)
    return FilePublic.model_validate(made)


@router.post("/v1/delivery/projects/{project_id}/files", status_code=status.HTTP_201_CREATED,
             response_model=FilePublic, responses=UPLOAD_ERRORS)
async def add_file(project_id: str, caller: Caller, db: Db, res: Res,
                   file: Annotated[UploadFile, File()]) -> FilePublic | JSONResponse:
    """I-47: attach a file (multipart `file`) at the project's current node."""
    try:
        return await upload(caller, db, res.settings.state_dir,
                            res.settings.delivery_file_max_bytes, project_id, file)
    except FileRefused as exc:
        return _refused(exc)


@router.get("/v1/delivery/projects/{project_id}/files", response_model=list[FilePublic])
async def list_files(project_id: str, caller: Caller, db: Db) -> list[FilePublic]:
    """I-47: the files with name, upload time, size, uploader + role and node."""
    await readable(caller, db, project_id)
    return [FilePublic.model_validate(f) for f in await files.files(db, project_id)]


@router.get("/v1/delivery/projects/{project_id}/files/{file_id}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
async def download(project_id: str, file_id: str, caller: Caller, db: Db,
                   res: Res) -> FileResponse:
    """The file's bytes, as uploaded (its sha256 in the list)."""
    await readable(caller, db, project_id)
    found = (await files.files(db, project_id, file_id))[0]
    return FileResponse(files.file_path(res.settings.state_dir, project_id, file_id),
                        media_type=found.content_type,
                        headers={"Content-Disposition": attachment(found.name),
                                 "X-Content-SHA256": found.sha256})


async def write_text(caller: Principal, db: Conn, project_id: str, kind: Kind,
                     body: str) -> TextPublic:
    row = await readable(caller, db, project_id)
    user_id = _person(caller)
    if not may_write(caller, row, kind):
        raise forbid(f"{caller.role} may not add a {kind} to this project")
    text = check_text(kind, body, row.status)
    return TextPublic.model_validate(await files.add_text(db, project_id, kind, user_id, text))


async def read_texts(caller: Principal, db: Conn, project_id: str,
                     kind: Kind) -> list[TextPublic]:
    await readable(caller, db, project_id)
    if kind == "note" and caller.role == "customer":
        raise forbid("notes are not visible to the customer (I-49)")
    return [TextPublic.model_validate(t) for t in await files.texts(db, project_id, kind)]


@router.post("/v1/delivery/projects/{project_id}/messages", response_model=TextPublic,
             status_code=status.HTTP_201_CREATED, responses=CHANGE_ERRORS)
async def add_message(project_id: str, body: TextCreate, caller: Caller, db: Db) -> TextPublic:
    """I-48: a message (≤ 500 characters) for the customer and every participant."""
    return await write_text(caller, db, project_id, "message", body.body)


@router.get("/v1/delivery/projects/{project_id}/messages", response_model=list[TextPublic])
async def list_messages(project_id: str, caller: Caller, db: Db) -> list[TextPublic]:
    return await read_texts(caller, db, project_id, "message")


@router.post("/v1/delivery/projects/{project_id}/notes", response_model=TextPublic,
             status_code=status.HTTP_201_CREATED, responses=CHANGE_ERRORS)
async def add_note(project_id: str, body: TextCreate, caller: Caller, db: Db) -> TextPublic:
    """I-49: a provider-side note (≤ 500 characters), never shown to the customer."""
    return await write_text(caller, db, project_id, "note", body.body)


@router.get("/v1/delivery/projects/{project_id}/notes", response_model=list[TextPublic])
async def list_notes(project_id: str, caller: Caller, db: Db) -> list[TextPublic]:
    """I-49: the notes; a customer is refused (403)."""
    return await read_texts(caller, db, project_id, "note")
