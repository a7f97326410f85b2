"""Exports keep ICCIDs as text, Chinese readable in Excel (a BOM), numbers as numbers."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from python_calamine import CalamineWorkbook

from api.console.exports import Cell, as_csv, as_xlsx

pytestmark = pytest.mark.req("CONSOLE")
HEADER = ["ICCID", "状态", "用量 (bytes)", "时间"]
ROWS: list[list[Cell]] = [
    ["89860012345678901234", "停机", 1_073_741_824, datetime(2026, 12, 1, 1, 0, tzinfo=UTC)],
    ["89860000000000000017", "正常", 0, None]]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_csv_has_a_bom_and_keeps_iccids_whole() -> None:
    body = as_csv(HEADER, ROWS, SHANGHAI)
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig").splitlines()
    assert text[0] == "ICCID,状态,用量 (bytes),时间"
    assert text[1] == "89860012345678901234,停机,1073741824,2026-12-01T09:00:00+08:00"
    assert text[2] == "89860000000000000017,正常,0,"


def test_xlsx_writes_iccids_as_text_and_usage_as_numbers() -> None:
    book = CalamineWorkbook.from_filelike(io.BytesIO(as_xlsx(HEADER, ROWS, SHANGHAI)))
    rows = book.get_sheet_by_index(0).to_python()
    assert rows[0] == HEADER
    assert rows[1][0] == "89860012345678901234" and isinstance(rows[1][0], str)
    assert rows[1][2] == 1_073_741_824
    assert rows[2][0] == "89860000000000000017"
