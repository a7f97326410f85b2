"""Operator pushes: signed, validated as a whole, then produced to the usage topic.

These routes read their raw body themselves (the signature covers the exact bytes, and valid
usage pushes are decoded in C), so the app-wide text check (api/text.py) cannot see it: every
field a push's record is read for is checked by domain.usage.validation (record ids with
core.text, ICCIDs against their alphabet), and a status push, whose fields are all read, goes
through `body_errors`. A lone surrogate, which orjson and msgspec refuse, is decoded by the
standard library instead, so that it is named like any other bad field (422), not called
"not JSON".
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import ValidationError

from api.deps import Db, Res
from api.effects import publish
from api.errors import invalid, invalid_many
from api.openapi import BAD_REQUEST, SIGNED, TOO_LARGE, UNAVAILABLE
from api.schemas.common import Operator
from api.schemas.upstream import (
    CardEventIn,
    CardEventsAccepted,
    StatusAccepted,
    StatusPush,
    UsageAccepted,
)
from api.text import body_errors
from core.clock import now as platform_now
from core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_problem
from domain.usage.records import UsageRecord
from domain.usage.validation import parse_push_fast, parse_record
from store import card_events, controls, operators
from store.card_events import CardEvent
from store.controls import StatusReport

router = APIRouter(prefix="/v1/upstream", tags=["upstream"])


async def _signed_body(request: Request, res: Res, db: Db, operator: str
                       ) -> tuple[bytes, str | None]:
    """The verified raw body, and its replay key (None when this exact signed request was
    accepted before).

    A replay inside the signature window is answered like the original but changes nothing
    (an operator retrying after a timeout must not fail); outside the window it is refused."""
    limit = res.settings.push_max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"body larger than {limit} bytes; split the push")
    body = await request.body()
    if len(body) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"body larger than {limit} bytes; split the push")
    signature = request.headers.get(SIGNATURE_HEADER)
    problem = signature_problem(
        await operators.push_secrets(db, operator), request.headers.get(TIMESTAMP_HEADER),
        signature, body, time.time(), res.settings.push_max_skew_s,  # the sender's clock
    )
    if problem:
        res.metrics.usage_pushes.labels(operator, "unauthorized").inc()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, problem)
    key = f"{operator}:{signature}"
    return body, None if await operators.signature_seen(db, key) else key


def _decode(body: bytes) -> Any:
    """The JSON document; 400 when the body is not JSON. orjson refuses lone surrogates, which
    the JSON grammar allows: the standard decoder takes them, for validation to name."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"body is not JSON: {exc}") from None


def _records_of(body: bytes, max_records: int) -> list[Any]:
    doc = _decode(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
        raise invalid("body", "records", 'the body must be an object {"records": [...]}')
    records: list[Any] = doc["records"]
    if len(records) > max_records:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"records: at most {max_records} per push, got {len(records)}")
    return records


def parse_usage(raw: list[Any], now: datetime) -> tuple[list[UsageRecord], list[dict[str, Any]]]:
    """Parse every record; the second list names each bad record and why."""
    good: list[UsageRecord] = []
    bad: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        parsed = parse_record(item, now)
        if isinstance(parsed, UsageRecord):
            good.append(parsed)
            continue
        record_id = item.get("record_id") if isinstance(item, dict) else None
        bad.extend({"type": "value_error", "loc": ["body", "records", index, e.field],
                    "msg": e.reason, "input": {"record_id": record_id}} for e in parsed)
    return good, bad


@router.post("/{operator}/usage", status_code=status.HTTP_202_ACCEPTED,
             response_model=UsageAccepted,
             responses={**BAD_REQUEST, **SIGNED, **TOO_LARGE, **UNAVAILABLE})
async def push_usage(operator: Operator, request: Request, res: Res, db: Db) -> UsageAccepted:
    body, replay_key = await _signed_body(request, res, db, operator)
    now, limit = platform_now(), res.settings.push_max_records
    fast = parse_push_fast(body, now, limit)
    records, errors = (fast, []) if fast is not None else parse_usage(_records_of(body, limit),
                                                                      now)
    if errors:
        res.metrics.usage_pushes.labels(operator, "invalid").inc()
        raise invalid_many(errors)
    if replay_key is None:
        res.metrics.usage_pushes.labels(operator, "replayed").inc()
        return UsageAccepted(accepted=len(records))
    try:
        await res.publisher.publish_usage(operator, records)
    except Exception as exc:
        res.metrics.usage_pushes.labels(operator, "unavailable").inc()
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"usage could not be queued ({type(exc).__name__}); retry the push",
                            headers={"Retry-After": "5"}) from None
    await operators.remember_signature(db, replay_key, res.settings.push_max_skew_s)
    res.metrics.usage_pushes.labels(operator, "accepted").inc()
    res.metrics.usage_records.labels(operator).inc(len(records))
    return UsageAccepted(accepted=len(records))


@router.post("/{operator}/status", status_code=status.HTTP_202_ACCEPTED,
             response_model=StatusAccepted, responses={**BAD_REQUEST, **SIGNED, **TOO_LARGE})
async def push_status(operator: Operator, request: Request, res: Res, db: Db) -> StatusAccepted:
    """Observed card states from the operator; an event older than what is known is ignored."""
    body, _ = await _signed_body(request, res, db, operator)  # status events are idempotent
    document = _decode(body)
    bad_text = body_errors(document)
    if bad_text:
        raise invalid_many(bad_text)
    try:
        push = StatusPush.model_validate(document)
    except ValidationError as exc:
        raise invalid_many([{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"],
                             "input": None} for e in exc.errors()]) from None
    seen = await controls.observe(
        db, operator, [StatusReport(e.iccid, e.status, e.at) for e in push.events])
    return StatusAccepted(accepted=len(push.events), applied=seen.applied,
                          unknown_cards=seen.unknown_cards)


def _event_errors(index: int, item: Any) -> list[dict[str, Any]]:
    """Why the `index`-th card event is bad ([] when it is good)."""
    event_id = item.get("event_id") if isinstance(item, dict) else None
    where: dict[str, Any] = {"event_id": event_id if isinstance(event_id, str) else None}
    try:
        event = CardEventIn.model_validate(item)
    except ValidationError as exc:
        return [{"loc": ["body", "events", index, *e["loc"]], "msg": e["msg"],
                 "type": e["type"], "input": where} for e in exc.errors()]
    if (event.type == "recharged") != (event.amount_fen is not None):
        why = ("a recharged event carries amount_fen" if event.type == "recharged"
               else f"amount_fen is for recharged events only, not {event.type}")
        return [{"loc": ["body", "events", index, "amount_fen"], "msg": why,
                 "type": "value_error", "input": where}]
    return []


def parse_card_events(document: Any, max_events: int) -> list[CardEvent]:
    """The push's events; 422 naming each bad event (and why) when any is bad."""
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise invalid("body", "events", 'the body must be an object {"events": [...]}')
    raw: list[Any] = document["events"]
    if not raw or len(raw) > max_events:
        raise invalid("body", "events", f"between 1 and {max_events} events per push")
    errors = [e for i, item in enumerate(raw) for e in _event_errors(i, item)]
    if errors:
        raise invalid_many(errors)
    parsed = [CardEventIn.model_validate(item) for item in raw]
    return [CardEvent(e.event_id, e.iccid, e.type, e.at, e.amount_fen) for e in parsed]


@router.post("/{operator}/card-events", status_code=status.HTTP_202_ACCEPTED,
             response_model=CardEventsAccepted,
             responses={**BAD_REQUEST, **SIGNED, **TOO_LARGE})
async def push_card_events(operator: Operator, request: Request, res: Res, db: Db
                           ) -> CardEventsAccepted:
    """Real-name, activation and recharge notifications (G2-09): a push with any bad event
    is refused whole (422 naming each); every event is stored once per event id, announced
    for commission, a number card's recorded as a `number_card_event` order (no money), and
    a number card the operator reports activated is opened (G2-17)."""
    body, _ = await _signed_body(request, res, db, operator)  # events are idempotent by id
    document = _decode(body)
    bad_text = body_errors(document)
    if bad_text:
        raise invalid_many(bad_text)
    events = parse_card_events(document, res.settings.push_max_records)
    done = await card_events.receive(db, operator, events, res.settings.orders_topic)
    for outcome in done.outcomes:
        await publish(res, outcome)
    return CardEventsAccepted(accepted=len(events), stored=done.stored,
                              number_card_orders=done.orders, unknown_cards=done.unknown_cards)
