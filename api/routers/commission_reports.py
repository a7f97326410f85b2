"""Card attribution and the monthly activation report of the commission engine (H-29, H-30).

* `PUT /v1/cards/{iccid}/attribution` — the platform (admin, platform operator) attributes a
  card to an agent, directly or through an active promotion link; it overrides any earlier
  attribution (store.commission_facts.attribute).
* `GET /v1/reports/activations` — each agent's activation count month by month: the snapshot
  fixed at each month's end (Asia/Shanghai), and the live count of the current month. Agents
  read their own (another agent's is 404), platform roles every agent's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import PLATFORM_READERS, Caller, Db, actor, forbid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.schemas.commission_facts import (
    ActivationMonth,
    ActivationReport,
    AgentActivations,
    AttributionPublic,
    AttributionPut,
    ReportNote,
)
from core.clock import now
from domain.commission.errors import MonthRangeInvalid, PromotionLinkInactive
from domain.commission.months import (
    BUSINESS_TZ,
    MAX_REPORT_MONTHS,
    SAME_CARD_NOTE_EN,
    SAME_CARD_NOTE_ZH,
    month_of,
    months_between,
)
from store import agents, promotion
from store import commission_facts as cf
from store.errors import NotFound

router = APIRouter(tags=["commission"], responses=FORBIDDEN)
ATTRIBUTORS = ("admin", "platform_operator")
AGENT_ROLES = ("agent_admin", "agent_viewer")
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


@router.put("/v1/cards/{iccid}/attribution", response_model=AttributionPublic,
            responses={**NOT_FOUND, 422: {"description": "`promotion_link_inactive`"}})
async def put_attribution(iccid: str, body: AttributionPut, caller: Caller, db: Db,
                          request: Request) -> AttributionPublic:
    """Attribute the card to an agent (or to the agent of an active promotion link); the
    platform's attribution overrides the one the card's first package order made."""
    if caller.role not in ATTRIBUTORS:
        raise forbid("the platform attributes cards to agents")
    agent_id, ref = body.agent_id, f"{caller.role}:{caller.key_id}"
    if body.promotion_code is not None:
        link = await promotion.attribute(db, body.promotion_code)
        if link is None:
            raise PromotionLinkInactive()
        agent_id = link.agent_id
        ref = f"promotion:{body.promotion_code}"
    if agent_id is None:  # the schema asks for one of the two
        raise NotFound("agent")
    made = await cf.attribute(db, iccid, agent_id, "platform", ref, actor=actor(caller, request))
    return AttributionPublic(iccid=made.iccid, agent_id=made.agent_id,
                             source=made.source, source_ref=made.source_ref, at=made.at)


@router.get("/v1/reports/activations", response_model=ActivationReport,
            responses=NOT_FOUND)
async def activation_report(
        caller: Caller, db: Db, agent_id: str | None = None,
        from_month: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
        to_month: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
) -> ActivationReport:
    """Month by month (`from` … `to`, default this month): the activation count snapshotted
    at each month's end (H-30, fixed afterwards), and for the current month the live count
    (H-27). A card may count in several months; the `note` says so."""
    if caller.role in AGENT_ROLES and caller.agent_id is not None:
        if agent_id is not None and agent_id != caller.agent_id:
            raise NotFound(f"agent {agent_id}")
        agent_id = caller.agent_id
    elif caller.role not in PLATFORM_READERS:
        raise forbid("the activation report is the platform's and each agent's own")
    current = month_of(now())
    first, last = from_month or current, to_month or from_month or current
    try:
        months = months_between(first, last)
    except ValueError:  # a year outside 1970–9998
        raise MonthRangeInvalid() from None
    if not months or len(months) > MAX_REPORT_MONTHS:
        raise MonthRangeInvalid()
    if agent_id is not None:
        who = [(await agents.get_agent(db, agent_id)).agent_id]
    else:
        who = [a.agent_id for a in await agents.list_agents(db, None)]
    taken = {(s.agent_id, s.month): s for s in await cf.snapshots(db, agent_id, first, last)}
    live: dict[str, int] = {}
    if current in months:
        live = ({agent_id: await cf.activation_count(db, agent_id)} if agent_id is not None
                else await cf.activation_counts(db))
    rows = []
    for agent in sorted(who):
        found = []
        for month in months:
            snap = taken.get((agent, month))
            if month == current and snap is None:
                found.append(ActivationMonth(month=month, activations=live.get(agent, 0),
                                             taken_at=None, live=True))
            else:
                found.append(ActivationMonth(
                    month=month, activations=snap.activations if snap else None,
                    taken_at=snap.taken_at if snap else None, live=False))
        rows.append(AgentActivations(agent_id=agent, months=found))
    return ActivationReport(from_month=first, to_month=last, timezone=str(BUSINESS_TZ),
                            agents=rows,
                            note=ReportNote(message_zh=SAME_CARD_NOTE_ZH,
                                            message_en=SAME_CARD_NOTE_EN))
