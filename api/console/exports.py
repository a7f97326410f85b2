"""Exports of the lists the console shows: CSV in UTF-8 with a byte-order mark (so Excel reads
Chinese correctly) and XLSX written with XlsxWriter. Text stays text: an ICCID is 19–20 digits,
which a spreadsheet would otherwise turn into a rounded number, so every `str` cell is written
as a string, in CSV and XLSX alike; numbers stay numbers; instants are written in ISO form in
the page's time zone."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import xlsxwriter
from fastapi import Response
from fastapi.responses import StreamingResponse

from api.routers.series import attachment

Format = Literal["csv", "xlsx"]
Cell = str | int | float | datetime | None
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text(cell: Cell, tz: ZoneInfo) -> str | int | float:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.astimezone(tz).isoformat(timespec="seconds")
    return cell


def as_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]], tz: ZoneInfo) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_text(cell, tz) for cell in row])
    return "\ufeff".encode() + out.getvalue().encode()


def as_xlsx(header: Sequence[str], rows: Iterable[Sequence[Cell]], tz: ZoneInfo,
            sheet: str = "CardPulse") -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    page = book.add_worksheet(sheet[:31])
    widths = [len(name) + 2 for name in header]
    for column, name in enumerate(header):
        page.write_string(0, column, name, bold)
    for line, row in enumerate(rows, start=1):
        for column, cell in enumerate(row):
            value = _text(cell, tz)
            if isinstance(value, str):
                page.write_string(line, column, value)
            else:
                page.write_number(line, column, value)
            widths[column] = min(60, max(widths[column], len(str(value)) + 2))
    for column, width in enumerate(widths):
        page.set_column(column, column, width)
    page.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def export(fmt: Format, name: str, header: Sequence[str], rows: Iterable[Sequence[Cell]],
           tz: str = "Asia/Shanghai") -> Response:
    """The rows as a download named `name.csv` or `name.xlsx`."""
    zone = ZoneInfo(tz)
    if fmt == "csv":
        body, media = as_csv(header, rows, zone), CSV_TYPE
    else:
        body, media = as_xlsx(header, rows, zone), XLSX_TYPE
    return Response(body, media_type=media,
                    headers={"Content-Disposition": attachment(f"{name}.{fmt}")})


def _csv_lines(rows: Iterable[Sequence[Cell]], tz: ZoneInfo) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([_text(cell, tz) for cell in row] for row in rows)
    return out.getvalue().encode()


def stream_csv(name: str, header: Sequence[str], batches: AsyncIterator[Sequence[Sequence[Cell]]],
               tz: str = "Asia/Shanghai") -> StreamingResponse:
    """Rows arriving in batches as a CSV download (BOM and header first), sent as they come:
    a list of a million rows is never held whole."""
    zone = ZoneInfo(tz)

    async def body() -> AsyncIterator[bytes]:
        yield "\ufeff".encode() + _csv_lines([header], zone)
        async for batch in batches:
            yield _csv_lines(batch, zone)

    return StreamingResponse(body(), media_type=CSV_TYPE,
                             headers={"Content-Disposition": attachment(f"{name}.csv")})
