"""The console's languages: Simplified Chinese (the default) and English, from one gettext
catalogue. Messages are written in English in the code and templates; the Chinese text lives in
`locale/zh_CN/*.po` (one file per area of the console, merged when loaded), read with Babel and
compiled in memory: there is no build step, and `tests/unit/test_console_i18n.py` fails when a
message has no translation.
"""

from __future__ import annotations

import io
from functools import cache
from gettext import NullTranslations
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")
DEFAULT: Lang = "zh-CN"
LANG_COOKIE = "cardpulse_lang"
LOCALE = Path(__file__).parent / "locale" / "zh_CN"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark a message for the catalogue where it is defined; it is translated where shown."""
    return message


def lang_of(request: Request) -> Lang:
    """The language the person chose (a cookie), else Chinese."""
    chosen = request.cookies.get(LANG_COOKIE)
    for lang in LANGS:
        if chosen == lang:
            return lang
    return DEFAULT


def _compiled(po: Path) -> Translations:
    with po.open("rb") as source:
        catalog = read_po(source, locale="zh_CN")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=po.stem)


@cache
def translations(lang: Lang) -> NullTranslations:
    """The translations of `lang` (English is the catalogue's own language)."""
    if lang == "en":
        return NullTranslations()
    merged = Translations()
    for po in sorted(LOCALE.glob("*.po")):
        merged.merge(_compiled(po))
    return merged
