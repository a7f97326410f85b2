"""The simulated operator's card states: repeat is success, changes respect the cooldown."""

from __future__ import annotations

from simulators.fleet_state import SimNetwork

ICCID = "8986001234567890123"


def test_unseen_card_is_active_and_changes_are_counted() -> None:
    net = SimNetwork(cooldown_s=180)
    assert net.card(ICCID).status == "active"
    assert net.change(ICCID, "stopped", now=0) == "accepted"
    assert net.change(ICCID, "stopped", now=1) == "repeat"
    assert net.change(ICCID, "active", now=100) == "cooldown"
    assert net.change(ICCID, "active", now=181) == "accepted"
    assert net.card(ICCID).status_changes == 2


def test_stats_group_by_dialect() -> None:
    net = SimNetwork(cooldown_s=0)
    net.count("jasper", "accepted")
    net.count("jasper", "accepted")
    net.count("onelink", "cooldown")
    assert net.stats_view() == {"jasper": {"accepted": 2}, "onelink": {"cooldown": 1}}
