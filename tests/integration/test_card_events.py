"""Operator card events (`POST /v1/upstream/{operator}/card-events`, G2-01, G2-09, G2-17):
signed like every push; a push with any bad event refused whole, naming each; every event
stored once per event id (a repeat changes nothing); a number card's event recorded as a
`number_card_event` order with no ledger entry and announced for commission; a number card the
operator reports activated, not yet opened, is asked to open; an unknown card's event kept in
the dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from core.settings import Settings
from store.cards import get_card
from store.db import Conn
from tests.support.api import ADMIN, signed_body

pytestmark = pytest.mark.integration
SECRET = "card-events-secret"  # noqa: S105 - a test secret
NUMBER = "89860012300000009001"
TRAFFIC = "89860012300000009002"
UNOPENED = "89860012300000009003"


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(settings.require_database(),
                                                     autocommit=True) as made:
        yield made


async def _ok(answer: Any, code: int = 200) -> Any:
    got = await answer
    assert got.status_code == code, got.text
    return got.json() if got.content else None


@pytest.fixture
async def world(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A number-card product, an enterprise with a number card (opened), an unopened number
    card and a traffic card; onelink's push secret."""
    await _ok(client.put("/v1/operators/onelink/push-secret", json={"secret": SECRET},
                         headers=ADMIN), 204)
    await _ok(client.post("/v1/enterprises", json={"enterprise_id": "e", "name": "E"},
                          headers=ADMIN), 201)
    await _ok(client.post("/v1/packages", headers=ADMIN, json={
        "package_id": "nc19", "name": "19 元号卡", "business_line": "number_card",
        "factory_price_fen": 1900}), 201)
    for iccid, opened in ((NUMBER, True), (TRAFFIC, True), (UNOPENED, False)):
        await _ok(client.post("/v1/cards", headers=ADMIN, json={
            "iccid": iccid, "enterprise_id": "e", "operator": "onelink", "opened": opened}),
            201)
    for iccid in (NUMBER, UNOPENED):
        made = await _ok(client.put(f"/v1/cards/{iccid}/product", headers=ADMIN,
                                    json={"product_id": "nc19"}))
        assert made["business_line"] == "number_card"
    return client


def event(event_id: str, iccid: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "iccid": iccid, "type": kind,
            "at": datetime.now(UTC).isoformat(), **extra}


async def push(client: httpx.AsyncClient, events: list[dict[str, Any]],
               secret: str = SECRET) -> httpx.Response:
    raw, headers = signed_body({"events": events}, secret)
    return await client.post("/v1/upstream/onelink/card-events", content=raw, headers=headers)


async def rows(conn: Conn, query: str, *params: Any) -> list[tuple[Any, ...]]:
    return list(await (await conn.execute(query, params)).fetchall())


async def test_an_unsigned_or_badly_signed_push_is_401_and_stores_nothing(
        world: httpx.AsyncClient, conn: Conn) -> None:
    bad = await push(world, [event("e1", NUMBER, "activated")], secret="wrong")
    assert bad.status_code == 401
    unsigned = await world.post("/v1/upstream/onelink/card-events",
                                json={"events": [event("e1", NUMBER, "activated")]})
    assert unsigned.status_code == 401
    assert await rows(conn, "SELECT * FROM card_events") == []


@pytest.mark.req("G2-09")
async def test_a_push_with_bad_events_is_422_naming_each_and_nothing_is_stored(
        world: httpx.AsyncClient, conn: Conn) -> None:
    answer = await push(world, [
        event("ok-1", NUMBER, "activated"),
        event("bad-type", NUMBER, "opened"),
        event("bad-iccid", "12345", "activated"),
        event("no-amount", NUMBER, "recharged"),
        event("stray-amount", NUMBER, "activated", amount_fen=100),
        event("zero", NUMBER, "recharged", amount_fen=0),
    ])
    assert answer.status_code == 422, answer.text
    named = {(d["input"]["event_id"], d["loc"][2], d["loc"][3]) for d in answer.json()["detail"]}
    assert named == {("bad-type", 1, "type"), ("bad-iccid", 2, "iccid"),
                     ("no-amount", 3, "amount_fen"), ("stray-amount", 4, "amount_fen"),
                     ("zero", 5, "amount_fen")}
    assert await rows(conn, "SELECT * FROM card_events") == []


@pytest.mark.req("G2-01", "G2-09")
async def test_number_card_events_become_orders_without_money_and_repeats_change_nothing(
        world: httpx.AsyncClient, conn: Conn) -> None:
    events = [event("rn-1", NUMBER, "real_name_verified"),
              event("rc-1", NUMBER, "recharged", amount_fen=5000),
              event("tr-1", TRAFFIC, "real_name_verified")]
    first = await _ok(push(world, events), 202)
    assert (first["accepted"], first["stored"], first["unknown_cards"]) == (3, 3, 0)
    assert len(first["number_card_orders"]) == 2

    again = await _ok(push(world, events), 202)  # the operator retries: nothing changes
    assert (again["stored"], again["number_card_orders"]) == (0, [])

    made = [await _ok(world.get(f"/v1/orders/{o}", headers=ADMIN))
            for o in first["number_card_orders"]]
    assert {(o["kind"], o["state"], o["event_type"], o["amount_fen"], o["iccid"],
             o["package_id"]) for o in made} == {
        ("number_card_event", "recorded", "real_name_verified", 0, NUMBER, "nc19"),
        ("number_card_event", "recorded", "recharged", 5000, NUMBER, "nc19")}
    # G2-09: the user's money never went through the platform
    assert await rows(conn, "SELECT * FROM ledger_transfers WHERE order_id = ANY(%s)",
                      first["number_card_orders"]) == []
    stored = await rows(conn, "SELECT event_id, outcome FROM card_events ORDER BY event_id")
    assert stored == [("rc-1", "number_card"), ("rn-1", "number_card"), ("tr-1", "recorded")]
    announced = await rows(conn, "SELECT kind, data ->> 'iccid', data ->> 'amount' "
                                 "FROM outbox_events WHERE kind IN ('real_name_verified', "
                                 "'number_card_recharged', 'card_activated') ORDER BY kind, 2")
    assert announced == [("number_card_recharged", NUMBER, "5000"),
                         ("real_name_verified", NUMBER, "0"),
                         ("real_name_verified", TRAFFIC, None)]


@pytest.mark.req("G2-17", "G2-09")
async def test_an_activated_number_card_not_yet_opened_is_asked_to_open(
        world: httpx.AsyncClient, conn: Conn) -> None:
    before = await get_card(conn, UNOPENED)
    assert (before.stop_reasons, before.opened) == (["not_opened"], False)
    answer = await _ok(push(world, [event("act-1", UNOPENED, "activated"),
                                    event("act-2", NUMBER, "activated")]), 202)
    assert len(answer["number_card_orders"]) == 2
    after = await get_card(conn, UNOPENED)
    # the `activate` desired change: only `not_opened` goes, the controls open the card
    assert (after.stop_reasons, after.desired_status, after.opened) == ([], "active", False)
    assert (await get_card(conn, NUMBER)).stop_reasons == []


async def test_an_event_for_an_unknown_card_is_stored_and_dead_lettered(
        world: httpx.AsyncClient, conn: Conn) -> None:
    stranger = "89860012300000009999"
    answer = await _ok(push(world, [event("x-1", stranger, "activated")]), 202)
    assert (answer["stored"], answer["unknown_cards"], answer["number_card_orders"]) == (
        1, 1, [])
    letters = await rows(conn, "SELECT source, reason, iccid FROM dead_letters")
    assert letters == [("card_events", "unknown_card", stranger)]
    again = await _ok(push(world, [event("x-1", stranger, "activated")]), 202)
    assert again["unknown_cards"] == 0
    assert len(await rows(conn, "SELECT * FROM dead_letters")) == 1
