"""A project's attachments (I-47), messages (I-48) and notes (I-49).

A file's bytes live on disk under `<state_dir>/delivery-files/<project_id>/<file_id>`, written
to a temporary name first and renamed once whole, its row (name, type, size, sha256, who, at
which node) in `dl_project_files`. Messages and notes share `dl_project_messages` by `kind`;
notes are never read for a customer (the API refuses before it gets here)."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from psycopg.rows import class_row

from domain.delivery.files import HEAD, check_size, judge
from store.db import Conn
from store.errors import NotFound

Kind = Literal["message", "note"]
CHUNK = 1 << 20
_ADD_FILE = """
INSERT INTO dl_project_files (file_id, project_id, node_key, name, content_type, size_bytes,
                              sha256, uploaded_by, uploader_role)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING file_id
"""
_FILES = """
SELECT f.file_id, f.project_id, f.node_key, coalesce(r.name, f.node_key, '') AS node_name,
       f.name, f.content_type, f.size_bytes, f.sha256, f.uploaded_by,
       coalesce(u.display_name, u.login) AS uploader_name, f.uploader_role, f.uploaded_at
FROM dl_project_files f JOIN users u ON u.user_id = f.uploaded_by
LEFT JOIN LATERAL (SELECT name FROM dl_node_runs n WHERE n.project_id = f.project_id
                   AND n.node_key = f.node_key ORDER BY run_id DESC LIMIT 1) r ON true
WHERE f.project_id = %s AND (%s::text IS NULL OR f.file_id = %s)
ORDER BY f.uploaded_at, f.file_id
"""
_ADD_TEXT = """
INSERT INTO dl_project_messages (project_id, kind, author_id, author_name, body)
VALUES (%s, %s, %s, %s, %s) RETURNING message_id, project_id, kind, author_id, author_name,
    body, at
"""
_TEXTS = """
SELECT message_id, project_id, kind, author_id, author_name, body, at
FROM dl_project_messages WHERE project_id = %s AND kind = %s ORDER BY message_id
"""
_AUTHOR = "SELECT coalesce(display_name, login) FROM users WHERE user_id = %s"


@dataclass(frozen=True)
class ProjectFile:
    file_id: str
    project_id: str
    node_key: str | None
    node_name: str
    name: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploader_name: str
    uploader_role: str
    uploaded_at: datetime


@dataclass(frozen=True)
class Text:
    """A message or a note."""

    message_id: int
    project_id: str
    kind: str
    author_id: str
    author_name: str
    body: str
    at: datetime


@dataclass(frozen=True)
class Upload:
    """An upload as it arrives: its name, declared type and a stream of its bytes."""

    name: str
    content_type: str | None
    chunks: AsyncIterator[bytes]


def file_path(root: Path, project_id: str, file_id: str) -> Path:
    return root / "delivery-files" / project_id / file_id


async def _save(upload: Upload, target: Path, limit: int) -> tuple[str, int, str]:
    """Write the upload to `target` (judged by its first bytes, at most `limit` bytes): its
    content type, size and sha256. Nothing is left behind when it is refused."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest, size, head, kind = hashlib.sha256(), 0, b"", ""
    try:
        with partial.open("wb") as out:
            async for chunk in upload.chunks:
                if not kind:
                    head += chunk
                    if len(head) < HEAD:
                        continue
                    kind = judge(head[:HEAD], upload.content_type, upload.name)
                    chunk, head = head, b""
                size += len(chunk)
                check_size(size, limit)
                digest.update(chunk)
                out.write(chunk)
            if not kind:
                kind = judge(head, upload.content_type, upload.name)
                size += len(head)
                check_size(size, limit)
                digest.update(head)
                out.write(head)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return kind, size, digest.hexdigest()


async def add_file(conn: Conn, root: Path, project_id: str, node_key: str | None,
                   upload: Upload, *, user_id: str, role: str, limit: int) -> ProjectFile:
    """Store an attachment of the project (the caller has checked who may)."""
    file_id = "f_" + secrets.token_hex(10)
    target = file_path(root, project_id, file_id)
    kind, size, sha = await _save(upload, target, limit)
    try:
        await conn.execute(_ADD_FILE, (file_id, project_id, node_key, upload.name, kind, size,
                                       sha, user_id, role))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return (await files(conn, project_id, file_id))[0]


async def files(conn: Conn, project_id: str, file_id: str | None = None) -> list[ProjectFile]:
    """The project's attachments, oldest first (or the one `file_id`)."""
    async with conn.cursor(row_factory=class_row(ProjectFile)) as cur:
        await cur.execute(_FILES, (project_id, file_id, file_id))
        found = await cur.fetchall()
    if file_id is not None and not found:
        raise NotFound(f"file {file_id!r}")
    return found


async def add_text(conn: Conn, project_id: str, kind: Kind, user_id: str, body: str) -> Text:
    """Add a message or note (already checked: domain.delivery.views.check_text)."""
    author = await (await conn.execute(_AUTHOR, (user_id,))).fetchone()
    async with conn.cursor(row_factory=class_row(Text)) as cur:
        await cur.execute(_ADD_TEXT, (project_id, kind, user_id,
                                      author[0] if author else user_id, body))
        made = await cur.fetchone()
    if made is None:
        raise NotFound(f"project {project_id!r}")
    return made


async def texts(conn: Conn, project_id: str, kind: Kind) -> list[Text]:
    """The project's messages or notes, oldest first."""
    async with conn.cursor(row_factory=class_row(Text)) as cur:
        await cur.execute(_TEXTS, (project_id, kind))
        return await cur.fetchall()
