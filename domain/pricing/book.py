"""The invalidation cascade of G1-12 (AMB-45), pure: when an upstream price changes, which
dependent prices now break their bound and become `invalid`.

A cost price of agent X bounds X's retail price and the cost prices X set for its direct
downstream agents; a package's purchase price bounds the platform's cost prices for top-level
agents. Nothing is rewritten: a dependent that breaks its new bound is invalidated, one that
keeps within it is left alone. The cascade goes one level deep: an invalidated price keeps its
amount, so the bounds of its own dependents do not move (its agent's chain is unavailable
anyway while it is invalid).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.money import Fen
from domain.pricing.rules import Bound, PriceKind, price_problem
from domain.refusals import Refusal

Tree = Mapping[str, str | None]  # agent → its parent (None: a top-level agent)


@dataclass(frozen=True)
class Key:
    """One entry of a package's price book: the cost or the retail price of an agent."""

    kind: PriceKind
    agent_id: str


@dataclass(frozen=True)
class Dependent:
    """A price in force that an upstream change may invalidate."""

    price_id: int
    kind: PriceKind
    agent_id: str
    amount: Fen


def seller_of(key: Key, tree: Tree) -> str | None:
    """Whose cost bounds this price: the agent itself for its retail price, the parent for a
    cost price (None: the platform, bounded by the purchase price)."""
    return key.agent_id if key.kind == "retail" else tree[key.agent_id]


def bound_of(key: Key, book: Mapping[Key, Fen], tree: Tree, purchase: Fen) -> Bound | None:
    """The bound of `key` in `book` (None: its seller has no cost price, G1-08)."""
    seller = seller_of(key, tree)
    if seller is None:
        return Bound.purchase(purchase)
    own = book.get(Key("cost", seller))
    return None if own is None else Bound.seller_cost(own)


def dependents_of(changed: Key | None, keys: Iterable[Key], tree: Tree) -> list[Key]:
    """The entries among `keys` bounded by `changed` (None: the purchase price)."""
    if changed is not None and changed.kind == "retail":
        return []
    seller = None if changed is None else changed.agent_id
    return [k for k in keys if seller_of(k, tree) == seller]


def breaches(bound: Bound, dependents: Sequence[Dependent]) -> list[tuple[Dependent, Refusal]]:
    """The dependents that break `bound`, each with the rule it breaks."""
    found = ((d, price_problem(d.amount, bound)) for d in dependents)
    return [(d, problem) for d, problem in found if problem is not None]


def cascade(book: Mapping[Key, Fen], tree: Tree, purchase: Fen, changed: Key | None,
            valid: Iterable[Key]) -> set[Key]:
    """After `changed` (already applied to `book` / `purchase`), the entries among `valid`
    that become invalid."""
    bound = (Bound.purchase(purchase) if changed is None
             else Bound.seller_cost(book[changed]) if changed.kind == "cost" else None)
    if bound is None:
        return set()
    candidates = dependents_of(changed, [k for k in valid if k in book], tree)
    return {k for k in candidates if price_problem(book[k], bound) is not None}
