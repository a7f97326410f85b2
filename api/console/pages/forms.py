"""What the settings and ops pages share: messages said in the reader's language, the first
problem of a refused form, and the rows of a list exported as CSV or XLSX."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fastapi import Request, Response
from pydantic import ValidationError

from api.console.exports import Cell, Format, export
from api.console.i18n import lang_of, translations


def say(request: Request, message: str, **values: object) -> str:
    """An English catalogue message in the reader's language, with its placeholders filled."""
    text = translations(lang_of(request)).gettext(message)
    return text % values if values else text


def problem_of(exc: ValidationError) -> str:
    """The first reason a form's value was refused, as pydantic words it (`field: why`)."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    reason = str(error["msg"]).removeprefix("Value error, ")
    return f"{field}: {reason}" if field else reason


def download(request: Request, fmt: Format, name: str, header: Sequence[str],
             rows: Iterable[Sequence[Cell]], tz: str = "Asia/Shanghai") -> Response:
    """A list as a file, its column names in the reader's language."""
    return export(fmt, name, [say(request, column) for column in header], rows, tz)
