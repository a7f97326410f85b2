"""The simulator's own card controls: `PUT /_sim/cards/{iccid}` (the operator's doing) and
`POST /_sim/cards` (bulk registration of numbers), over in-process HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.simulator import Sim, onelink_call, onelink_token

CARD = "8986001234567890123"
OTHER = "8986001234567890124"
NUMBER, OTHER_NUMBER = "14812345678", "14812345679"

pytestmark = pytest.mark.req("OPS-SIM")


async def test_an_operator_stop_takes_effect_at_once_and_is_logged(sim: Sim) -> None:
    view = await sim.edit_card(CARD, msisdn=NUMBER, platform="pb", status="stopped",
                               stop_reason="欠费停机")
    assert view == {"iccid": CARD, "msisdn": NUMBER, "platform": "pb", "status": "stopped",
                    "status_changes": 1, "stop_reason": "欠费停机", "frozen": False,
                    "held": True, "stage": None}
    changes = (await sim.client.get("/_sim/changes")).json()
    assert [(c["iccid"], c["status"]) for c in changes] == [(CARD, "stopped")]
    assert await sim.card(CARD) == view
    resumed = await sim.edit_card(CARD, status="active")  # the operator's own resume
    assert (resumed["status"], resumed["stop_reason"], resumed["held"]) == (
        "active", None, False)


async def test_an_operator_change_starts_the_cooldown(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER}, {"iccid": OTHER, "msisdn": OTHER_NUMBER})
    await sim.edit_card(CARD, status="stopped")
    await sim.edit_card(OTHER, msisdn=OTHER_NUMBER, platform="pb")  # no status change
    token = await onelink_token(sim)
    resume = await onelink_call(sim, "change/sim-status", token, msisdn=NUMBER, operType=1)
    assert resume["status"] == "12108"
    batch = await onelink_call(sim, "change/sim-status/batch", token,
                               msisdns=f"{OTHER_NUMBER}_{NUMBER}", operType=9, reason="01")
    assert batch["status"] == "12108"  # refused whole for CARD's cooldown
    stop = await onelink_call(sim, "change/sim-status", token, msisdn=OTHER_NUMBER, operType=0)
    assert stop["status"] == "0"
    sim.clock.advance(180)
    resume = await onelink_call(sim, "change/sim-status", token, msisdn=NUMBER, operType=1)
    assert resume["status"] == "0"


async def test_a_stop_without_reason_is_not_held_and_a_freeze_is(sim: Sim) -> None:
    assert (await sim.edit_card(CARD, status="stopped"))["held"] is False
    frozen = await sim.edit_card(OTHER, frozen=True)  # an active card: a management stop
    assert (frozen["status"], frozen["frozen"], frozen["held"]) == ("stopped", True, True)
    thawed = await sim.edit_card(OTHER, frozen=False)
    assert (thawed["status"], thawed["held"]) == ("stopped", False)


async def test_edit_card_checks_its_fields(sim: Sim) -> None:
    await sim.edit_card(OTHER, msisdn=NUMBER)
    for body in ({"msisdn": "123"}, {"msisdn": NUMBER}, {"platform": "cu"},
                 {"status": "suspended"}, {"frozen": "maybe"}, {"stop_reason": ""},
                 {"nope": 1}, {"platform": None}):
        response = await sim.client.put(f"/_sim/cards/{CARD}", json=body)
        assert response.status_code == 422, body
    assert (await sim.client.put("/_sim/cards/89-bad", json={})).status_code == 422
    assert await sim.stats() == {"requests": {}, "cards": 1}  # only OTHER
    unbound = await sim.edit_card(OTHER, msisdn=None)
    assert unbound["msisdn"] is None
    assert (await sim.edit_card(CARD, msisdn=NUMBER))["msisdn"] == NUMBER  # free again


async def test_bulk_registration_of_100_000_cards_is_one_quick_call(sim: Sim) -> None:
    cards = [{"iccid": f"8986001234{n:09d}", "msisdn": f"148{n:08d}",
              "platform": "pb" if n % 2 else "ct"} for n in range(100_000)]
    started = time.perf_counter()
    response = await sim.client.post("/_sim/cards", json={"cards": cards})
    assert (response.status_code, response.json()) == (200, {"registered": 100_000})
    assert time.perf_counter() - started < 10  # about half a second; generous for slow CI
    assert (await sim.stats())["cards"] == 100_000
    token = await onelink_token(sim)
    status = await onelink_call(sim, "query/sim-status", token, msisdn="14800099999")
    assert status["result"][0]["cardStatus"] == "00"  # card 99,999: a PB number
    assert (await sim.card("8986001234000099999"))["msisdn"] == "14800099999"


async def test_bulk_registration_is_all_or_nothing_and_names_the_bad_items(sim: Sim) -> None:
    await sim.register({"iccid": OTHER, "msisdn": OTHER_NUMBER})

    async def refused(*cards: Any) -> list[str]:
        response = await sim.client.post("/_sim/cards", json={"cards": list(cards)})
        assert response.status_code == 422, cards
        detail: list[str] = response.json()["detail"]
        return detail

    good = {"iccid": CARD, "msisdn": NUMBER}
    assert await refused(good, {"iccid": "89-bad", "msisdn": "14800000001"}) == [
        "cards[1]: iccid must be 19 or 20 characters, got 6"]
    assert await refused(good, {"iccid": "8986001234567890125", "msisdn": "12"}) == [
        "cards[1]: msisdn must be 11 to 15 digits"]
    assert await refused(good, {"iccid": "8986001234567890125", "msisdn": NUMBER}) == [
        f"cards[1]: msisdn {NUMBER} given twice"]
    assert await refused(good, {"iccid": CARD}) == [f"cards[1]: iccid {CARD} given twice"]
    assert await refused(good, {"iccid": "8986001234567890125", "msisdn": OTHER_NUMBER}) == [
        f"msisdn {OTHER_NUMBER} (8986001234567890125) already belongs to {OTHER}"]
    assert await refused({**good, "platform": "cu"}, {**good, "imsi": "1"}, "x") == [
        "cards[0]: platform must be ct or pb", "cards[1]: unknown fields ['imsi']",
        "cards[2]: must be an object"]
    too_many = [{"iccid": CARD}] * 100_001
    assert await refused(*too_many) == ["at most 100,000 cards per call"]
    for body in (b"not json", b"[]", b'{"cards": 1}'):
        response = await sim.client.post("/_sim/cards", content=body)
        assert response.status_code == 422
    assert await sim.stats() == {"requests": {}, "cards": 1}  # nothing was registered
    assert (await sim.card(CARD))["msisdn"] is None


async def test_bulk_registration_may_move_numbers_between_its_cards(sim: Sim) -> None:
    await sim.register({"iccid": CARD, "msisdn": NUMBER})
    await sim.register({"iccid": OTHER, "msisdn": NUMBER}, {"iccid": CARD, "msisdn": None})
    assert ((await sim.card(OTHER))["msisdn"], (await sim.card(CARD))["msisdn"]) == (
        NUMBER, None)
    token = await onelink_token(sim)
    stop = await onelink_call(sim, "change/sim-status", token, msisdn=NUMBER, operType=0)
    assert stop["status"] == "0"
    assert (await sim.card(OTHER))["status"] == "stopped"
