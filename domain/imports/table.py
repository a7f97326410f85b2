"""The generic mechanics of a row import (G4-27, AMB-06, AMB-48).

A kind names its columns; the header must hold each of them exactly once (extra columns are
ignored), else the file is refused naming the missing ones. Each data row is checked on its
own: per column the first failure in the order empty → length/format → existence →
uniqueness, and all of a row's failures in column order, joined by "；" into its 失败原因.
Uniqueness counts only earlier rows that passed (G4-22): a repeated value fails the later row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from domain.imports.errors import TemplateMismatch
from domain.imports.sheet import Cell, Sheet, as_text

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class RowError:
    """One column's failure in one row."""

    column: str
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class FailedRow:
    """A row that is not imported: its original cells and why (失败原因)."""

    row_no: int
    cells: tuple[str, ...]
    errors: tuple[RowError, ...]

    @property
    def reason_zh(self) -> str:
        return "；".join(e.message_zh for e in self.errors)

    @property
    def reason_en(self) -> str:
        return "; ".join(e.message_en for e in self.errors)


@dataclass
class RowContext:
    """What row checks may consult: the ICCIDs that exist (None: not checked), the import's
    instant and time zone, and the unique values of the rows that passed so far."""

    now: datetime
    known_iccids: frozenset[str] | None = None
    tz: ZoneInfo = SHANGHAI
    seen: set[str] = field(default_factory=set)


Get = Callable[[str], Cell]


class RowCheck(Protocol[R_co]):
    def __call__(self, row_no: int, get: Get, ctx: RowContext) -> R_co | list[RowError]: ...


@dataclass(frozen=True)
class Checked(Generic[R]):
    """A validated file: its header, the rows to import, the failed rows, and the cells of
    every row by number (so a row the apply step fails can be written to the failure file)."""

    header: tuple[str, ...]
    valid: tuple[R, ...]
    failed: tuple[FailedRow, ...]
    cells: Mapping[int, tuple[str, ...]]


def match_header(header: tuple[str, ...], columns: tuple[str, ...],
                 optional: tuple[str, ...] = ()) -> dict[str, int]:
    """Each column's index in the header; a missing required column or a repeated known
    column refuses the file (TemplateMismatch)."""
    missing = [name for name in columns if name not in header]
    repeated = [name for name in (*columns, *optional) if header.count(name) > 1]
    if missing or repeated:
        raise TemplateMismatch(missing, repeated)
    return {name: header.index(name) for name in (*columns, *optional) if name in header}


def validate(sheet: Sheet, columns: tuple[str, ...], optional: tuple[str, ...],
             check: RowCheck[R], ctx: RowContext,
             key: Callable[[R], str] | None = None) -> Checked[R]:
    """Every row of `sheet` through `check`; a passing row's `key` joins `ctx.seen`."""
    where = match_header(sheet.header, columns, optional)
    valid: list[R] = []
    failed: list[FailedRow] = []
    cells: dict[int, tuple[str, ...]] = {}
    for row in sheet.rows:
        texts = tuple(as_text(cell) for cell in row.cells)
        cells[row.row_no] = texts

        def get(name: str, values: tuple[Cell, ...] = row.cells) -> Cell:
            index = where.get(name)
            return "" if index is None else values[index]

        outcome = check(row.row_no, get, ctx)
        if isinstance(outcome, list):
            failed.append(FailedRow(row.row_no, texts, tuple(outcome)))
            continue
        if key is not None:
            ctx.seen.add(key(outcome))
        valid.append(outcome)
    return Checked(sheet.header, tuple(valid), tuple(failed), cells)
