"""Import files, read and checked without I/O (X-05, G4-27, AMB-06, AMB-48): the sheet, the
whole-file refusals, and each commission kind's row checks with the spec's messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.money import Fen
from domain.imports.errors import (
    BadSettlementHeader,
    EmptyFile,
    SettlementTotalMismatch,
    TemplateMismatch,
    TooManyRows,
    Unreadable,
)
from domain.imports.kinds import (
    RealNameRow,
    SettlementLine,
    VerificationRow,
    check_rows,
    check_total,
    iccids_of,
    settlement_header,
)
from domain.imports.sheet import cell_text, read_sheet
from domain.imports.table import SHANGHAI, RowContext
from tests.support.imports import csv_bom, xlsx

A, B, C = "89860000000000000011", "89860000000000000022", "89860000000000000033"
NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
LONG = ("ICCID", "在网状态", "是否三无")


def ctx(*known: str) -> RowContext:
    return RowContext(NOW, frozenset(known))


@pytest.mark.req("G4-27", "X-05")
def test_numbers_are_read_without_float_drift() -> None:
    assert [cell_text(v) for v in (100.0, 12.5, 0.1 + 0.2, 7, None, "  x ")] == [
        "100", "12.5", "0.30000000000000004", "7", "", "x"]
    sheet = read_sheet(xlsx(["ICCID", "金额(分)"], [[A, 150000], [B, 0.5]]), 10)
    assert [row.cells for row in sheet.rows] == [(A, "150000"), (B, "0.5")]


@pytest.mark.req("G4-27", "X-05")
def test_csv_with_a_bom_reads_like_a_workbook_and_blank_rows_are_skipped() -> None:
    sheet = read_sheet(csv_bom(LONG, [[A, "正常", "否"], ["", "", ""], [B, " 非正常 ", "是"]]), 10)
    assert sheet.header == LONG
    assert [(row.row_no, row.cells) for row in sheet.rows] == [
        (2, (A, "正常", "否")), (4, (B, "非正常", "是"))]


@pytest.mark.req("G4-27", "AMB-06")
def test_whole_file_refusals() -> None:
    with pytest.raises(EmptyFile) as empty:
        read_sheet(xlsx(LONG, []), 10)
    assert (empty.value.message_zh, empty.value.message_en) == (
        "导入文件没有数据", "The import file has no data")
    with pytest.raises(EmptyFile):
        read_sheet(b"", 10)
    with pytest.raises(TooManyRows) as many:
        read_sheet(xlsx(LONG, [[A, "正常", "否"]] * 11), 10)
    assert many.value.message_zh == "单次导入不可超过10行"
    assert read_sheet(xlsx(LONG, [[A, "正常", "否"]] * 10), 10).rows[-1].row_no == 11
    with pytest.raises(Unreadable):
        read_sheet(b"PK\x03\x04 not a workbook", 10)
    with pytest.raises(Unreadable):
        read_sheet("ICCID\n".encode("utf-16"), 10)


@pytest.mark.req("G4-27", "H-20")
def test_a_missing_column_refuses_the_file_and_names_it() -> None:
    sheet = read_sheet(xlsx(["ICCID", "是否三无", "备注"], [[A, "否", "x"]]), 10)
    with pytest.raises(TemplateMismatch) as wrong:
        check_rows("long_term_verification", sheet, ctx(A))
    assert wrong.value.code == "import_template_mismatch"
    assert wrong.value.message_zh == "导入模板不正确（缺少列：在网状态）"
    assert wrong.value.message_en == ("The import template is not correct "
                                      "(missing column(s): 在网状态)")


@pytest.mark.req("H-20", "G4-27", "AMB-48")
def test_long_term_verification_rows() -> None:
    sheet = read_sheet(xlsx(("在网状态", "ICCID", "是否三无"), [
        ["正常", A, "否"], ["", "", "x"], ["停机", "89860000000000000099", ""],
        ["非正常", "12", "是"]]), 10)
    checked = check_rows("long_term_verification", sheet, ctx(A, B))
    assert checked.valid == (VerificationRow(2, A, True, False),)
    assert [(f.row_no, f.reason_zh) for f in checked.failed] == [
        (3, "ICCID不可为空；在网状态不可为空；是否三无只能填写是或否"),
        (4, "ICCID不存在；在网状态只能填写正常或非正常；是否三无不可为空"),
        (5, "ICCID不存在")]
    assert checked.failed[0].reason_en == (
        "ICCID must not be empty; 在网状态 must not be empty; 是否三无 must be 是 or 否")
    assert checked.cells[3] == ("", "", "x")


@pytest.mark.req("H-41", "G4-27")
def test_real_name_rows() -> None:
    when = datetime(2026, 3, 1, 8, 30)
    sheet = read_sheet(xlsx(("ICCID", "是否实名", "实名时间"), [
        [A, "是", when], [B, "否", None], [C, "是", "2026/03/02 10:00"],
        [A, "Y", "yesterday"], [B, "是", "2026-03-11"]]), 10)
    checked = check_rows("real_name", sheet, ctx(A, B, C))
    assert checked.valid == (
        RealNameRow(2, A, True, when.replace(tzinfo=SHANGHAI)), RealNameRow(3, B, False, NOW),
        RealNameRow(4, C, True, datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)))
    assert [(f.row_no, f.reason_zh) for f in checked.failed] == [
        (5, "是否实名只能填写是或否；实名时间格式不正确"), (6, "实名时间不可晚于导入时间")]
    no_time = read_sheet(xlsx(("ICCID", "是否实名"), [[A, "是"]]), 10)
    assert check_rows("real_name", no_time, ctx(A)).valid == (RealNameRow(2, A, True, NOW),)


@pytest.mark.req("H-31", "H-36", "G4-27")
def test_settlement_lines_and_total() -> None:
    sheet = read_sheet(xlsx(("ICCID", "金额(分)"), [
        [A, 5000], [B, "2500"], [A, 100], ["bad", 1.5], [C, "-1"], [C, ""]]), 10)
    assert iccids_of(sheet) == {A, B, C, "bad"}
    checked = check_rows("number_card_settlement", sheet, RowContext(NOW))
    assert checked.valid == (SettlementLine(2, A, Fen(5000)), SettlementLine(3, B, Fen(2500)))
    assert [(f.row_no, f.reason_zh) for f in checked.failed] == [
        (4, "ICCID重复"), (5, "ICCID格式不正确；金额必须为非负整数(分)"),
        (6, "金额必须为非负整数(分)"), (7, "金额(分)不可为空")]
    header = settlement_header("F1", "2026-03", "7600")
    assert check_total(sheet, header) == 7600
    with pytest.raises(SettlementTotalMismatch) as wrong:
        check_total(sheet, settlement_header("F1", "2026-03", "7500"))
    assert (wrong.value.code, wrong.value.message_zh) == (
        "settlement_total_mismatch", "结算明细合计与结算总额不一致")


@pytest.mark.req("H-31")
@pytest.mark.parametrize(("factory", "period", "total", "field"), [
    ("", "2026-03", "1", "factory_id"), ("F 1", "2026-03", "1", "factory_id"),
    ("F1", "2026-13", "1", "period"), ("F1", "202603", "1", "period"),
    ("F1", "2026-03", "-1", "total_fen"), ("F1", "2026-03", "1.0", "total_fen"),
    ("F1", "2026-03", None, "total_fen")])
def test_settlement_header_fields(factory: str, period: str, total: str | None,
                                  field: str) -> None:
    with pytest.raises(BadSettlementHeader) as bad:
        settlement_header(factory, period, total)
    assert bad.value.field == field
