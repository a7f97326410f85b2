"""The price chain an order snapshots (G1-13): the purchase price, every level's cost price from
the platform's top-level agent down to the seller, and the seller's retail price, each with its
row id and version; or a refusal when the package is not for sale through that seller now.

`build_chain` decides from rows the store resolved at one instant. It re-checks every bound, so
a chain it returns is valid whatever the state flags say (defence in depth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.money import Fen
from domain.pricing.errors import AgentDisabled, LineNotAllowed, PriceUnavailable
from domain.pricing.rules import Bound, price_problem

BusinessLine = Literal["traffic_card", "number_card"]


@dataclass(frozen=True)
class PriceRow:
    """A price version in force at the instant (its id, version, amount and state)."""

    price_id: int
    version: int
    amount_fen: Fen
    status: Literal["active", "invalid"]


@dataclass(frozen=True)
class Level:
    """One agent of the chain, top-level first, with its cost price row (None: none in force)."""

    agent_id: str
    active: bool
    business_lines: tuple[str, ...]
    cost: PriceRow | None


@dataclass(frozen=True)
class Package:
    package_id: str
    business_line: BusinessLine
    card_managed: bool
    version: int
    purchase_price_fen: Fen | None
    factory_price_fen: Fen | None
    package_bytes: int | None
    validity_cycles: int


@dataclass(frozen=True)
class ChainLevel:
    agent_id: str
    cost_price_id: int
    cost_version: int
    cost_price_fen: Fen


@dataclass(frozen=True)
class PriceChain:
    """What an order keeps (G1-13). For a number card (G1-15) there are no agent prices: the
    factory's price is the retail price and `levels` is empty."""

    package_id: str
    package_version: int
    business_line: BusinessLine
    card_managed: bool
    package_bytes: int | None
    validity_cycles: int
    at: datetime
    seller_agent_id: str
    agent_path: tuple[str, ...]
    purchase_price_fen: Fen | None
    factory_price_fen: Fen | None
    levels: tuple[ChainLevel, ...]
    retail_price_id: int | None
    retail_version: int | None
    retail_price_fen: Fen


def _check_agents(package: Package, levels: Sequence[Level]) -> None:
    if not levels:
        raise PriceUnavailable("no such selling agent")
    if not all(level.active for level in levels):
        raise AgentDisabled()
    if not all(package.business_line in level.business_lines for level in levels):
        raise LineNotAllowed()


def _priced_levels(package: Package, levels: Sequence[Level]) -> tuple[ChainLevel, ...]:
    """Every level's cost, each in force, active and within its bound (G1-08, G1-12)."""
    bound = Bound.purchase(package.purchase_price_fen or 0)  # traffic cards have one (schema)
    chained = []
    for level in levels:
        cost = level.cost
        if cost is None or cost.status != "active" or price_problem(cost.amount_fen, bound):
            raise PriceUnavailable(f"no valid cost price for agent {level.agent_id}")
        chained.append(ChainLevel(level.agent_id, cost.price_id, cost.version, cost.amount_fen))
        bound = Bound.seller_cost(cost.amount_fen)
    return tuple(chained)


def _chain(package: Package, path: tuple[str, ...], at: datetime,
           levels: tuple[ChainLevel, ...], retail: PriceRow | None, retail_fen: Fen) -> PriceChain:
    return PriceChain(
        package_id=package.package_id, package_version=package.version,
        business_line=package.business_line, card_managed=package.card_managed,
        package_bytes=package.package_bytes, validity_cycles=package.validity_cycles, at=at,
        seller_agent_id=path[-1], agent_path=path,
        purchase_price_fen=package.purchase_price_fen,
        factory_price_fen=package.factory_price_fen, levels=levels,
        retail_price_id=retail.price_id if retail else None,
        retail_version=retail.version if retail else None, retail_price_fen=retail_fen)


def build_chain(package: Package, levels: Sequence[Level], retail: PriceRow | None,
                at: datetime) -> PriceChain:
    """The chain of `package` sold by the last of `levels` at `at`, or raise PriceUnavailable
    / AgentDisabled / LineNotAllowed."""
    _check_agents(package, levels)
    path = tuple(level.agent_id for level in levels)
    if package.business_line == "number_card":
        if package.factory_price_fen is None:  # the schema requires one
            raise PriceUnavailable("the number card has no factory price")
        return _chain(package, path, at, (), None, package.factory_price_fen)
    chained = _priced_levels(package, levels)
    own = Bound.seller_cost(chained[-1].cost_price_fen)
    if retail is None or retail.status != "active" or price_problem(retail.amount_fen, own):
        raise PriceUnavailable(f"no valid retail price of agent {path[-1]}")
    return _chain(package, path, at, chained, retail, retail.amount_fen)
