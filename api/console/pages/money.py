"""The platform's money pages (G1, G2) share a guard and a few helpers; this module also
holds the monthly money report (G2-06, AMB-17): per business line, package and flow, summed
from the ledger, with a bar chart per package and CSV/XLSX exports.

Who (§7.2): every platform role reads; `admin` and `platform_operator` change packages,
agents and top-level cost prices and request refunds; `admin` and `platform_finance` decide
withdrawals; `platform_ops` changes nothing (403). Other roles get 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from api.console.auth import Page, Viewer, require_platform
from api.console.charts import bars
from api.console.exports import Format
from api.console.i18n import N_, lang_of
from api.console.layout import frame
from api.console.pages.forms import download, say
from api.console.render import html
from api.deps import Db
from api.routers.reports import month_lines
from core.money import Fen, yuan
from domain.orders.report import ReportLine, by_business_line, by_package, total
from domain.refusals import Refusal

_READS = ("GET", "HEAD", "OPTIONS")
BUSINESS = ("admin", "platform_operator")  # packages, agents, top-level costs, refunds
FINANCE = ("admin", "platform_finance")  # withdrawals
REFUNDERS = ("admin", "platform_operator", "platform_finance")  # as POST /v1/orders/…/refund
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
REPORT_COLUMNS = (N_("Business line"), N_("Package"), N_("Flow"), N_("Orders completed"),
                  N_("Platform receipts (fen)"), N_("Price differences paid (fen)"),
                  N_("Commissions paid (fen)"), N_("Platform net receipts (fen)"),
                  N_("Purchase price (fen)"), N_("Margin over purchase price (fen)"))


async def _money_guard(request: Request, viewer: Page) -> None:
    require_platform(viewer)
    if request.method not in _READS and viewer.principal.role not in (*BUSINESS, *FINANCE):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not change this")


MONEY_GUARD = [Depends(_money_guard)]
router = APIRouter(prefix="/console/ops/money", dependencies=MONEY_GUARD)


def require_role(viewer: Viewer, roles: tuple[str, ...]) -> None:
    """403 unless the viewer's role is one of `roles` (the guard let platform roles in)."""
    if viewer.principal.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not do this")


def refused(request: Request, exc: Refusal) -> str:
    """A business refusal in the reader's language (the spec's exact words)."""
    return exc.message_en if lang_of(request) == "en" else exc.message_zh


def may(viewer: Viewer) -> dict[str, bool]:
    """Which buttons the page shows (the server checks again)."""
    role = viewer.principal.role
    return {"business": role in BUSINESS, "finance": role in FINANCE,
            "refund": role in REFUNDERS}


LINE_NAMES = {"traffic_card": N_("Traffic card"), "number_card": N_("Number card")}
FLOW_NAMES = {"flow_1": N_("Flow 1: the end user paid"), "flow_2": N_("Flow 2: the agent paid")}
# Order kinds, states and methods, ledger fee types and transfer states, as people read them.
WORDS = {
    "package": N_("Package order"), "recharge": N_("Recharge"), "withdrawal": N_("Withdrawal"),
    "number_card_event": N_("Number-card event"), "card_purchase": N_("Card purchase"),
    "recorded": N_("Recorded"),
    "pending_payment": N_("Pending payment"), "paid": N_("Paid"), "fulfilling": N_("Fulfilling"),
    "completed": N_("Completed"), "failed": N_("Failed"), "cancelled": N_("Cancelled"),
    "refunding": N_("Refunding"), "refunded": N_("Refunded"),
    "partially_refunded": N_("Partially refunded"), "credited": N_("Credited"),
    "requested": N_("Requested"), "approved": N_("Approved"), "rejected": N_("Rejected"),
    "online": N_("Online payment"), "wallet": N_("Card wallet"),
    "agent_wallet": N_("Agent wallet (Flow 2)"), "retail": N_("Retail"), "cost": N_("Cost"),
    "price_difference": N_("Price difference"), "commission": N_("Commission"),
    "refund": N_("Refund"), "withdrawal_fee": N_("Withdrawal fee"),
    "deduction": N_("Deduction"), "payout": N_("Payout"),
    "factory_commission": N_("Factory commission"), "posted": N_("Posted"),
    "pending": N_("Pending"), "voided": N_("Voided"), "active": N_("Active"),
    "disabled": N_("Disabled"), "invalid": N_("Invalid"), "deleted": N_("Deleted"),
}
Month = Annotated[str | None, Query(pattern=MONTH)]


def names() -> dict[str, Any]:
    """The words the money templates translate codes with."""
    return {"line_names": LINE_NAMES, "flow_names": FLOW_NAMES, "words": WORDS}


def _row(request: Request, x: ReportLine, flow: str) -> list[Any]:
    line = say(request, LINE_NAMES[x.business_line]) if x.business_line else ""
    return [line, x.package_id, flow, x.orders,
            x.receipts_fen,
            x.price_differences_fen, x.commissions_fen, x.net_receipts_fen, x.purchase_fen,
            x.margin_fen]


@router.get("/report")
async def report_page(request: Request, viewer: Page, db: Db, month: Month = None
                      ) -> HTMLResponse:
    chosen, lines = await month_lines(db, month)
    packages = by_package(lines)
    chart = bars([p.package_id for p in packages],
                 [yuan(Fen(p.net_receipts_fen)) for p in packages],  # type: ignore[misc]
                 say(request, N_("Platform net receipts (yuan)")))
    chart["series"].append({"type": "bar", "name": say(request, N_("Margin over purchase "
                                                                 "price (yuan)")),
                            "data": [yuan(Fen(p.margin_fen)) for p in packages]})
    chart["legend"] = {"bottom": 0}
    return html(request, "money_report.html", frame(
        viewer, "money_report", month=chosen, lines=lines,
        business_lines=by_business_line(lines), total=total(lines), packages=packages,
        per_package=chart, query=f"month={chosen}", **names()))


@router.get("/report.{fmt}")
async def report_export(request: Request, fmt: Format, viewer: Page, db: Db,
                        month: Month = None) -> Response:
    chosen, lines = await month_lines(db, month)
    rows = [_row(request, x, say(request, FLOW_NAMES[x.flow])) for x in lines]
    rows.append(_row(request, total(lines), ""))
    rows[-1][0] = say(request, N_("Total"))
    return download(request, fmt, f"money-report-{chosen}", REPORT_COLUMNS, rows)
