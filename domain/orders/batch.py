"""A batch of package orders (`POST /v1/orders/batch`), pure: which Flow-2 items the agent's
wallet pays for (G2-03, G2-04), decided once under one lock of the wallet.

Each item stands alone: an item the wallet cannot afford is refused with nothing debited, the
items before and after it still go through. Items are taken in the batch's order, each if what
is left after the ones taken covers its cost; an agent whose available balance is below 0
(after a clawback) affords nothing."""

from __future__ import annotations

from collections.abc import Sequence

from core.money import Fen

MAX_ITEMS = 500


def afford(available: Fen, costs: Sequence[Fen]) -> list[bool]:
    """For each cost in order, whether it is taken from `available` (what is left so far)."""
    left = int(available)
    taken = []
    for cost in costs:
        ok = 0 < cost <= left
        if ok:
            left -= cost
        taken.append(ok)
    return taken
