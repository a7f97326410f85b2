"""I-63: what a ship node's operator posts, and when an activation node may complete."""

from __future__ import annotations

import pytest

from domain.delivery import card_orders as rules

pytestmark = pytest.mark.req("I-63")
CARDS = ["89860012300000000001", "89860012300000000002"]


def test_a_shipment_needs_a_logistics_no_and_the_order_s_number_of_distinct_iccids() -> None:
    assert rules.shipment({"iccids": CARDS, "logistics_no": " SF123 "}, 2) == rules.Shipment(
        CARDS, "SF123")
    assert rules.shipment({"logistics_no": "SF1"}, 2) == rules.Shipment(None, "SF1")
    for bad in ({}, {"logistics_no": "  "}, {"logistics_no": "x" * 65}, {"logistics_no": 7}):
        with pytest.raises(rules.LogisticsNoRequired):
            rules.shipment(bad, 1)
    for iccids in (CARDS[:1], [CARDS[0], CARDS[0]], ["123", CARDS[1]], "89860012300000000001",
                   [1, 2]):
        with pytest.raises(rules.IccidsInvalid):
            rules.shipment({"iccids": iccids, "logistics_no": "SF1"}, 2)


def test_activation_completes_when_each_card_is_active_or_listed_as_failed() -> None:
    assert rules.activation_done(CARDS, set(CARDS), [])
    assert not rules.activation_done(CARDS, {CARDS[0]}, [])
    failed = rules.failures({"failures": [{"iccid": CARDS[1], "reason": "无信号"}]}, CARDS)
    assert failed == [rules.Failure(CARDS[1], "无信号")]
    assert rules.activation_done(CARDS, {CARDS[0]}, failed)
    assert rules.inactive(CARDS, {CARDS[1]}) == [CARDS[0]]
    for bad in ([{"iccid": "89860012300000000009", "reason": "x"}],
                [{"iccid": CARDS[0], "reason": " "}], [{"iccid": CARDS[0]}], "x",
                [{"iccid": CARDS[0], "reason": "a"}, {"iccid": CARDS[0], "reason": "b"}]):
        with pytest.raises(rules.FailuresInvalid):
            rules.failures({"failures": bad}, CARDS)
    assert rules.failures({}, CARDS) == []
