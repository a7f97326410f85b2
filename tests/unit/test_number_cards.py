"""Number-card commission decisions (H-32, H-35, AMB-46): amounts half-up, tenure in whole
days, the conditions judged at min(now, deadline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.commission import number_cards as nc
from domain.commission.facts import CardFacts, Recharge
from domain.commission.rules import from_row, terms_of

T0 = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)


def _facts(*recharges: Recharge) -> CardFacts:
    return CardFacts(iccid="89860000000000000001", real_name_at=None, real_name_ref=None,
                     recharges=recharges, package_orders=(), network_status="active",
                     network_status_at=T0, opened=True, attributed_agent="A")


@pytest.mark.req("H-32", "AMB-46")
@pytest.mark.parametrize(("mode", "value", "line", "expected"), [
    ("fixed", 3000, 100, 3000), ("percent", 1250, 100, 13), ("percent", 1250, 3, 0),
    ("percent", 1250, 4, 1), ("percent", 10000, 777, 777), ("percent", 0, 500, 0)])
def test_the_commission_of_a_line(mode: nc.AmountMode, value: int, line: int,
                                  expected: int) -> None:
    assert nc.line_commission(mode, value, line) == expected


@pytest.mark.req("H-35")
def test_the_terms_default_as_the_rule_model_does() -> None:
    row = {"rule_id": "r", "version": 1, "agent_id": "A", "kind": "number_card_settlement",
           "package_ids": [], "business_line": "number_card", "amount_mode": "fixed",
           "amount_value": 1, "freeze_days": 0, "requires_approval": True, "terms": {},
           "tiers": None, "effective_from": T0, "status": "active"}
    stored = terms_of(from_row(row))
    assert nc.Terms.of(stored) == nc.Terms.of({}) == nc.Terms(None, None, True, 90)


@pytest.mark.req("H-35")
def test_tenure_counts_whole_days_and_only_while_active() -> None:
    active = nc.Activation(T0, True)
    assert nc.tenure_days(active, T0 + timedelta(days=30) - timedelta(seconds=1)) == 29
    assert nc.tenure_days(active, T0 + timedelta(days=30)) == 30
    assert nc.tenure_days(nc.Activation(T0, False), T0 + timedelta(days=60)) == 0
    assert nc.tenure_days(nc.Activation(None, True), T0) == 0


@pytest.mark.req("H-33", "H-35", "C-09")
def test_conditions_are_judged_at_the_deadline_at_the_latest() -> None:
    terms = nc.Terms(first_recharge_fen=5000, min_tenure_days=None, require_not_sanwu=False,
                     conditions_deadline_days=90)
    deadline = T0 + timedelta(days=90)
    late = Recharge("rc", 5000, deadline + timedelta(seconds=1), False, "operator")
    early = Recharge("rc", 5000, deadline, False, "operator")
    activation = nc.Activation(T0, True)
    decision, _ = nc.decide(terms, _facts(late), activation, False, T0, deadline
                            - timedelta(seconds=1))
    assert decision == "wait"
    decision, verdict = nc.decide(terms, _facts(late), activation, False, T0,
                                  deadline + timedelta(days=1))
    assert (decision, verdict.at) == ("invalidate", deadline)
    decision, verdict = nc.decide(terms, _facts(early), activation, False, T0,
                                  deadline + timedelta(days=1))
    assert (decision, verdict.at) == ("unfreeze", deadline)
    refunded = Recharge("rc", 9000, T0, True, "order")
    assert nc.decide(terms, _facts(refunded), activation, False, T0, T0)[0] == "wait"
    assert nc.decide(nc.Terms(None, None, True), _facts(), activation, None, T0, T0)[0] == "wait"
