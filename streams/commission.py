"""The commission consumer (H, §8): reads the business events on the orders topic (order
completions and refunds, recharges and their refunds, real-name and activation events) and
re-evaluates the cards they touch (store/commission_eval.py), in one transaction per batch with
the batch's event ids recorded in `commission_inbox`.

At least once: a batch redelivered after a crash finds its events in the inbox and changes
nothing; and since every record has its idempotency key (H-37) even a lost inbox would not
make a second record or transfer. An undecodable message is dead-lettered and the rest of the
batch goes on."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
import msgspec

from core.clock import now
from core.settings import Settings
from store import commission_eval, commission_facts, settlements
from store.db import Conn, Reconnecting
from store.dead_letters import dead_letter
from streams.events import BusinessEvent, decode_business

log = logging.getLogger(__name__)
SOURCE = "commission"

# Messages a batch takes at most: the orders topic carries several events per order, and an
# evaluation costs a few statements whatever its number of cards, so under load a batch grows
# to this (when idle it still ends `worker_batch_within_s` after its first message).
TAKE = 500

# The events whose card may have a commission to produce, promote or reverse.
CARD_EVENTS = frozenset({
    "order_completed", "order_refunded", "order_partially_refunded", "card_recharged",
    "card_recharge_refunded", "real_name_verified", "card_activated",
    "number_card_recharged"})


@dataclass
class Handled:
    """What a batch did: events new to the consumer, repeats, cards evaluated, bad messages."""

    new: int = 0
    repeated: int = 0
    ignored: int = 0
    bad: int = 0
    cards: int = 0
    produced: int = 0
    reversed: int = 0
    unfrozen: int = 0  # number-card commissions whose conditions an event completed
    bad_payloads: list[bytes] = field(default_factory=list)


def _decode(payloads: Sequence[bytes], done: Handled) -> list[BusinessEvent]:
    events = []
    for payload in payloads:
        try:
            events.append(decode_business(payload))
        except (msgspec.DecodeError, msgspec.ValidationError):
            done.bad += 1
            done.bad_payloads.append(payload)
    return events


def _iccid(event: BusinessEvent) -> str | None:
    value: Any = event.data.get("iccid")
    return value if isinstance(value, str) and value else None


async def apply(conn: Conn, events: Sequence[BusinessEvent], topic: str, done: Handled) -> None:
    """Record the batch's relevant events in the inbox and evaluate the cards of the new ones
    (one transaction)."""
    relevant = {e.event_id: e for e in events if e.kind in CARD_EVENTS and _iccid(e)}
    done.ignored += len(events) - len(relevant)
    if not relevant:
        return
    async with conn.transaction():
        new_ids = await commission_eval.take_in(conn, [(e.event_id, e.kind)
                                                       for e in relevant.values()])
        fresh = [relevant[event_id] for event_id in new_ids]
        done.new += len(fresh)
        done.repeated += len(relevant) - len(fresh)
        # H-29: a card counts for the agent of its first package (one statement a batch)
        await commission_facts.attribute_from_orders(conn, [
            order_id for e in fresh if e.kind == "order_completed"
            and isinstance(order_id := e.data.get("order_id"), str)])
        iccids = sorted({iccid for e in fresh if (iccid := _iccid(e)) is not None})
        if not iccids:
            return
        at = now()
        outcome = await commission_eval.evaluate_cards(conn, iccids, at, topic)
        # H-35: a number card's conditions are judged again on every event of the card
        judged = await settlements.evaluate_number_cards(conn, iccids, at, topic)
        done.cards += len(iccids)
        done.produced += outcome.produced
        done.reversed += outcome.reversed
        done.unfrozen += judged.unfrozen


class CommissionSink:
    """Applies batches of orders-topic messages; returns only once every effect is durable."""

    def __init__(self, db: Reconnecting, topic: str) -> None:
        self._db = db
        self._topic = topic

    async def close(self) -> None:
        await self._db.close()

    async def handle(self, payloads: Sequence[bytes]) -> Handled:
        done = Handled()
        events = _decode(payloads, done)
        await self._db.run(lambda conn: apply(conn, events, self._topic, done))
        if done.bad_payloads:
            await self._db.run(lambda conn: _keep_bad(conn, done.bad_payloads))
        return done


async def _keep_bad(conn: Conn, payloads: list[bytes]) -> None:
    for payload in payloads:
        await dead_letter(conn, SOURCE, "undecodable", payload.decode("utf-8", "replace"))


def register_commission_agent(app: faust.App, settings: Settings, sink: CommissionSink) -> None:
    """Attach the commission agent (its own consumer of the orders topic) to `app`."""
    topic = app.topic(settings.orders_topic, key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw",
                      partitions=settings.usage_partitions)

    async def evaluate(stream: faust.StreamT[bytes]) -> None:
        async for payloads in stream.take(max(settings.worker_take_messages, TAKE),
                                          within=settings.worker_batch_within_s):
            started = time.perf_counter()
            try:
                done = await sink.handle(payloads)
            except Exception:
                # not a data problem (those are dead-lettered): exit before the batch is
                # acknowledged, so the restart redelivers it from the last commit
                log.critical("commission batch failed; exiting for a clean redelivery",
                             exc_info=True)
                os._exit(70)
            log.info("commission batch: %d messages, %d new, %d repeated, %d cards, "
                     "%d produced, %d reversed, %.1f ms", len(payloads), done.new,
                     done.repeated, done.cards, done.produced, done.reversed,
                     (time.perf_counter() - started) * 1000)

    app.agent(topic, name="commission")(evaluate)
