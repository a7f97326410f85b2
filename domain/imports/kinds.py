"""The three commission imports: their columns, row checks with the spec's messages, and the
parsed row each valid line becomes.

* `long_term_verification` (H-20): ICCID, 在网状态, 是否三无 → `VerificationRow`.
* `real_name` (H-41): ICCID, 是否实名, optional 实名时间 → `RealNameRow`.
* `number_card_settlement` (H-31, H-36): ICCID, 金额(分) → `SettlementLine`; the statement's
  header (factory, period, total) comes with the upload (`SettlementHeader`), and the lines
  must add up to the total. ICCIDs are not checked for existence here: a line for a card
  without an attributed agent stays platform profit (H-36, done by the apply step).

Messages marked *(proposed)* in the spec are worded here; a missing required value reads
"{列名}不可为空" (G4-28's pattern).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from core.money import Fen
from domain.imports.errors import BadSettlementHeader, SettlementTotalMismatch
from domain.imports.sheet import Cell, Sheet
from domain.imports.table import Checked, Get, RowCheck, RowContext, RowError, validate
from domain.usage.validation import ICCID_RE

Kind = Literal["long_term_verification", "real_name", "number_card_settlement"]
KINDS: Final[tuple[Kind, ...]] = ("long_term_verification", "real_name",
                                  "number_card_settlement")
MAX_ROWS: Final[dict[Kind, int]] = {"long_term_verification": 10_000, "real_name": 10_000,
                                    "number_card_settlement": 200_000}
ICCID, NETWORK, SANWU, VERIFIED, VERIFIED_AT, AMOUNT = (
    "ICCID", "在网状态", "是否三无", "是否实名", "实名时间", "金额(分)")
COLUMNS: Final[dict[Kind, tuple[str, ...]]] = {
    "long_term_verification": (ICCID, NETWORK, SANWU),
    "real_name": (ICCID, VERIFIED),
    "number_card_settlement": (ICCID, AMOUNT),
}
OPTIONAL: Final[dict[Kind, tuple[str, ...]]] = {
    "long_term_verification": (), "real_name": (VERIFIED_AT,), "number_card_settlement": (),
}
MAX_FEN = 10**13  # 1000亿元: far above any settlement line, far below bigint
_FEN_RE = re.compile(r"[0-9]{1,14}")
_PERIOD_RE = re.compile(r"(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])")
_FACTORY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class VerificationRow:
    """H-20: the card's in-network status (正常 → True) and 三无 verdict (是 → True)."""

    row_no: int
    iccid: str
    in_network: bool
    sanwu: bool


@dataclass(frozen=True)
class RealNameRow:
    """H-41: whether the card is real-name verified, and since when."""

    row_no: int
    iccid: str
    verified: bool
    verified_at: datetime


@dataclass(frozen=True)
class SettlementLine:
    """H-31: one line of a settlement statement."""

    row_no: int
    iccid: str
    amount_fen: Fen


@dataclass(frozen=True)
class SettlementHeader:
    """H-31: the statement's factory, period (YYYY-MM) and total commission in fen."""

    factory_id: str
    period: str
    total_fen: Fen


ImportRow = VerificationRow | RealNameRow | SettlementLine


def _err(column: str, zh: str, en: str) -> RowError:
    return RowError(column, zh, en)


def _empty(column: str) -> RowError:
    return _err(column, f"{column}不可为空", f"{column} must not be empty")


def _text(cell: Cell) -> str:
    return cell.isoformat(sep=" ") if isinstance(cell, datetime) else cell


def check_iccid(cell: Cell, ctx: RowContext, *, unique: bool = False) -> str | RowError:
    """Empty → format → existence (when `ctx.known_iccids` is given) → uniqueness."""
    value = _text(cell)
    if value == "":
        return _err(ICCID, "ICCID不可为空", "ICCID must not be empty")
    if ctx.known_iccids is not None:
        if not ICCID_RE.fullmatch(value) or value not in ctx.known_iccids:
            return _err(ICCID, "ICCID不存在", "ICCID does not exist")
    elif not ICCID_RE.fullmatch(value):
        return _err(ICCID, "ICCID格式不正确", "ICCID is not valid")
    if unique and value in ctx.seen:
        return _err(ICCID, "ICCID重复", "ICCID is repeated in this file")
    return value


def _choice(cell: Cell, column: str, yes: str, no: str) -> bool | RowError:
    value = _text(cell)
    if value == "":
        return _empty(column)
    if value not in (yes, no):
        return _err(column, f"{column}只能填写{yes}或{no}", f"{column} must be {yes} or {no}")
    return value == yes


def check_fen(cell: Cell) -> Fen | RowError:
    """A non-negative integer number of fen: digits only (or an integral numeric cell)."""
    value = _text(cell)
    if value == "":
        return _empty(AMOUNT)
    if not _FEN_RE.fullmatch(value) or int(value) > MAX_FEN:
        return _err(AMOUNT, "金额必须为非负整数(分)",
                    "The amount must be a non-negative integer number of fen")
    return Fen(int(value))


_TEXT_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def check_instant(cell: Cell, ctx: RowContext) -> datetime | RowError:
    """An optional date-time: empty → the import's instant; a naive one is in `ctx.tz`
    (C-04); later than the import → refused."""
    if cell == "":
        return ctx.now
    at = cell if isinstance(cell, datetime) else _parse_instant(cell.replace("/", "-"))
    if at is None:
        return _err(VERIFIED_AT, "实名时间格式不正确",
                    "实名时间 must be a date-time such as 2026-03-01 12:00:00")
    if at.tzinfo is None:
        at = at.replace(tzinfo=ctx.tz)
    if at > ctx.now:
        return _err(VERIFIED_AT, "实名时间不可晚于导入时间",
                    "实名时间 must not be later than the import")
    return at


def _parse_instant(text: str) -> datetime | None:
    for fmt in _TEXT_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _failures(*outcomes: object) -> list[RowError]:
    return [each for each in outcomes if isinstance(each, RowError)]


def verification_row(row_no: int, get: Get, ctx: RowContext
                     ) -> VerificationRow | list[RowError]:
    iccid = check_iccid(get(ICCID), ctx)
    network = _choice(get(NETWORK), NETWORK, "正常", "非正常")
    sanwu = _choice(get(SANWU), SANWU, "是", "否")
    if isinstance(iccid, str) and isinstance(network, bool) and isinstance(sanwu, bool):
        return VerificationRow(row_no, iccid, network, sanwu)
    return _failures(iccid, network, sanwu)


def real_name_row(row_no: int, get: Get, ctx: RowContext) -> RealNameRow | list[RowError]:
    iccid = check_iccid(get(ICCID), ctx)
    verified = _choice(get(VERIFIED), VERIFIED, "是", "否")
    at = check_instant(get(VERIFIED_AT), ctx)
    if isinstance(iccid, str) and isinstance(verified, bool) and isinstance(at, datetime):
        return RealNameRow(row_no, iccid, verified, at)
    return _failures(iccid, verified, at)


def settlement_line(row_no: int, get: Get, ctx: RowContext) -> SettlementLine | list[RowError]:
    iccid = check_iccid(get(ICCID), ctx, unique=True)
    amount = check_fen(get(AMOUNT))
    if isinstance(iccid, str) and not isinstance(amount, RowError):
        return SettlementLine(row_no, iccid, amount)
    return _failures(iccid, amount)


def settlement_header(factory_id: str | None, period: str | None,
                      total_fen: str | None) -> SettlementHeader:
    """The statement's header fields as uploaded (form fields), or a 422 naming the field."""
    factory, month, total = ((value or "").strip() for value in (factory_id, period, total_fen))
    if not _FACTORY_RE.fullmatch(factory):
        raise BadSettlementHeader(field="factory_id", message_zh="厂家编号不正确",
                                  message_en="factory_id must be 1-64 letters, digits, . _ -")
    if not _PERIOD_RE.fullmatch(month):
        raise BadSettlementHeader(field="period", message_zh="结算周期格式应为YYYY-MM",
                                  message_en="period must be a month written YYYY-MM")
    if not _FEN_RE.fullmatch(total) or int(total) > MAX_FEN:
        raise BadSettlementHeader(field="total_fen", message_zh="结算总额必须为非负整数(分)",
                                  message_en="total_fen must be a non-negative integer of fen")
    return SettlementHeader(factory, month, Fen(int(total)))


def check_total(sheet: Sheet, header: SettlementHeader) -> Fen:
    """H-36: the valid amounts of all lines must add up to the header's total (else the whole
    file is refused); returns the sum."""
    column = sheet.header.index(AMOUNT)
    amounts = (check_fen(row.cells[column]) for row in sheet.rows)
    lines = sum(a for a in amounts if not isinstance(a, RowError))
    if lines != header.total_fen:
        raise SettlementTotalMismatch()
    return Fen(lines)


def needs_iccids(kind: Kind) -> bool:
    """Whether the kind checks that each row's ICCID exists (the store looks them up)."""
    return kind != "number_card_settlement"


def iccids_of(sheet: Sheet) -> set[str]:
    """The ICCID cells of a sheet whose header has the ICCID column (for the one lookup)."""
    if ICCID not in sheet.header:
        return set()
    column = sheet.header.index(ICCID)
    return {_text(row.cells[column]) for row in sheet.rows} - {""}


_CHECKS: Final[dict[Kind, RowCheck[ImportRow]]] = {
    "long_term_verification": verification_row, "real_name": real_name_row,
    "number_card_settlement": settlement_line,
}


def _iccid_key(row: ImportRow) -> str:
    return row.iccid


def check_rows(kind: Kind, sheet: Sheet, ctx: RowContext) -> Checked[ImportRow]:
    """Validate every row of a `kind` file (the header is matched first); a settlement's
    ICCIDs must be unique within the file."""
    key = _iccid_key if kind == "number_card_settlement" else None
    return validate(sheet, COLUMNS[kind], OPTIONAL[kind], _CHECKS[kind], ctx, key)
