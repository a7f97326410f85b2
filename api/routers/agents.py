"""Agents (G1-19…G1-21, §7.2): the platform creates, moves, disables and enables agents; an
agent's admin creates its direct downstream agents and disables or enables its downstream
(proposed in §7.2); an agent's people see their agent and its downstream, nothing else."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from api.deps import (
    Caller,
    Db,
    Principal,
    actor,
    caller_agent,
    forbid,
    is_business_writer,
    visible_agent,
)
from api.openapi import CONFLICT, FORBIDDEN, NOT_FOUND
from api.schemas.agents import (
    AgentCreate,
    AgentMove,
    AgentPublic,
    NotificationPublic,
    PromotionLinkCreate,
    PromotionLinkPublic,
)
from domain.pricing.visibility import audience, relation
from store import agents, pricing, promotion
from store.agents import Agent
from store.db import Conn

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses=FORBIDDEN)


def public(agent: Agent) -> AgentPublic:
    return AgentPublic(agent_id=agent.agent_id, name=agent.name, parent_id=agent.parent_id,
                       depth=len(agent.labels), status=agent.status,
                       business_lines=agent.business_lines,  # type: ignore[arg-type]
                       created_at=agent.created_at, updated_at=agent.updated_at)


async def _may_create(db: Conn, caller: Principal, parent_id: str | None) -> None:
    if is_business_writer(caller):
        return
    if caller.role != "agent_admin":
        raise forbid(f"{caller.role} may not create agents")
    if parent_id is None:
        raise forbid("only the platform creates top-level agents")
    await visible_agent(db, parent_id, caller)
    if parent_id != caller.agent_id:
        raise forbid("an agent creates only its own direct downstream agents")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AgentPublic,
             responses={**NOT_FOUND, **CONFLICT})
async def create_agent(body: AgentCreate, caller: Caller, db: Db, request: Request
                       ) -> AgentPublic:
    """A top-level agent (platform) or a downstream agent (platform, or the parent's admin)."""
    await _may_create(db, caller, body.parent_id)
    made = await agents.create_agent(db, body.agent_id, body.name, body.parent_id,
                                     body.business_lines, actor(caller, request))
    return public(made)


@router.get("", response_model=list[AgentPublic])
async def list_agents(caller: Caller, db: Db) -> list[AgentPublic]:
    """Every agent (platform roles), or the caller's agent and its downstream."""
    seen = audience(caller.role)
    if seen == "platform":
        return [public(a) for a in await agents.list_agents(db, None)]
    mine = await caller_agent(db, caller) if seen == "agent" else None
    if mine is None:
        raise forbid(f"{caller.role} has no access to agents")
    return [public(a) for a in await agents.list_agents(db, mine)]


@router.get("/{agent_id}", response_model=AgentPublic)
async def get_agent(agent_id: str, caller: Caller, db: Db) -> AgentPublic:
    return public(await visible_agent(db, agent_id, caller))


@router.post("/{agent_id}/move", response_model=AgentPublic, responses=NOT_FOUND)
async def move_agent(agent_id: str, body: AgentMove, caller: Caller, db: Db, request: Request
                     ) -> AgentPublic:
    """Move an agent and its downstream below another parent (platform only, G1-21); orders
    already made keep their snapshot. The agent's cost prices are re-checked against its new
    upstream: those that break a bound become invalid and their owner is notified (G1-12)."""
    await visible_agent(db, agent_id, caller)
    if not is_business_writer(caller):
        raise forbid("only the platform moves agents")
    moved, _ = await pricing.move_agent(db, agent_id, body.parent_id, actor(caller, request))
    return public(moved)


async def _may_switch(db: Conn, caller: Principal, agent_id: str) -> None:
    target = await visible_agent(db, agent_id, caller)
    if is_business_writer(caller):
        return
    mine = await caller_agent(db, caller)
    if caller.role != "agent_admin" or mine is None or relation(
            mine.labels, target.labels) != "downstream":
        raise forbid("only the platform, or an upstream agent's admin, changes an agent's "
                     "status")


@router.post("/{agent_id}/disable", response_model=AgentPublic)
async def disable_agent(agent_id: str, caller: Caller, db: Db, request: Request
                        ) -> AgentPublic:
    """Stop new sales through the agent and its downstream (G1-20); orders, commissions and
    the wallet go on."""
    await _may_switch(db, caller, agent_id)
    return public(await agents.set_status(db, agent_id, "disabled", actor(caller, request)))


@router.post("/{agent_id}/enable", response_model=AgentPublic)
async def enable_agent(agent_id: str, caller: Caller, db: Db, request: Request
                       ) -> AgentPublic:
    await _may_switch(db, caller, agent_id)
    return public(await agents.set_status(db, agent_id, "active", actor(caller, request)))


@router.get("/{agent_id}/notifications", response_model=list[NotificationPublic])
async def list_notifications(agent_id: str, caller: Caller, db: Db
                             ) -> list[NotificationPublic]:
    """The agent's in-app notifications, newest first (its own people and platform roles);
    each is also queued as an email in the outbox."""
    await visible_agent(db, agent_id, caller)
    if audience(caller.role) != "platform" and caller.agent_id != agent_id:
        raise forbid("an agent's notifications are its own people's")
    return [NotificationPublic.model_validate(n, from_attributes=True)
            for n in await agents.notifications(db, agent_id)]


@router.post("/{agent_id}/promotion-links", status_code=status.HTTP_201_CREATED,
             response_model=PromotionLinkPublic,
             responses={409: {"description": "`business_line_not_allowed`: the agent may "
                                             "not sell number cards"}})
async def create_promotion_link(agent_id: str, body: PromotionLinkCreate, caller: Caller,
                                db: Db, request: Request) -> PromotionLinkPublic:
    """A promotion link or card board of a listed number card (G1-16): the agent's admin, or
    the platform; activations through its code are the agent's."""
    target = await visible_agent(db, agent_id, caller)
    if not is_business_writer(caller) and not (
            caller.role == "agent_admin" and caller.agent_id == agent_id):
        raise forbid("an agent's admin (or the platform) makes its promotion links")
    made = await promotion.create_link(db, target, body.package_id, body.medium,
                                       actor(caller, request))
    return PromotionLinkPublic.model_validate(made, from_attributes=True)


@router.get("/{agent_id}/promotion-links", response_model=list[PromotionLinkPublic])
async def list_promotion_links(agent_id: str, caller: Caller, db: Db
                               ) -> list[PromotionLinkPublic]:
    await visible_agent(db, agent_id, caller)
    return [PromotionLinkPublic.model_validate(link, from_attributes=True)
            for link in await promotion.list_links(db, agent_id)]
