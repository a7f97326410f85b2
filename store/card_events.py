"""Operator card events (G2-09, G2-17, `POST /v1/upstream/{operator}/card-events`): stored once
per (operator, event_id), announced on the orders topic for the commission module (H), and, for
a number card, recorded as a `number_card_event` order with no ledger entry (the user paid the
operator or factory, G1-15); an `activated` event for a number card not yet opened asks for its
activation (the `activate` desired change of the controls).

A card is a number card when the product it was registered with (`cards.product_id`) is a
`number_card` package; a card without a product is a traffic card. An event for a card
CardPulse does not know (or knows under another operator) is kept in `dead_letters`
(source `card_events`), like usage of an unknown card.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from store import outbox
from store.agents import Actor
from store.cards import activate
from store.db import Conn
from store.dead_letters import dead_letter
from store.errors import NotFound
from store.orders import NUMBER_CARD_EVENT_KINDS, NewOrder, insert
from store.outbox import NewEvent
from store.packages import get_package
from store.quota import Outcome

EventType = Literal["real_name_verified", "activated", "recharged"]
SOURCE = "card_events"


@dataclass(frozen=True)
class CardEvent:
    """One event as the operator pushed it (validated by the API)."""

    event_id: str
    iccid: str
    type: EventType
    at: datetime
    amount_fen: int | None = None


@dataclass
class Received:
    """What a push did: events stored now, repeats, number-card orders, unknown cards, and
    the desired changes (activations) to publish after the commit."""

    stored: int = 0
    repeated: int = 0
    orders: list[str] = field(default_factory=list)
    unknown_cards: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


_STORE = """
INSERT INTO card_events (operator, event_id, iccid, type, amount_fen, at, outcome)
VALUES (%s, %s, %s, %s, %s, %s, 'recorded')
ON CONFLICT (operator, event_id) DO NOTHING RETURNING received_at
"""
_CARD = """
SELECT c.operator, c.enterprise_id, c.product_id, c.opened, k.business_line
FROM cards c LEFT JOIN packages k ON k.package_id = c.product_id
WHERE c.iccid = %s FOR UPDATE OF c
"""
_OUTCOME = ("UPDATE card_events SET outcome = %s, order_id = %s "
            "WHERE operator = %s AND event_id = %s")
_SET_PRODUCT = "UPDATE cards SET product_id = %s WHERE iccid = %s RETURNING iccid"


def order_id_of(operator: str, event_id: str) -> str:
    """The number_card_event order of an event: derived from it, so it exists at most once."""
    digest = hashlib.sha256(f"{operator}\x00{event_id}".encode()).hexdigest()
    return f"N{digest[:24]}"


def _data(operator: str, event: CardEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"operator": operator, "event_id": event.event_id,
                            "iccid": event.iccid, "type": event.type,
                            "at": event.at.isoformat()}
    if event.amount_fen is not None:
        data["amount"] = event.amount_fen
    return data


async def receive(conn: Conn, operator: str, events: list[CardEvent], topic: str) -> Received:
    """Store and act on a validated push, in one transaction; repeats change nothing."""
    done = Received()
    async with conn.transaction():
        for event in events:
            await _one(conn, operator, event, topic, done)
    return done


async def _one(conn: Conn, operator: str, event: CardEvent, topic: str, done: Received) -> None:
    stored = await (await conn.execute(_STORE, (
        operator, event.event_id, event.iccid, event.type, event.amount_fen, event.at))
    ).fetchone()
    if stored is None:
        done.repeated += 1
        return
    done.stored += 1
    card = await (await conn.execute(_CARD, (event.iccid,))).fetchone()
    if card is None or card[0] != operator:
        reason = "unknown_card" if card is None else "wrong_operator"
        await dead_letter(conn, SOURCE, reason, _data(operator, event), operator=operator,
                          iccid=event.iccid)
        await conn.execute(_OUTCOME, ("unknown_card", None, operator, event.event_id))
        done.unknown_cards += 1
        return
    _, enterprise_id, product_id, opened, line = card
    if line != "number_card":
        await outbox.enqueue(conn, NewEvent(
            f"card-event:{operator}:{event.event_id}", topic, event.iccid,
            NUMBER_CARD_EVENT_KINDS[event.type], {**_data(operator, event),
                                                  "enterprise_id": enterprise_id}))
        return
    order_id = await _number_card_order(conn, operator, event, enterprise_id, product_id, topic)
    await conn.execute(_OUTCOME, ("number_card", order_id, operator, event.event_id))
    done.orders.append(order_id)
    if event.type == "activated" and not opened:  # G2-17: opened on the operator's word
        _, outcome = await activate(conn, event.iccid)
        done.outcomes.append(outcome)


async def _number_card_order(conn: Conn, operator: str, event: CardEvent, enterprise_id: str,
                             product_id: str, topic: str) -> str:
    """The `number_card_event` order (G2-01, G2-09): final at once, no ledger entry; its
    event (`real_name_verified`, `card_activated`, `number_card_recharged`) carries the card
    event for H."""
    order_id = order_id_of(operator, event.event_id)
    new = NewOrder(order_id, "number_card_event", Actor(f"operator:{operator}", "operator"),
                   _data(operator, event))
    await insert(conn, new, "recorded", topic, announce=_data(operator, event),
                 event="notified", by="system", iccid=event.iccid, enterprise_id=enterprise_id,
                 package_id=product_id, amount_fen=event.amount_fen or 0,
                 event_type=event.type)
    return order_id


async def set_product(conn: Conn, iccid: str, product_id: str | None) -> str | None:
    """Register card `iccid` with a product (a package; None: none); its business line."""
    line = None
    if product_id is not None:
        line = (await get_package(conn, product_id)).business_line
    row = await (await conn.execute(_SET_PRODUCT, (product_id, iccid))).fetchone()
    if row is None:
        raise NotFound(f"card {iccid}")
    return line
