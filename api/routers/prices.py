"""The price book (G1-05…G1-14, SM-G1-PRICE, §7.2): the platform sets the cost prices of
top-level agents, an agent's admin those of its direct downstream agents and its own retail
prices; the setter (or the platform) deletes them. Each role lists only what G1-14 lets it see.
A cost-price change answers with the prices it invalidated (G1-12)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status

from api.deps import Caller, Db, Principal, actor, caller_agent, forbid, is_business_writer
from api.openapi import FORBIDDEN, NOT_FOUND
from api.schemas.prices import Invalidation, Kind, PriceCreate, PricePublic, PriceSetPublic
from domain.pricing.rules import PriceKind
from domain.pricing.visibility import audience, price_scope, relation, sees_price
from store import agents, pricing
from store.agents import Agent
from store.db import Conn
from store.errors import NotFound
from store.pricing import Invalidated, Price

router = APIRouter(prefix="/v1/prices", tags=["prices"], responses=FORBIDDEN)
IdempotencyKey = Annotated[str | None, Header(
    max_length=128, description="C-05: a retry with the same key returns the first answer")]


def public(price: Price) -> PricePublic:
    return PricePublic.model_validate(price, from_attributes=True)


def invalidation(gone: Invalidated) -> Invalidation:
    return Invalidation(price=public(gone.price), code=gone.code)


async def may_set(db: Conn, caller: Principal, kind: PriceKind, target: Agent) -> None:
    """Who sets (and deletes) a price of `target` (§7.2): the platform the cost prices of
    top-level agents, an agent's admin the cost prices of its direct downstream and its own
    retail prices. Another branch (or upstream) is not found for an agent's people."""
    if is_business_writer(caller):
        if kind == "cost" and target.parent_id is None:
            return
        raise forbid("the platform sets only top-level agents' cost prices; agents set the rest")
    mine = await caller_agent(db, caller) if audience(caller.role) == "agent" else None
    if mine is None:
        raise forbid(f"{caller.role} may not set prices")
    if relation(mine.labels, target.labels) not in ("self", "downstream"):
        raise NotFound(f"agent {target.agent_id!r}")
    owner = target.agent_id if kind == "retail" else target.parent_id
    if caller.role != "agent_admin" or owner != mine.agent_id:
        raise forbid("an agent's admin sets its own retail prices and its direct downstream "
                     "agents' cost prices")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PriceSetPublic,
             responses={**NOT_FOUND, 409: {"description": "`idempotency_conflict`"}})
async def set_price(body: PriceCreate, caller: Caller, db: Db, request: Request,
                    idempotency_key: IdempotencyKey = None) -> PriceSetPublic:
    """Set a new version of a price, checked against its bound (G1-06/07/10/11: 422
    `cost_below_purchase`, `price_below_cost`, `markup_cap_exceeded`)."""
    agent_id = body.agent_id or caller.agent_id
    if agent_id is None:
        raise forbid("name the agent whose price this is (agent_id)")
    target = await agents.get_agent(db, agent_id)
    await may_set(db, caller, body.kind, target)
    done = await pricing.set_price(db, body.kind, body.package_id, target, body.amount_fen,
                                   body.valid_from, body.valid_to, actor(caller, request),
                                   idempotency_key)
    return PriceSetPublic(price=public(done.price),
                          invalidated=[invalidation(g) for g in done.invalidated])


@router.get("", response_model=list[PricePublic])
async def list_prices(caller: Caller, db: Db,
                      package_id: Annotated[str | None, Query(max_length=64)] = None,
                      agent_id: Annotated[str | None, Query(max_length=64)] = None,
                      kind: Kind | None = None, history: bool = False) -> list[PricePublic]:
    """The prices the caller may see (G1-14), in force now or later; `history` adds ended
    and deleted versions."""
    scope = price_scope(caller.role, caller.agent_id)
    if not scope.everything and scope.agent_id is None:
        raise forbid(f"{caller.role} has no access to prices")
    found = await pricing.list_prices(db, scope, package_id=package_id, agent_id=agent_id,
                                      kind=kind, history=history and not scope.active_only)
    return [public(p) for p in found]


async def visible_price(db: Conn, price_id: int, caller: Principal) -> Price:
    scope = price_scope(caller.role, caller.agent_id)
    if not scope.everything and scope.agent_id is None:
        raise forbid(f"{caller.role} has no access to prices")
    price = await pricing.get_price(db, price_id)
    if not sees_price(scope, price.kind, price.agent_id, price.parent_id, price.status):
        raise NotFound(f"price {price_id}")
    return price


@router.get("/{price_id}", response_model=PricePublic)
async def get_price(price_id: int, caller: Caller, db: Db) -> PricePublic:
    return public(await visible_price(db, price_id, caller))


@router.delete("/{price_id}", response_model=PricePublic,
               responses={409: {"description": "`price_ended`: its period is over"}})
async def delete_price(price_id: int, caller: Caller, db: Db, request: Request
                       ) -> PricePublic:
    """Delete a price version (its setter, or the platform): no longer listed or sold;
    history kept (SM-G1-PRICE)."""
    price = await visible_price(db, price_id, caller)
    if not is_business_writer(caller):
        await may_set(db, caller, price.kind, await agents.get_agent(db, price.agent_id))
    return public(await pricing.delete_price(db, price, actor(caller, request)))
