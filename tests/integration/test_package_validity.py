"""Package validity (G2-18, G2-19; `packages.validity_cycles`): a package order covers its
validity in billing cycles from the cycle it was applied in; its bytes count in each of them
and come off the card at the cycle rollover after the last one (on the platform clock, stamped
with the instant the next cycle began); a refund after that takes nothing off twice. Dates come
from the cycle the package was applied in, whatever day the suite runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime

import psycopg
import pytest

from core.settings import Settings
from domain.usage.partitioning import partition_for
from store import fulfilment
from store.cards import NewCard, create_card, get_card
from store.db import Conn, Reconnecting
from store.enterprises import create_enterprise
from streams.publish import Publisher
from streams.rollover import roll_over
from tests.support.dates import SHANGHAI, store_clock
from tests.support.orders import Shop, order, recharge, shop, spec_world
from tests.support.pricing import ok

pytestmark = pytest.mark.integration
GIB = 1 << 30  # the package p90 of the spec world
CARD = "89860012300000007001"


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[Shop]:
    async with shop(settings) as made:
        await spec_world(made)
        yield made


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        await create_enterprise(made, "e", "E", "Asia/Shanghai")
        yield made


async def register(conn: Conn, settings: Settings, package_bytes: int | None) -> None:
    await create_card(conn, "e", NewCard(CARD, "onelink", package_bytes, None, [],
                                         partition_for(CARD, settings.usage_partitions)))


async def bought(world: Shop, conn: Conn, settings: Settings, cycles: int) -> str:
    """A Flow-2 order of p90 covering `cycles` cycles, fulfilled (package applied)."""
    await ok(world.market.admin.patch("/v1/packages/p90", json={"validity_cycles": cycles}))
    a = world.who("a.admin")
    await recharge(world, a, "agent", 6000)
    made = await order(a, "agent_wallet", CARD)
    await fulfilment.fulfil_due(conn, settings.orders_topic)
    done = await world.reaches(made["order_id"], "completed")
    return str(done["order_id"])


async def covered(conn: Conn, order_id: str) -> tuple[date, date, datetime | None]:
    row = await (await conn.execute(
        "SELECT first_cycle, last_cycle, expired_at FROM card_packages WHERE order_id = %s",
        (order_id,))).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def month_start(first: date, months: int) -> datetime:
    """00:00 (Shanghai) on the first day of the month `months` after `first`'s."""
    index = first.year * 12 + first.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=SHANGHAI)


async def roll(settings: Settings, conn: Conn, first: date, months: int) -> None:
    """Move the platform clock to the middle of the month `months` after `first`'s, and run
    the cycle rollover there."""
    target = month_start(first, months).replace(day=15, hour=12)
    await store_clock(settings.require_database(), target)
    publisher, db = Publisher(settings), Reconnecting(settings.require_database())
    try:
        await publisher.start()
        await roll_over(db, publisher)
    finally:
        await publisher.stop()
        await db.close()


@pytest.mark.req("G2-18", "G2-19")
async def test_a_package_counts_in_each_of_its_cycles_and_comes_off_after_the_last(
        world: Shop, settings: Settings, conn: Conn) -> None:
    await register(conn, settings, None)
    three = await bought(world, conn, settings, 3)
    one = await bought(world, conn, settings, 1)
    first, last, _ = await covered(conn, three)
    assert last == month_start(first, 2).date()
    assert (await covered(conn, one))[:2] == (first, first)
    assert (await get_card(conn, CARD)).package_bytes == 2 * GIB

    await roll(settings, conn, first, 1)  # the one-cycle package is over, not the other
    assert (await get_card(conn, CARD)).package_bytes == GIB
    assert (await covered(conn, one))[2] == month_start(first, 1)  # the due instant
    assert (await covered(conn, three))[2] is None

    await roll(settings, conn, first, 2)  # its third cycle: still counting
    view = await get_card(conn, CARD)
    assert (view.package_bytes, view.stop_reasons) == (GIB, [])

    await roll(settings, conn, first, 3)  # over: no traffic left, stopped by its quota
    view = await get_card(conn, CARD)
    assert (view.package_bytes, view.stop_reasons, view.desired_status) == (
        0, ["package_quota"], "stopped")
    assert (await covered(conn, three))[2] == month_start(first, 3)
    assert (await get_card(conn, CARD)).package_count == 2  # G2-19: both were used

    await roll(settings, conn, first, 3)  # a second rollover changes nothing
    assert (await get_card(conn, CARD)).package_bytes == 0


@pytest.mark.req("G2-18", "G2-20")
async def test_an_expired_package_leaves_what_the_card_had_and_a_later_refund_takes_nothing(
        world: Shop, settings: Settings, conn: Conn) -> None:
    await register(conn, settings, 100)  # a package set by hand before the order
    made = await bought(world, conn, settings, 1)
    first, _, _ = await covered(conn, made)
    assert (await get_card(conn, CARD)).package_bytes == 100 + GIB

    await roll(settings, conn, first, 1)
    assert (await get_card(conn, CARD)).package_bytes == 100

    refunding = await ok(world.market.admin.post(f"/v1/orders/{made}/refund",
                                               json={"reason": "客户退款"}))
    assert refunding["state"] == "refunded", refunding
    assert (await get_card(conn, CARD)).package_bytes == 100  # nothing taken off twice
