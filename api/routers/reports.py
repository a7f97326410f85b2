"""Reports for the platform: the monthly money report (G2-06, AMB-17), summed from the ledger
(`store.money_report`). Platform roles only (§7.2: ledger and statements are theirs to read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PLATFORM_READERS, Caller, Db, forbid
from api.openapi import FORBIDDEN
from api.schemas.reports import BusinessLineTotal, MoneyFigures, MoneyLinePublic, MoneyReport
from core.clock import now
from domain.orders.report import (
    BUSINESS_TZ,
    ReportLine,
    by_business_line,
    month_bounds,
    month_of,
    total,
)
from store.db import Conn
from store.money_report import money_report

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=FORBIDDEN)
Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                    description="YYYY-MM (default: this month)")]


def figures(line: ReportLine) -> dict[str, int]:
    return {"orders": line.orders, "receipts_fen": line.receipts_fen,
            "price_differences_fen": line.price_differences_fen,
            "commissions_fen": line.commissions_fen,
            "commissions_frozen_fen": line.commissions_frozen_fen,
            "net_receipts_fen": line.net_receipts_fen,
            "purchase_fen": line.purchase_fen, "margin_fen": line.margin_fen}


async def month_lines(db: Conn, month: str | None) -> tuple[str, list[ReportLine]]:
    """The month asked (default: the platform clock's month in Asia/Shanghai) and its lines."""
    chosen = month or month_of(now())
    return chosen, await money_report(db, *month_bounds(chosen))


async def report_of(db: Conn, month: str | None) -> MoneyReport:
    chosen, lines = await month_lines(db, month)
    return MoneyReport(
        month=chosen, timezone=BUSINESS_TZ,
        lines=[MoneyLinePublic(business_line=x.business_line,  # type: ignore[arg-type]
                               package_id=x.package_id, package_name=x.package_name,
                               flow=x.flow, **figures(x)) for x in lines],
        business_lines=[BusinessLineTotal(business_line=x.business_line,  # type: ignore[arg-type]
                                          **figures(x)) for x in by_business_line(lines)],
        total=MoneyFigures(**figures(total(lines))))


@router.get("/money", response_model=MoneyReport)
async def get_money_report(caller: Caller, db: Db, month: Month = None) -> MoneyReport:
    """Per business line, package and flow: orders completed, platform receipts, price
    differences and commissions paid, platform net receipts and the margin over the purchase
    price, with totals — in integer fen. Commissions paid are those that reached the agents'
    balances; those still frozen are shown apart (`commissions_frozen_fen`)."""
    if caller.role not in PLATFORM_READERS:
        raise forbid("the money report is the platform's")
    return await report_of(db, month)
