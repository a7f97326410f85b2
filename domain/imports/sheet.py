"""Reading an uploaded file's first sheet into text cells.

XLSX (and XLS, ODS) are read with python-calamine; anything that is not a workbook is read as
CSV in UTF-8 (a byte-order mark is accepted: Excel writes one). Every cell becomes trimmed
text, except date-time cells, which stay `datetime` (naive, as the workbook stores them).
Numbers never pass through float arithmetic: a numeric cell is written out from its shortest
float representation with `Decimal` (`100.0` → "100", `12.5` → "12.5"), so an integral amount
stays exactly that integer and a fractional one is visibly fractional.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from python_calamine import CalamineWorkbook

from domain.imports.errors import EmptyFile, TooManyRows, Unreadable

Cell = str | datetime
# Signatures of workbook files: ZIP (xlsx, ods, xlsb) and OLE2 (xls).
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


@dataclass(frozen=True)
class SheetRow:
    """One data row: `row_no` is its row number in the sheet (the header is row 1)."""

    row_no: int
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Sheet:
    header: tuple[str, ...]
    rows: tuple[SheetRow, ...]


def cell_text(value: object) -> Cell:
    """A cell as trimmed text (date-times kept as `datetime`)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        number = Decimal(repr(value))
        if number == number.to_integral_value():
            return str(int(number))
        return format(number.normalize(), "f")
    if isinstance(value, time | timedelta):
        return str(value)
    return str(value).strip()


def as_text(cell: Cell) -> str:
    """A cell as it is written back to a failure file."""
    return cell.isoformat(sep=" ") if isinstance(cell, datetime) else cell


def _raw_rows(content: bytes) -> list[list[object]]:
    if content.startswith(_WORKBOOK_MAGIC):
        try:
            book = CalamineWorkbook.from_filelike(io.BytesIO(content))
            if not book.sheet_names:
                return []
            sheet = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
            return [list(row) for row in sheet]
        except Exception as exc:  # calamine's own errors: any damaged workbook
            raise Unreadable() from exc
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable() from exc
    if "\x00" in text:
        raise Unreadable()
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]


def _blank(cells: Sequence[Cell]) -> bool:
    return all(cell == "" for cell in cells)


def read_sheet(content: bytes, max_rows: int) -> Sheet:
    """The first sheet's header and its non-blank data rows; a file with no data rows, or
    more than `max_rows`, is refused as a whole (G4-27, AMB-06)."""
    raw = _raw_rows(content)
    if not raw:
        raise EmptyFile()
    header = tuple(as_text(cell_text(value)) for value in raw[0])
    while header and header[-1] == "":
        header = header[:-1]
    rows: list[SheetRow] = []
    for number, values in enumerate(raw[1:], start=2):
        cells = tuple(cell_text(value) for value in values[:len(header)])
        if _blank(cells):
            continue
        if len(rows) == max_rows:
            raise TooManyRows(max_rows)
        rows.append(SheetRow(number, cells + ("",) * (len(header) - len(cells))))
    if not rows:
        raise EmptyFile()
    return Sheet(header, tuple(rows))
