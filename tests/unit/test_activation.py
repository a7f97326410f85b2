"""Opening cards never opened (G2-17): the pure decision of which command a card needs, and
each dialect's open call between its connector and the simulator (in process, a hand-moved
clock): the simulator's cards in inventory / test-ready / activation-ready, the wire answers,
and the connector's results from the change to its confirmation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import OperatorClient
from connectors.ctcc import CtccClient
from connectors.jasper import JasperClient
from connectors.onelink import OneLinkClient
from core.operators import CARD_STATUSES, NETWORK_STATUSES
from domain.control.plan import Batch, Work, command, command_toward, plan
from domain.control.results import CardRef, Result
from domain.quota import (
    CARD_RULES,
    NOT_OPENED,
    REASON_ORDER,
    CardQuota,
    PoolQuota,
    desired_status,
    effective_reasons,
)
from domain.quota.rules import next_card_reasons
from simulators.fleet_state import STAGES, Stage
from tests.support.simulator import (
    APPID,
    CTCC_USER,
    SIM_URL,
    Sim,
    ctcc,
    onelink_call,
    onelink_token,
)

pytestmark = pytest.mark.req("G2-17")
CARD = CardRef("8986001234567890123", "1410000000123")
DIALECTS = ["onelink", "jasper", "ctcc"]


# --- the decision ----------------------------------------------------------------------------

@given(desired=st.sampled_from(CARD_STATUSES), network=st.sampled_from(NETWORK_STATUSES),
       opened=st.booleans())
def test_a_command_is_needed_exactly_when_the_network_differs(
    desired: Any, network: Any, opened: bool,
) -> None:
    found = command(desired, network, opened)
    running = network == "active" or (network == "unknown" and opened)
    assert (found is None) == ((desired == "active") == running)
    if found is not None:
        assert found == command_toward(desired, opened)


def test_a_card_never_opened_is_opened_never_resumed_or_stopped() -> None:
    assert command("active", "unknown", False) == "activate", "no status read needed first"
    assert command("active", "stopped", False) == "activate"
    assert command("stopped", "unknown", False) is None, "it does not run: nothing to stop"
    assert command("stopped", "stopped", False) is None
    assert command("stopped", "active", False) == "stop", "an activation in flight is stopped"
    assert command("active", "stopped", True) == "resume"
    assert command("active", "unknown", True) is None, "unchanged for opened cards"


def test_activations_are_batched_apart_from_resumes() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    work = [Work("a", "onelink", "active", 0, now, opened=False),
            Work("b", "onelink", "active", 0, now, opened=True),
            Work("c", "onelink", "active", 0, now, opened=False)]
    batches = plan(work, {"onelink": 100})
    assert {(b.verb, tuple(b.iccids)) for b in batches} == {("activate", ("a", "c")),
                                                            ("resume", ("b",))}
    with pytest.raises(ValueError, match="cannot drive"):
        Batch("onelink", "stopped", [], "activate")


@given(own=st.sets(st.sampled_from(REASON_ORDER)), usage=st.integers(0, 1000),
       package=st.none() | st.integers(0, 1000), cap=st.none() | st.integers(0, 1000))
def test_no_quota_rule_ever_clears_not_opened(own: set[str], usage: int, package: int | None,
                                              cap: int | None) -> None:
    card = CardQuota("c", package, "p", usage, frozenset(own | {NOT_OPENED}))
    pool = PoolQuota("p", 10_000, cap, usage)
    after = next_card_reasons(card, pool)
    assert NOT_OPENED in after and NOT_OPENED not in CARD_RULES
    assert desired_status(effective_reasons(after, False)) == "stopped"
    assert effective_reasons(after, False)[0] == NOT_OPENED, "shown first"


# --- the simulator's cards never opened, on the wire ------------------------------------------

async def inventory(sim: Sim, stage: Stage = "inventory", **more: Any) -> None:
    await sim.register({"iccid": CARD.iccid, "msisdn": CARD.msisdn, **more})
    await sim.edit_card(CARD.iccid, stage=stage)


@pytest.mark.parametrize(("stage", "code", "oper"), [("inventory", "7", "2"),
                                                     ("test_ready", "6", "5"),
                                                     ("activation_ready", "1", "6")])
async def test_onelink_opens_each_status_with_its_own_oper_type(
    sim: Sim, stage: Stage, code: str, oper: str,
) -> None:
    await inventory(sim, stage)
    token = await onelink_token(sim)
    status = await onelink_call(sim, "query/sim-status", token, msisdn=CARD.msisdn)
    assert status["result"][0]["cardStatus"] == code
    resume = await onelink_call(sim, "change/sim-status", token, msisdn=CARD.msisdn, operType=1)
    assert resume["status"] == "12002", "a resume does not open a card"
    wrong = next(o for o in ("2", "5", "6") if o != oper)
    refused = await onelink_call(sim, "change/sim-status", token, msisdn=CARD.msisdn,
                                 operType=wrong)
    assert refused["status"] == "12002", "each operType opens from its own status only"
    opened = await onelink_call(sim, "change/sim-status", token, msisdn=CARD.msisdn,
                                operType=oper)
    assert opened["status"] == "0" and opened["result"][0]["orderNum"]
    view = await sim.card(CARD.iccid)
    assert (view["status"], view["stage"], view["status_changes"]) == ("active", None, 1)
    again = await onelink_call(sim, "change/sim-status", token, msisdn=CARD.msisdn,
                               operType=oper)
    assert again["status"] == "12107", "opening an open card is a repeat"


async def test_onelink_pb_numbers_read_07_until_opened(sim: Sim) -> None:
    await inventory(sim, "inventory", platform="pb")
    token = await onelink_token(sim)
    status = await onelink_call(sim, "query/sim-status", token, msisdn=CARD.msisdn)
    assert status["result"][0]["cardStatus"] == "07"


@pytest.mark.parametrize("stage", STAGES)
async def test_jasper_names_each_stage_and_put_activated_opens_it(sim: Sim, stage: Stage) -> None:
    await inventory(sim, stage)
    auth = ("acct", "key")
    read = await sim.client.get(f"/rws/api/v1/devices/{CARD.iccid}", auth=auth)
    assert read.json()["status"] == {"inventory": "INVENTORY", "test_ready": "TEST_READY",
                                     "activation_ready": "ACTIVATION_READY"}[stage]
    await sim.knobs(activation_ms=5000)
    put = await sim.client.put(f"/rws/api/v1/devices/{CARD.iccid}", auth=auth,
                               json={"status": "ACTIVATED"})
    assert (put.status_code, put.json()) == (202, {"iccid": CARD.iccid})
    sim.clock.advance(5)
    read = await sim.client.get(f"/rws/api/v1/devices/{CARD.iccid}", auth=auth)
    assert read.json()["status"] == "ACTIVATED"


async def test_ctcc_activates_only_an_activatable_card_and_refuses_a_resume(sim: Sim) -> None:
    await inventory(sim)
    status = await ctcc(sim, "queryCardMainStatus", access_number=CARD.msisdn)
    assert status.json()["productInfo"][0]["productMainStatusCd"] == "1"
    resume = await ctcc(sim, "disabledNumber", access_number=CARD.msisdn, acctCd="",
                             orderTypeId="20")
    assert "<result>100008</result>" in resume.text, "a resume of 可激活 is refused [S20]"
    opened = await ctcc(sim, "requestServActive", access_number=CARD.msisdn)
    body = opened.json()
    assert (body["RESULT"], body["SMSG"]) == ("0", "成功") and body["GROUP_TRANSACTIONID"]
    again = await ctcc(sim, "requestServActive", access_number=CARD.msisdn)
    assert again.json()["RESULT"] != "0" and "无需" in again.json()["SMSG"]
    await sim.edit_card(CARD.iccid, status="stopped", stop_reason="主动停机")
    stopped = await ctcc(sim, "requestServActive", access_number=CARD.msisdn)
    assert stopped.json()["RESULT"] == "-3", "only a 可激活 card is activated"


# --- connectors against the simulator ---------------------------------------------------------

def connector(dialect: str, sim: Sim) -> OperatorClient:
    if dialect == "onelink":
        return OneLinkClient(sim.client, SIM_URL, APPID, "secret", job_poll_s=0.001)
    if dialect == "jasper":
        return JasperClient(sim.client, SIM_URL, "acct", "key")
    return CtccClient(sim.client, SIM_URL, CTCC_USER, "simulator", "cardpulse")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("stage", STAGES)
async def test_each_connector_opens_a_card_and_confirms_it(
    sim: Sim, dialect: str, stage: Stage,
) -> None:
    await inventory(sim, stage)
    await sim.knobs(activation_ms=2000)
    client = connector(dialect, sim)
    assert (await client.status(CARD)).network == "stopped", "a card never opened is not running"
    [answer] = await client.activate([CARD])
    assert answer.result is Result.SUBMITTED, answer
    assert (await client.confirm(CARD, "active", answer.ticket)).result is Result.SUBMITTED
    sim.clock.advance(2)
    assert (await client.confirm(CARD, "active", answer.ticket)).result is Result.CHANGED
    assert (await sim.card(CARD.iccid))["status_changes"] == 1
    [again] = await client.activate([CARD])
    assert again.result.done, "idempotent: an open card is done (Jasper answers 200)"
    assert (await sim.card(CARD.iccid))["status_changes"] == 1


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_an_activation_of_a_card_the_operator_holds_is_refused_for_good(
    sim: Sim, dialect: str,
) -> None:
    await inventory(sim)
    await sim.edit_card(CARD.iccid, frozen=True, stop_reason="欠费停机")
    [answer] = await connector(dialect, sim).activate([CARD])
    assert answer.result.final, answer


@pytest.mark.parametrize("dialect", ["onelink", "ctcc"])
async def test_a_card_stopped_on_the_network_is_opened_by_a_resume(
    sim: Sim, dialect: str,
) -> None:
    await sim.register({"iccid": CARD.iccid, "msisdn": CARD.msisdn})
    await sim.edit_card(CARD.iccid, status="stopped", stop_reason="主动停机")
    sim.clock.advance(200)  # past the cooldown the operator's own change started
    client = connector(dialect, sim)
    [answer] = await client.activate([CARD])
    assert answer.result is Result.SUBMITTED
    assert (await client.confirm(CARD, "active", answer.ticket)).result is Result.CHANGED


def test_every_stage_is_known() -> None:
    assert set(get_args(Stage)) == set(STAGES)
