"""The monthly money report (G2-06, AMB-17) through `GET /v1/reports/money` and the console:
the spec's summary figures to the fen, summed from the ledger — one Flow-1 and one Flow-2
order of a package with retail 9000, cost 6000 and purchase 5000; then with a 500 commission
posted through the ledger as the commission module will post it. Platform roles only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from core.clock import now
from core.money import Fen
from core.settings import Settings
from domain.ledger import REVENUE, FeeType, Transfer, agent_available
from domain.orders.report import BadMonth, month_bounds, month_of
from store import commissions, ledger
from store.commissions import NewRecord
from tests.support.dates import mid_cycle, store_clock
from tests.support.orders import Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok

pytestmark = pytest.mark.integration
FIGURES = ("orders", "receipts_fen", "price_differences_fen", "commissions_fen",
           "net_receipts_fen", "purchase_fen", "margin_fen")


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[tuple[Shop, dict[str, str]]]:
    """Flow 1 (the buyer pays A's retail 9000 online) and Flow 2 (B pays its 6000 cost),
    both completed in the middle of this month on the platform clock."""
    await store_clock(settings.require_database(), mid_cycle())
    async with shop(settings) as made:
        await spec_world(made)
        flow_1 = await order(made.who("buyer"), "online")
        await made.pay(flow_1, "fulfilling")
        await ok(made.market.admin.post(f"/v1/orders/{flow_1['order_id']}/complete"))
        await recharge(made, made.who("b.admin"), "agent", 6000)
        flow_2 = await order(made.who("b.admin"), "agent_wallet")
        await ok(made.market.admin.post(f"/v1/orders/{flow_2['order_id']}/complete"))
        yield made, {"flow_1": flow_1["order_id"], "flow_2": flow_2["order_id"]}


def figures(line: dict[str, Any]) -> tuple[int, ...]:
    return tuple(line[key] for key in FIGURES)


def by_flow(report: dict[str, Any]) -> dict[tuple[str, str], tuple[int, ...]]:
    return {(line["package_id"], line["flow"]): figures(line) for line in report["lines"]}


async def commission(s: Shop, order_id: str, amount: int) -> None:
    """A per-order commission without freeze (H-08): the platform pays the selling agent's
    balance at once."""
    async with await psycopg.AsyncConnection.connect(s.settings.require_database(),
                                                     autocommit=True) as conn:
        await ledger.transfer(conn, Transfer(
            f"{order_id}:commission", REVENUE, agent_available("A"), Fen(amount),
            FeeType.COMMISSION, order_id=order_id, order_line="1"))


@pytest.mark.req("G2-06", "AMB-17", "G2-23", "G2-24")
async def test_the_summary_figures_per_flow_to_the_fen(
        world: tuple[Shop, dict[str, str]]) -> None:
    s, _ = world
    month = month_of(now())
    report = await ok(s.who("finance").get("/v1/reports/money", params={"month": month}))
    assert (report["month"], report["timezone"]) == (month, "Asia/Shanghai")
    # orders, receipts, differences, commissions, net receipts, purchase, margin
    assert by_flow(report) == {("p90", "flow_1"): (1, 9000, 3000, 0, 6000, 5000, 1000),
                               ("p90", "flow_2"): (1, 6000, 0, 0, 6000, 5000, 1000)}
    [line] = report["business_lines"]
    assert line["business_line"] == "traffic_card"
    assert figures(line) == figures(report["total"]) == (2, 15000, 3000, 0, 12000, 10000, 2000)
    same = await ok(s.who("operator").get("/v1/reports/money"))  # default: this month
    assert same == report


@pytest.mark.req("G2-06", "AMB-17", "G2-23")
async def test_a_500_commission_leaves_5500_net_and_500_over_the_purchase_price(
        world: tuple[Shop, dict[str, str]]) -> None:
    s, made = world
    for order_id in made.values():
        await commission(s, order_id, 500)
    report = await ok(s.market.admin.get("/v1/reports/money",
                                         params={"month": month_of(now())}))
    assert by_flow(report) == {("p90", "flow_1"): (1, 9000, 3000, 500, 5500, 5000, 500),
                               ("p90", "flow_2"): (1, 6000, 0, 500, 5500, 5000, 500)}
    assert figures(report["total"]) == (2, 15000, 3000, 1000, 11000, 10000, 1000)


@pytest.mark.req("G2-06", "SM-H-COMM", "H-13")
async def test_a_frozen_commission_is_not_yet_paid_and_counts_once_released(
        world: tuple[Shop, dict[str, str]]) -> None:
    s, made = world
    at = now()
    async with await psycopg.AsyncConnection.connect(s.settings.require_database(),
                                                     autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids,"
            " amount_mode, amount_value, freeze_days, requires_approval, terms,"
            " effective_from, status, created_by) VALUES ('r1', 1, 'A', 'per_order', '{p90}',"
            " 'fixed', 500, 7, false, '{}', %s, 'active', 'admin')", (at - timedelta(days=1),))
        await commissions.produce(conn, [NewRecord(
            idem_key=f"per_order:r1:{made['flow_1']}:1", part="per_order", rule_kind="per_order",
            rule_id="r1", rule_version=1, agent_id="A", amount_fen=500, state="frozen",
            freeze_days=7, requires_approval=False, explanation={}, at=at, timed=True,
            order_id=made["flow_1"], unit=1)], s.settings.orders_topic)
        month = month_of(now())
        frozen = await ok(s.who("finance").get("/v1/reports/money", params={"month": month}))
        flow_1 = next(x for x in frozen["lines"] if x["flow"] == "flow_1")
        assert (flow_1["commissions_fen"], flow_1["commissions_frozen_fen"],
                flow_1["net_receipts_fen"]) == (0, 500, 5500)
        assert await commissions.unfreeze_due(conn, at + timedelta(days=7),
                                              s.settings.orders_topic) == 1
    paid = await ok(s.who("finance").get("/v1/reports/money", params={"month": month}))
    flow_1 = next(x for x in paid["lines"] if x["flow"] == "flow_1")
    assert figures(flow_1) == (1, 9000, 3000, 500, 5500, 5000, 500)
    assert flow_1["commissions_frozen_fen"] == 0 and paid["total"]["commissions_fen"] == 500


@pytest.mark.req("G2-06", "SM-G2-ORDER")
async def test_a_refunded_order_leaves_the_report_and_other_months_are_empty(
        world: tuple[Shop, dict[str, str]]) -> None:
    s, made = world
    await ok(s.market.admin.post(f"/v1/orders/{made['flow_2']}/refund",
                                 json={"reason": "客户取消"}))
    month = month_of(now())
    report = await ok(s.who("finance").get("/v1/reports/money", params={"month": month}))
    assert list(by_flow(report)) == [("p90", "flow_1")]
    earlier = month_of(month_bounds(month)[0] - timedelta(days=1))
    before = await ok(s.who("finance").get("/v1/reports/money", params={"month": earlier}))
    assert before["lines"] == [] and figures(before["total"]) == (0,) * 7


@pytest.mark.req("G2-06", "C-06")
async def test_only_platform_roles_read_the_report(world: tuple[Shop, dict[str, str]]) -> None:
    s, _ = world
    for name in ("a.admin", "a.viewer", "buyer"):
        await ok(s.who(name).get("/v1/reports/money"), 403)
    await s.market.person("ops", "platform_ops")
    await ok(s.who("ops").get("/v1/reports/money"))
    bad = await ok(s.who("finance").get("/v1/reports/money", params={"month": "2026-13"}), 422)
    assert bad["detail"][0]["loc"] == ["query", "month"]


@pytest.mark.req("G2-06", "C-04")
def test_months_are_cut_at_midnight_in_shanghai() -> None:
    start, end = month_bounds("2026-12")
    assert (start.isoformat(), end.isoformat()) == ("2026-11-30T16:00:00+00:00",
                                                    "2026-12-31T16:00:00+00:00")
    assert month_of(datetime.fromisoformat("2026-11-30T16:00:00+00:00")) == "2026-12"
    assert month_of(datetime.fromisoformat("2026-11-30T15:59:59+00:00")) == "2026-11"
    with pytest.raises(BadMonth):
        month_bounds("2026-1")


@pytest.mark.req("G2-06")
async def test_the_console_shows_and_exports_the_report(
        world: tuple[Shop, dict[str, str]]) -> None:
    s, _ = world
    finance = s.who("finance")
    finance.cookies.set("cardpulse_lang", "en")
    page = await finance.get("/console/ops/money/report")
    assert page.status_code == 200, page.text[:1000]
    assert 'data-package="p90" data-flow="flow_1"' in page.text and "60.00 元" in page.text
    assert "Commissions are 0 until the commission module exists" in page.text
    assert "data-echarts" in page.text
    month = month_of(now())
    csv = (await finance.get("/console/ops/money/report.csv",
                             params={"month": month})).content.decode("utf-8-sig")
    rows = [line.split(",") for line in csv.splitlines()]
    assert rows[0][:4] == ["Business line", "Package", "Flow", "Orders completed"]
    assert rows[1][3:] == ["1", "9000", "3000", "0", "6000", "5000", "1000"]
    assert rows[-1][0] == "Total" and rows[-1][3:] == ["2", "15000", "3000", "0", "12000",
                                                       "10000", "2000"]
    xlsx = await finance.get("/console/ops/money/report.xlsx", params={"month": month})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    s.who("buyer").cookies.set("cardpulse_lang", "en")
    assert (await s.who("buyer").get("/console/ops/money/report")).status_code == 404
