"""The import task list (specs/business.md X-05, X-06, G4-27): tasks, their failed rows (the
failure file) and the registry of what applies each kind's valid rows.

A kind registers `apply(conn, task, rows) -> Applied(failures, summary)`; `run` calls it on
chunks of the valid rows, each chunk in ONE transaction together with its failed rows and the
task's counters, so a row is applied entirely or not at all, and `rows_done` shows progress.
An `apply` must be idempotent per row (a task that failed may be uploaded again). A kind with
nothing registered cannot be imported (`registered` is None; the API answers 503).

X-06: `start` returns the task of the same file (kind, tenant, SHA-256) created within 24 h
that is running or done, instead of a new one; an advisory lock on that triple makes two
simultaneous uploads of one file yield one task. A kind's `natural_key` (a settlement's
factory and period, H-36) may have only one running or done task: another is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from domain.imports.table import FailedRow
from domain.refusals import Refusal
from store import audit
from store.agents import Actor
from store.db import Conn
from store.errors import NotFound

log = logging.getLogger(__name__)
Status = Literal["running", "done", "failed", "rejected"]
Outcome = Literal["all_succeeded", "partly_succeeded", "all_failed"]
CHUNK = 500
SUBJECT = "import_task"


@dataclass(frozen=True)
class ImportTask:
    task_id: str
    kind: str
    tenant: str
    file_name: str
    file_sha256: str
    params: dict[str, Any]
    header: list[str]
    status: Status
    rows_total: int
    rows_done: int
    rows_ok: int
    rows_failed: int
    error: dict[str, str] | None
    result: dict[str, Any]
    created_by: str
    created_role: str
    created_at: datetime
    finished_at: datetime | None
    natural_key: str | None

    @property
    def outcome(self) -> Outcome | None:
        """G4-27: 全部成功 / 部分成功 / 全部失败, once done."""
        if self.status != "done":
            return None
        if self.rows_failed == 0:
            return "all_succeeded"
        return "all_failed" if self.rows_ok == 0 else "partly_succeeded"


@dataclass(frozen=True)
class NewTask:
    """An upload, before it is checked: who, what, which file."""

    task_id: str
    kind: str
    tenant: str
    file_name: str
    file_sha256: str
    actor: Actor
    params: Mapping[str, Any] = field(default_factory=dict)
    natural_key: str | None = None


@dataclass(frozen=True)
class RowFailure:
    """A valid row the apply step could not apply, and why (its 失败原因)."""

    row_no: int
    message_zh: str
    message_en: str


class Applied(NamedTuple):
    """What `apply` did with a chunk: the rows it failed, and its summary (merged over the
    chunks: numbers are added, lists joined, anything else the last one)."""

    failures: Sequence[RowFailure] = ()
    summary: Mapping[str, Any] = {}


Apply = Callable[[Conn, ImportTask, Sequence[Any]], Awaitable[Applied]]
_APPLY: dict[str, Apply] = {}


class NaturalKeyTaken(Refusal):
    """Another running or done task has this kind's natural key (refined per kind)."""

    code = "import_exists"
    message_zh = "该文件已导入"
    message_en = "This import has already been made"


def register(kind: str, apply: Apply) -> None:
    """Make `kind` importable: `apply` applies its valid rows (see the module's docstring)."""
    _APPLY[kind] = apply


def unregister(kind: str) -> None:
    _APPLY.pop(kind, None)


def registered(kind: str) -> Apply | None:
    return _APPLY.get(kind)


_SAME_FILE = """
SELECT * FROM import_tasks
WHERE kind = %s AND tenant = %s AND file_sha256 = %s AND status IN ('running', 'done')
  AND created_at > cp_now() - interval '24 hours'
ORDER BY created_at DESC LIMIT 1
"""
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
_INSERT = """
INSERT INTO import_tasks (task_id, kind, tenant, file_name, file_sha256, params, header, status,
                          rows_total, rows_done, rows_failed, error, created_by, created_role,
                          finished_at, natural_key)
VALUES (%(task_id)s, %(kind)s, %(tenant)s, %(file_name)s, %(file_sha256)s, %(params)s,
        %(header)s, %(status)s, %(rows_total)s, %(rows_failed)s, %(rows_failed)s, %(error)s,
        %(created_by)s, %(created_role)s,
        CASE WHEN %(status)s = 'running' THEN NULL ELSE cp_now() END, %(natural_key)s)
RETURNING *
"""
_ROWS_COPY = "COPY import_task_rows (task_id, row_no, cells, error_zh, error_en) FROM STDIN"


async def same_file(conn: Conn, kind: str, tenant: str, sha256: str) -> ImportTask | None:
    """X-06: the running or done task of this file uploaded within the last 24 h."""
    cur = conn.cursor(row_factory=class_row(ImportTask))
    return await (await cur.execute(_SAME_FILE, (kind, tenant, sha256))).fetchone()


async def _insert(conn: Conn, new: NewTask, status: Status, header: Sequence[str],
                  rows_total: int, rows_failed: int, error: Refusal | None) -> ImportTask:
    cur = conn.cursor(row_factory=class_row(ImportTask))
    await cur.execute(_INSERT, {
        "task_id": new.task_id, "kind": new.kind, "tenant": new.tenant,
        "file_name": new.file_name, "file_sha256": new.file_sha256,
        "params": Jsonb(dict(new.params)), "header": list(header), "status": status,
        "rows_total": rows_total, "rows_failed": rows_failed,
        "error": Jsonb(error.as_detail()) if error else None,
        "created_by": new.actor.who, "created_role": new.actor.role,
        "natural_key": new.natural_key if status == "running" else None})
    task = await cur.fetchone()
    if task is None:  # pragma: no cover - INSERT … RETURNING returns the row
        raise RuntimeError("import task not inserted")
    return task


async def _save_failures(conn: Conn, task_id: str, rows: Iterable[FailedRow]) -> None:
    async with conn.cursor().copy(_ROWS_COPY) as copy:
        for row in rows:
            await copy.write_row((task_id, row.row_no, list(row.cells), row.reason_zh,
                                  row.reason_en))


async def start(conn: Conn, new: NewTask, header: Sequence[str], rows_total: int,
                failed: Sequence[FailedRow], taken: Refusal | None = None
                ) -> tuple[ImportTask, bool]:
    """Create the `running` task of a checked file with its failed rows, or return the task
    of the same file (X-06): `(task, created)`. `taken`: the refusal when the natural key
    already has a live task (else a generic one)."""
    async with conn.transaction():
        await conn.execute(_LOCK, (f"import:{new.kind}:{new.tenant}:{new.file_sha256}",))
        previous = await same_file(conn, new.kind, new.tenant, new.file_sha256)
        if previous is not None:
            return previous, False
        try:
            async with conn.transaction():
                task = await _insert(conn, new, "running", header, rows_total, len(failed),
                                     None)
        except psycopg.errors.UniqueViolation:
            raise (taken or NaturalKeyTaken()) from None
        await _save_failures(conn, task.task_id, failed)
        await audit.record(conn, new.actor.transition(
            SUBJECT, task.task_id, None, "running", import_kind=new.kind, file_name=new.file_name,
            rows_total=rows_total, rows_failed=len(failed)))
    return task, True


async def reject(conn: Conn, new: NewTask, refusal: Refusal) -> ImportTask:
    """Record a file refused as a whole (status `rejected`, its refusal as `error`)."""
    async with conn.transaction():
        task = await _insert(conn, new, "rejected", (), 0, 0, refusal)
        await audit.record(conn, new.actor.transition(
            SUBJECT, task.task_id, None, "rejected", refusal.message_zh, import_kind=new.kind,
            file_name=new.file_name, code=refusal.code))
    return task


_PROGRESS = """
UPDATE import_tasks SET rows_done = rows_done + %s, rows_ok = rows_ok + %s,
                        rows_failed = rows_failed + %s, result = %s
WHERE task_id = %s AND status = 'running'
"""
_FINISH = """
UPDATE import_tasks SET status = %s, error = %s, finished_at = cp_now()
WHERE task_id = %s AND status = 'running'
"""


def merge(summary: dict[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """Chunk summaries combined: numbers added, lists joined, anything else replaced."""
    merged = dict(summary)
    for key, value in more.items():
        old = merged.get(key)
        if isinstance(value, int | float) and isinstance(old, int | float) \
                and not isinstance(value, bool):
            merged[key] = old + value
        elif isinstance(value, list) and isinstance(old, list):
            merged[key] = old + value
        else:
            merged[key] = value
    return merged


async def _chunk(conn: Conn, task: ImportTask, apply: Apply, rows: Sequence[Any],
                 cells: Mapping[int, tuple[str, ...]], summary: dict[str, Any]
                 ) -> dict[str, Any]:
    async with conn.transaction():
        applied = Applied(*await apply(conn, task, rows))
        numbers = {row.row_no for row in rows}
        failed = {f.row_no: f for f in applied.failures if f.row_no in numbers}
        async with conn.cursor().copy(_ROWS_COPY) as copy:
            for row_no, why in sorted(failed.items()):
                await copy.write_row((task.task_id, row_no, list(cells.get(row_no, ())),
                                      why.message_zh, why.message_en))
        summary = merge(summary, applied.summary)
        await conn.execute(_PROGRESS, (len(rows), len(rows) - len(failed), len(failed),
                                       Jsonb(summary), task.task_id))
    return summary


async def run(conn: Conn, task: ImportTask, apply: Apply, rows: Sequence[Any],
              cells: Mapping[int, tuple[str, ...]], actor: Actor,
              chunk: int = CHUNK) -> ImportTask:
    """Apply the valid `rows` of a running task chunk by chunk, then finish it: `done`, or
    `failed` if `apply` raised (the chunks before stay applied; the broken one is not)."""
    summary: dict[str, Any] = dict(task.result)
    status: Status = "done"
    error: dict[str, str] | None = None
    try:
        for start_at in range(0, len(rows), chunk):
            summary = await _chunk(conn, task, apply, rows[start_at:start_at + chunk], cells,
                                   summary)
    except Exception as exc:
        log.exception("import %s (%s) failed", task.task_id, task.kind)
        status = "failed"
        error = {"code": "import_failed", "message_zh": "导入处理失败，请稍后重新上传",
                 "message_en": f"The import failed while applying rows: {type(exc).__name__}"}
    async with conn.transaction():
        await conn.execute(_FINISH, (status, Jsonb(error) if error else None, task.task_id))
        await audit.record(conn, actor.transition(SUBJECT, task.task_id, "running", status,
                                                  error["message_en"] if error else None))
    return await get(conn, task.task_id)


async def get(conn: Conn, task_id: str) -> ImportTask:
    cur = conn.cursor(row_factory=class_row(ImportTask))
    found = await (await cur.execute("SELECT * FROM import_tasks WHERE task_id = %s",
                                     (task_id,))).fetchone()
    if found is None:
        raise NotFound(f"import task {task_id!r}")
    return found


async def tasks(conn: Conn, *, kind: str | None = None, status: Status | None = None,
                limit: int = 50, offset: int = 0) -> list[ImportTask]:
    """The task list, newest first."""
    cur = conn.cursor(row_factory=class_row(ImportTask))
    await cur.execute(
        "SELECT * FROM import_tasks WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)"
        " AND (%(status)s::text IS NULL OR status = %(status)s)"
        " ORDER BY created_at DESC, task_id DESC LIMIT %(limit)s OFFSET %(offset)s",
        {"kind": kind, "status": status, "limit": limit, "offset": offset})
    return await cur.fetchall()


@dataclass(frozen=True)
class FailureRow:
    row_no: int
    cells: list[str]
    error_zh: str
    error_en: str


async def failures(conn: Conn, task_id: str) -> list[FailureRow]:
    """The failed rows of a task in sheet order (the failure file's lines)."""
    cur = conn.cursor(row_factory=class_row(FailureRow))
    await cur.execute("SELECT row_no, cells, error_zh, error_en FROM import_task_rows"
                      " WHERE task_id = %s ORDER BY row_no", (task_id,))
    return await cur.fetchall()


async def existing_iccids(conn: Conn, iccids: Iterable[str]) -> frozenset[str]:
    """Which of `iccids` are registered cards (one query for a whole file)."""
    wanted = sorted(set(iccids))
    if not wanted:
        return frozenset()
    rows = await (await conn.execute("SELECT iccid FROM cards WHERE iccid = ANY(%s)",
                                     (wanted,))).fetchall()
    return frozenset(str(row[0]) for row in rows)
