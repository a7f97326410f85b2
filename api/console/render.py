"""Rendering the console: one Jinja2 environment per language (autoescaped, gettext installed),
the filters every page uses (money in 元 from fen, bytes, times in the tenant's zone), whole
pages and, for htmx requests, single blocks of a page."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from api.console.i18n import Lang, lang_of, translations
from api.console.words import ALERT_KINDS, REASONS, ROLE_NAMES, STATUS_NAMES
from core.money import Fen, yuan

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_TZ = "Asia/Shanghai"
_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human_bytes(value: int | None) -> str:
    """Bytes as operators count them (1 MB = 1024 KB), two decimals above a kilobyte."""
    if value is None:
        return "—"
    amount, unit = float(abs(value)), 0
    while amount >= 1024 and unit < len(_UNITS) - 1:
        amount, unit = amount / 1024, unit + 1
    sign = "-" if value < 0 else ""
    return f"{sign}{int(amount)} B" if unit == 0 else f"{sign}{amount:.2f} {_UNITS[unit]}"


def money(amount: Fen | int | None) -> str:
    """Integer fen as 元 with two decimals (`12.05 元`)."""
    return "—" if amount is None else f"{yuan(Fen(amount))} 元"


@pass_context
def when(context: Context, value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An instant (or its ISO text) in the time zone of the page (the tenant's, else
    Shanghai)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(ZoneInfo(context.get("tz") or DEFAULT_TZ)).strftime(fmt)


def percent(part: int | float, whole: int | float | None) -> str:
    if not whole:
        return "—"
    return f"{100 * part / whole:.1f} %"


def as_json(value: Any) -> Markup:
    """A value as JSON for a data-* attribute (escaped by the attribute's autoescape)."""
    return Markup.escape(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


@cache
def environment(lang: Lang) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                      undefined=StrictUndefined, extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(bytes=human_bytes, money=money, when=when, percent=percent,
                       json=as_json)
    env.globals.update(role_names=ROLE_NAMES, status_names=STATUS_NAMES, alert_kinds=ALERT_KINDS,
                       reason_names={code: name for code, (name, _) in REASONS.items()})
    return env


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def html(request: Request, template: str, context: Mapping[str, Any], *, status: int = 200,
         block: str | None = None, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """Render `template` (or only its `block`) in the request's language."""
    lang = lang_of(request)
    found = environment(lang).get_template(template)
    values = {"request": request, "lang": lang, **context}
    if block is None:
        body = found.render(values)
    else:
        body = "".join(found.blocks[block](found.new_context(values)))
    return HTMLResponse(body, status_code=status, headers=dict(headers or {}))
