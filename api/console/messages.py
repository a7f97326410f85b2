"""Finding the console's messages and the ones the Chinese catalogue lacks (used by
scripts/catalogue.py and by tests/unit/test_console_i18n.py)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from api.console.i18n import LOCALE

CONSOLE = Path(__file__).parent
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "N_": None, "gettext": None}


def extracted() -> dict[str, str]:
    """Every message of the console and the first place it is used."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            CONSOLE, METHODS, OPTIONS, KEYWORDS):
        text = message if isinstance(message, str) else message[0]
        if text:
            found.setdefault(text, f"api/console/{filename}:{lineno}")
    return found


def translated() -> dict[str, str]:
    """msgid → msgstr over every area file (non-empty, not fuzzy)."""
    out: dict[str, str] = {}
    for po in sorted(LOCALE.glob("*.po")):
        with po.open("rb") as source:
            for entry in read_po(source, locale="zh_CN"):
                if entry.id and isinstance(entry.string, str) and entry.string \
                        and not entry.fuzzy:
                    out[str(entry.id)] = entry.string
    return out


def missing() -> dict[str, str]:
    have = translated()
    return {message: where for message, where in extracted().items() if message not in have}


def add_missing(area: str, messages: dict[str, str]) -> Path:
    """Append `messages` with empty translations to locale/zh_CN/<area>.po."""
    path = LOCALE / f"{area}.po"
    catalog = Catalog(locale="zh_CN", project="CardPulse console")
    if path.exists():
        with path.open("rb") as source:
            catalog = read_po(source, locale="zh_CN")
    for message, where in messages.items():
        if message not in catalog:
            file, line = where.rsplit(":", 1)
            flags = ["python-format"] if "%(" in message else []
            catalog.add(message, "", locations=[(file, int(line))], flags=flags)
    with path.open("wb") as target:
        write_po(target, catalog, width=100, omit_header=False, sort_output=False)
    return path
