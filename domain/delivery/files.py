"""What a project's attachments may be (I-47): a type of the allow-list whose first bytes agree
with what the uploader declared, never an executable, at most the configured size. The upload
is judged by its content, not by its name: a `.pdf` whose bytes start with `MZ` is refused."""

from __future__ import annotations

import codecs
import mimetypes
from typing import Final

from domain.refusals import Refusal

PDF, PNG, JPEG, GIF = "application/pdf", "image/png", "image/jpeg", "image/gif"
ZIP = "application/zip"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TXT, CSV = "text/plain", "text/csv"
ALLOWED: Final = (PDF, PNG, JPEG, GIF, ZIP, XLSX, DOCX, TXT, CSV)
ALIASES: Final = {"image/jpg": JPEG, "image/pjpeg": JPEG, "application/x-zip-compressed": ZIP,
                  "application/csv": CSV, "text/comma-separated-values": CSV}
EXTENSIONS: Final = {".xlsx": XLSX, ".docx": DOCX, ".csv": CSV, ".txt": TXT, ".zip": ZIP}
# Magic numbers of executables and scripts: Windows PE, ELF, Mach-O (both byte orders, fat),
# Java classes share CAFEBABE with fat Mach-O; a `#!` script.
EXECUTABLE: Final = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
                     b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")
MAGIC: Final = {PDF: (b"%PDF-",), PNG: (b"\x89PNG\r\n\x1a\n",), JPEG: (b"\xff\xd8\xff",),
                GIF: (b"GIF87a", b"GIF89a"), ZIP: (b"PK\x03\x04", b"PK\x05\x06"),
                XLSX: (b"PK\x03\x04",), DOCX: (b"PK\x03\x04",)}
HEAD: Final = 8192  # bytes read to judge a file


class FileRefused(Refusal):
    """An attachment refused; `status` is the HTTP answer (413 or 415)."""

    status = 415


class TooLarge(FileRefused):
    status = 413
    code = "file_too_large"

    def __init__(self, limit: int) -> None:
        mib = f"{limit / (1 << 20):g}"
        super().__init__(message_zh=f"文件不能超过 {mib} MB",
                         message_en=f"A file must not exceed {mib} MB ({limit} bytes)")


class Executable(FileRefused):
    code = "file_executable"
    message_zh = "不允许上传可执行文件"
    message_en = "Executable files cannot be uploaded"


class Unsupported(FileRefused):
    code = "file_type_unsupported"
    message_zh = "不支持的文件类型（允许：PDF、PNG、JPEG、GIF、ZIP、XLSX、DOCX、TXT、CSV）"
    message_en = ("Unsupported file type (allowed: PDF, PNG, JPEG, GIF, ZIP, XLSX, DOCX, TXT, "
                  "CSV)")


class Mismatch(FileRefused):
    code = "file_type_mismatch"
    message_zh = "文件内容与声明的类型不符"
    message_en = "The file's content does not match its declared type"


class EmptyFile(FileRefused):
    status = 422
    code = "file_empty"
    message_zh = "文件为空"
    message_en = "The file is empty"


def declared_type(content_type: str | None, name: str) -> str:
    """The type the uploader claims: the part's content type, or the name's when the browser
    sent none (or only application/octet-stream)."""
    found = (content_type or "").split(";")[0].strip().lower()
    if found in ("", "application/octet-stream"):
        suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        found = EXTENSIONS.get(suffix) or mimetypes.guess_type(name)[0] or ""
    return ALIASES.get(found, found)


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head.removeprefix(codecs.BOM_UTF8))
    except UnicodeDecodeError:
        return False
    return True


def judge(head: bytes, content_type: str | None, name: str) -> str:
    """The stored content type of an upload whose first bytes are `head`, or the refusal."""
    if not head:
        raise EmptyFile()
    if head.startswith(EXECUTABLE):
        raise Executable()
    declared = declared_type(content_type, name)
    if declared not in ALLOWED:
        raise Unsupported()
    ok = _is_text(head) if declared in (TXT, CSV) else head.startswith(MAGIC[declared])
    if not ok:
        raise Mismatch()
    return declared


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise TooLarge(limit)
