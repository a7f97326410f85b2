"""Packages and number-card products (G1-01…G1-04, G1-15/16): created, priced and listed by the
platform; agents see the packages they hold a cost price for (G1-08) and listed number cards,
never a purchase price (G1-14). The price chain orders snapshot (G1-13) is read here: in full
by platform roles, as an offer (retail, and the agent's own cost) by the seller's people and
its end users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import AwareDatetime

from api.deps import (
    Caller,
    Db,
    Principal,
    actor,
    caller_agent,
    forbid,
    is_business_writer,
)
from api.errors import invalid
from api.openapi import CONFLICT, FORBIDDEN, Responses
from api.routers.prices import invalidation
from api.schemas.packages import (
    ChainLevelPublic,
    OfferPublic,
    PackageChanged,
    PackageCreate,
    PackagePlatform,
    PackagePublic,
    PackageUpdate,
    PriceChainPublic,
)
from domain.pricing.chain import PriceChain
from domain.pricing.visibility import audience
from store import packages, pricing
from store import price_chain as chains
from store.db import Conn
from store.errors import NotFound
from store.packages import PackageRow

router = APIRouter(prefix="/v1/packages", tags=["packages"], responses=FORBIDDEN)
REFUSED: Responses = {409: {"description": "not for sale through this agent now: "
                                           "`price_unavailable`, `agent_disabled`, "
                                           "`business_line_not_allowed`"}}


def platform_view(row: PackageRow) -> PackagePlatform:
    return PackagePlatform.model_validate(row, from_attributes=True)


def public_view(row: PackageRow) -> PackagePublic:
    return PackagePublic.model_validate(row, from_attributes=True)


def _writer(caller: Principal) -> None:
    if not is_business_writer(caller):
        raise forbid("only the platform (admin, platform_operator) manages packages")


def _line_prices(business_line: str, purchase: int | None, factory: int | None,
                 card_managed: bool) -> None:
    if business_line == "traffic_card" and (purchase is None or factory is not None):
        raise invalid("body", "purchase_price_fen", "a traffic package has a purchase price "
                      "(and no factory price)")
    if business_line == "number_card" and (factory is None or purchase is not None):
        raise invalid("body", "factory_price_fen", "a number card has the factory's price "
                      "(and no purchase price)")
    if business_line == "number_card" and not card_managed:
        raise invalid("body", "card_managed", "number cards are always card-managed")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PackagePlatform,
             responses=CONFLICT)
async def create_package(body: PackageCreate, caller: Caller, db: Db, request: Request
                         ) -> PackagePlatform:
    _writer(caller)
    _line_prices(body.business_line, body.purchase_price_fen, body.factory_price_fen,
                 body.card_managed)
    made = await packages.create_package(db, body.model_dump(), actor(caller, request))
    return platform_view(made)


@router.patch("/{package_id}", response_model=PackageChanged)
async def update_package(package_id: str, body: PackageUpdate, caller: Caller, db: Db,
                         request: Request) -> PackageChanged:
    """Change a package; a new purchase price answers with the top-level cost prices it
    invalidated (G1-06, G1-12)."""
    _writer(caller)
    sent = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    current = await packages.get_package(db, package_id)
    _line_prices(current.business_line,
                 sent.get("purchase_price_fen", current.purchase_price_fen),
                 sent.get("factory_price_fen", current.factory_price_fen), current.card_managed)
    changed, gone = await pricing.change_package(db, package_id, sent, actor(caller, request))
    return PackageChanged(package=platform_view(changed),
                          invalidated=[invalidation(g) for g in gone])


async def _listing(db: Conn, caller: Principal) -> list[PackageRow]:
    seen = audience(caller.role)
    if seen == "platform":
        return await packages.list_packages(db, everything=True, agent_id=None)
    if seen == "agent" and caller.agent_id:
        return await packages.list_packages(db, everything=False, agent_id=caller.agent_id)
    if seen == "end_user" and caller.agent_id:
        return await packages.list_packages(db, everything=False, agent_id=caller.agent_id,
                                            kind="retail", active_only=True)
    raise forbid(f"{caller.role} has no access to packages")


@router.get("", response_model=list[PackagePlatform] | list[PackagePublic])
async def list_packages(caller: Caller, db: Db) -> list[PackagePlatform] | list[PackagePublic]:
    """Platform roles: every package, with its purchase price. Agents: the packages they hold
    a cost price for and listed number cards. End users: what their agent sells."""
    rows = await _listing(db, caller)
    if audience(caller.role) == "platform":
        return [platform_view(r) for r in rows]
    return [public_view(r) for r in rows]


@router.get("/{package_id}", response_model=PackagePlatform | PackagePublic)
async def get_package(package_id: str, caller: Caller, db: Db
                      ) -> PackagePlatform | PackagePublic:
    found = next((r for r in await _listing(db, caller) if r.package_id == package_id), None)
    if found is None:
        raise NotFound(f"package {package_id!r}")
    return platform_view(found) if audience(caller.role) == "platform" else public_view(found)


def chain_view(chain: PriceChain) -> PriceChainPublic:
    return PriceChainPublic(
        package_id=chain.package_id, package_version=chain.package_version,
        business_line=chain.business_line, card_managed=chain.card_managed,
        package_bytes=chain.package_bytes, validity_cycles=chain.validity_cycles, at=chain.at,
        seller_agent_id=chain.seller_agent_id, agent_path=list(chain.agent_path),
        purchase_price_fen=chain.purchase_price_fen, factory_price_fen=chain.factory_price_fen,
        levels=[ChainLevelPublic.model_validate(level, from_attributes=True)
                for level in chain.levels],
        retail_price_id=chain.retail_price_id, retail_version=chain.retail_version,
        retail_price_fen=chain.retail_price_fen)


@router.get("/{package_id}/price-chain", response_model=PriceChainPublic,
            responses=REFUSED)
async def get_price_chain(package_id: str, caller: Caller, db: Db,
                      agent_id: Annotated[str, Query(max_length=64)],
                      at: Annotated[AwareDatetime | None, Query()] = None
                      ) -> PriceChainPublic:
    """The whole chain an order through `agent_id` would snapshot at `at` (default now):
    platform roles only, as it holds the purchase price and every level's cost (G1-13)."""
    if audience(caller.role) != "platform":
        raise forbid("only platform roles read whole price chains")
    return chain_view(await chains.price_chain(db, package_id, agent_id, at))


@router.get("/{package_id}/offer", response_model=OfferPublic, responses=REFUSED)
async def offer(package_id: str, caller: Caller, db: Db,
                agent_id: Annotated[str | None, Query(max_length=64)] = None) -> OfferPublic:
    """What the package sells for through the caller's agent now (an agent's people also see
    their own cost price; an end user only the retail price, G1-14)."""
    seen = audience(caller.role)
    mine = await caller_agent(db, caller)
    if seen not in ("agent", "end_user") or mine is None:
        raise forbid("offers are for an agent's people and its end users")
    if agent_id not in (None, mine.agent_id):
        raise NotFound(f"agent {agent_id!r}")
    chain = await chains.price_chain(db, package_id, mine.agent_id)
    own = chain.levels[-1].cost_price_fen if chain.levels and seen == "agent" else None
    return OfferPublic(package_id=package_id, agent_id=mine.agent_id,
                       business_line=chain.business_line, at=chain.at,
                       retail_price_fen=chain.retail_price_fen, cost_price_fen=own)
