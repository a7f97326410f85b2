"""The Grafana "money" dashboard's SQL, run as Grafana runs it against a database where real
orders went through the API and the payment-channel simulator: each panel shows what happened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from core.clock import now
from core.settings import Settings
from dashboards.build import all_dashboards, sql_targets
from store import commission_series as c
from store import money_series as m
from store import series
from tests.support.dates import store_clock
from tests.support.orders import Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        yield made


def grafana(query: str, start: datetime, end: datetime) -> str:
    """The panel's SQL with the time range macros expanded as Grafana's data source does."""
    return (series.for_grafana(query)
            .replace("$__timeFrom()", f"'{start.isoformat()}'::timestamptz")
            .replace("$__timeTo()", f"'{end.isoformat()}'::timestamptz"))


async def panel(world: Shop, query: str) -> list[tuple[Any, ...]]:
    start, end = now() - timedelta(days=1), now() + timedelta(days=1)
    async with await psycopg.AsyncConnection.connect(world.settings.require_database(),
                                                     autocommit=True) as conn:
        return list(await (await conn.execute(grafana(query, start, end).encode())).fetchall())


def totals(rows: list[tuple[Any, ...]]) -> dict[str, int]:
    """A time series by metric, summed over time."""
    found: dict[str, int] = {}
    for _, metric, count in rows:
        found[metric] = found.get(metric, 0) + int(count)
    return found


@pytest.mark.req("G2-21", "G1-18")
async def test_the_money_panels_show_the_orders_and_the_ledger(world: Shop) -> None:
    paid = await order(world.who("buyer"), "online")  # Flow 1, completed by the platform
    await world.pay(paid, "fulfilling")
    await ok(world.market.admin.post(f"/v1/orders/{paid['order_id']}/complete"))
    a = world.who("a.admin")
    await recharge(world, a, "agent", 6000)
    waiting = await order(a, "agent_wallet")  # Flow 2, left in fulfilment (no card)

    assert await panel(world, m.LEDGER_SUM) == [(0,)]
    assert totals(await panel(world, m.ORDERS_CREATED)) == {"package": 2, "recharge": 1}
    assert totals(await panel(world, m.ORDERS_FINISHED)) == {
        "package completed": 1, "recharge credited": 1}
    assert [(k, s, n) for k, s, n, _ in await panel(world, m.ORDERS_OPEN)] == [
        ("package", "fulfilling", 1)]
    # The platform kept the top cost of the completed order: 60 元.
    assert [r[1] for r in await panel(world, m.REVENUE_DAILY)] == [Decimal("60")]
    assert totals(await panel(world, m.NOTIFICATIONS))["applied"] == 2
    assert await panel(world, m.WITHDRAWALS_WAITING) == [(0, Decimal(0))]
    assert await panel(world, m.ORDERS_INTERCEPTED) == [(0,)]
    [(events, _)] = await panel(world, m.OUTBOX_BACKLOG)
    assert events >= 4  # nothing relays in this test: every event waits

    assert await panel(world, m.ORDERS_STUCK) == [(0,)]
    await store_clock(world.settings.require_database(), now() + timedelta(minutes=11))
    assert await panel(world, m.ORDERS_STUCK) == [(1,)]
    [(_, _, count, oldest)] = await panel(world, m.ORDERS_OPEN)
    assert (count, oldest) == (1, 11)
    assert waiting["state"] == "fulfilling"


def test_the_money_dashboard_carries_every_query() -> None:
    [board] = [b for b in all_dashboards() if b["uid"] == "cardpulse-money"]
    shown = {sql for _, sql in sql_targets(board)}
    queries = [getattr(module, name) for module in (m, c) for name in dir(module)
               if name.isupper() and isinstance(getattr(module, name), str)]
    assert shown == {series.for_grafana(q) for q in queries}
