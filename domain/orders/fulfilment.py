"""Pure decisions of package-order fulfilment (G2-17…G2-20, SM-G2-ORDER).

How a package maps to the card's one `package_bytes` (the core has one per card, applying to
the current cycle and kept across cycles): a package order **adds** its bytes to the card's
package. Each completed order is one 套餐周期 (G2-19) paid for in full, so a second package
bought in the same cycle must give more traffic, not replace the first with the same amount;
and a card stopped by `package_quota` (its usage reached its package) only resumes at once
(G2-18) if the package grows past the usage. A card without a package (NULL: no package
quota) counts as 0 bytes. A refund takes exactly the order's bytes out again (G2-20)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Next = Literal["apply", "activate", "wait", "fail", "complete"]


def applied(before: int | None, added: int) -> int:
    """The card's package once an order adding `added` bytes is applied."""
    return (before or 0) + added


def reverted(current: int | None, before: int | None, added: int) -> int | None:
    """The card's package once the order is reverted: exactly what it was before when nothing
    else changed it since (NULL included); otherwise only the order's bytes come out (another
    order or a person changed it meanwhile, and keeps its part), never below 0."""
    if current == applied(before, added):
        return before
    return max(0, (current or 0) - added)


@dataclass(frozen=True)
class Progress:
    """Where an order in `fulfilling` stands, as fulfilment reads it."""

    package_applied: bool
    card_opened: bool
    activation_asked: bool
    activation_failed: bool  # the controls gave up opening the card, after all retries


def next_step(p: Progress) -> Next:
    """What fulfilment does next (SM-G2-ORDER): apply the package first; a card never opened
    is asked to open (G2-17) and waited for; its activation failing for good fails the order;
    with the package applied and the card opened, the order completes (G2-18: completion is
    the later of the two)."""
    if not p.package_applied:
        return "apply"
    if p.card_opened:
        return "complete"
    if not p.activation_asked:
        return "activate"
    return "fail" if p.activation_failed else "wait"


def expired(current: int | None, added: int) -> int:
    """The card's package once an order's package has covered its last cycle: the order's
    bytes come off, never below 0. A card left with nothing has 0 bytes, not NULL: a package
    that has run out gives no more traffic (NULL would mean no package quota at all)."""
    return max(0, (current or 0) - added)
