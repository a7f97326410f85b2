"""The monthly money report (G2-06, AMB-17), pure: a month's bounds on the business calendar
(Asia/Shanghai, C-04) and the figures of each line — platform receipts, the price differences
paid to agents, the commissions paid, the platform's net receipts and its margin over the
purchase price — with their totals. The store sums the ledger into `ReportLine`s."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from domain.refusals import Refusal

BUSINESS_TZ = "Asia/Shanghai"
Flow = Literal["flow_1", "flow_2"]
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BadMonth(Refusal):
    code = "invalid_month"
    message_zh = "月份格式应为 YYYY-MM"
    message_en = "A month is written YYYY-MM"
    field = "month"


def month_of(at: datetime, tz: str = BUSINESS_TZ) -> str:
    """The business month (`YYYY-MM`) an instant falls in."""
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


def month_bounds(month: str, tz: str = BUSINESS_TZ) -> tuple[datetime, datetime]:
    """[start, end) of `month` in `tz`, as UTC instants; BadMonth if not `YYYY-MM`."""
    found = _MONTH.match(month)
    if found is None:
        raise BadMonth()
    year, number = int(found[1]), int(found[2])
    if not 1970 <= year <= 9998:  # instants outside these years are not ours to report on
        raise BadMonth()
    zone = ZoneInfo(tz)
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class ReportLine:
    """One package and flow over the month, in fen, summed from the ledger."""

    business_line: str
    package_id: str
    package_name: str
    flow: Flow
    orders: int
    receipts_fen: int  # Flow 1: retail collected; Flow 2: the seller's cost collected
    price_differences_fen: int  # paid out of the order to agents
    commissions_fen: int  # fee type `commission` paid to agents' balances, net of clawbacks
    purchase_fen: int  # the purchase prices the orders snapshotted (G1-13)
    commissions_frozen_fen: int = 0  # commissions produced but still frozen (SM-H-COMM)

    @property
    def net_receipts_fen(self) -> int:
        """What the platform keeps: receipts − price differences − commissions (paid and
        frozen: both have left platform revenue)."""
        return (self.receipts_fen - self.price_differences_fen - self.commissions_fen
                - self.commissions_frozen_fen)

    @property
    def margin_fen(self) -> int:
        """Net receipts over the purchase price (AMB-17)."""
        return self.net_receipts_fen - self.purchase_fen


def total(lines: Sequence[ReportLine], business_line: str = "", package_id: str = "",
          package_name: str = "") -> ReportLine:
    """The sum of `lines` (named as given; the flow of a total means nothing)."""
    return ReportLine(business_line, package_id, package_name, "flow_1",
                      sum(x.orders for x in lines), sum(x.receipts_fen for x in lines),
                      sum(x.price_differences_fen for x in lines),
                      sum(x.commissions_fen for x in lines), sum(x.purchase_fen for x in lines),
                      sum(x.commissions_frozen_fen for x in lines))


def by_package(lines: Sequence[ReportLine]) -> list[ReportLine]:
    """Both flows of each package summed, in the order the packages first appear."""
    seen: dict[str, list[ReportLine]] = {}
    for line in lines:
        seen.setdefault(line.package_id, []).append(line)
    return [total(group, group[0].business_line, key, group[0].package_name)
            for key, group in seen.items()]


def by_business_line(lines: Sequence[ReportLine]) -> list[ReportLine]:
    seen: dict[str, list[ReportLine]] = {}
    for line in lines:
        seen.setdefault(line.business_line, []).append(line)
    return [total(group, key) for key, group in sorted(seen.items())]
