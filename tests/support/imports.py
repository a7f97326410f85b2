"""Import files in tests: workbooks and CSV written the way Excel users write them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import xlsxwriter
from python_calamine import CalamineWorkbook

Value = str | int | float | datetime | None


def xlsx(header: Sequence[str], rows: Sequence[Sequence[Value]]) -> bytes:
    """A workbook whose first sheet has `header` then `rows` (str as text, numbers as
    numbers, datetimes as date cells, None as an empty cell)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    page = book.add_worksheet("Sheet1")
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for column, name in enumerate(header):
        page.write_string(0, column, name)
    for line, row in enumerate(rows, start=1):
        for column, cell in enumerate(row):
            if isinstance(cell, str):
                page.write_string(line, column, cell)
            elif isinstance(cell, datetime):
                page.write_datetime(line, column, cell, when)
            elif cell is not None:
                page.write_number(line, column, cell)
    book.close()
    return out.getvalue()


def csv_bom(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """UTF-8 CSV with the byte-order mark Excel writes."""
    lines = [",".join(header), *(",".join(row) for row in rows)]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def read_xlsx(body: bytes) -> list[list[object]]:
    """The first sheet of a workbook, as python-calamine reads it."""
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(body)).get_sheet_by_index(0)
    return [list(row) for row in sheet.to_python()]
