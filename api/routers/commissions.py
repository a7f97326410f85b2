"""Commission records and unfreeze approvals (spec §5.7, §7.2 "H commission"): records with
their explanation and history (H-39), an agent's and the platform's totals per month (H-40,
H-34), an agent's price differences (H-09), and the approval queue platform finance decides
(SM-H-APPROVAL). Agents' people read their own agent's records only (another agent's: 404);
platform roles read all. Deciding: platform finance — and the administrator, as refund
requests let it (api/routers/refund_requests.py)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.deps import PLATFORM_READERS, Caller, Db, Principal, Res, actor, forbid
from api.errors import invalid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.routers.orders import IdempotencyKey
from api.schemas.commissions import (
    AgentTotal,
    ApprovalBatch,
    ApprovalPublic,
    ApprovalRejection,
    BatchTotal,
    CommissionDetail,
    CommissionPage,
    CommissionPublic,
    CommissionSummary,
    ExplanationPublic,
    HistoryPublic,
    KindTotal,
    PriceDifferencePublic,
    QueuedApprovalPublic,
    State,
    StateTotal,
)
from core.clock import now
from domain.commission import machines as sm
from domain.commission.explain import explain
from domain.orders.report import BUSINESS_TZ, month_bounds, month_of
from store import commission_views as views
from store import commissions
from store.agents import get_agent
from store.commission_views import RecordFilter, Total
from store.commissions import Approval, Record
from store.db import Conn
from store.errors import NotFound

router = APIRouter(tags=["commissions"], responses=FORBIDDEN)
AGENT_READERS = ("agent_admin", "agent_viewer")
APPROVERS = ("platform_finance",)  # §7.2 H: finance alone approves (A); admin "—"
DECISION_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND, 409: {"description": "`approval_closed`, `idempotency_conflict`"},
    422: {"description": "`reason_required` (请填写驳回原因)"}}
FINAL = ("invalid", "rejected", "reversed")
Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                    description="YYYY-MM (Asia/Shanghai); default: this month"
                                                " for the summary, every month for the list")]


def _agent_scope(caller: Principal, agent_id: str | None) -> str | None:
    """The agent whose records the caller reads: platform roles the one asked (or all), an
    agent's people their own (another agent's: 404); other roles 403."""
    if caller.role in PLATFORM_READERS:
        return agent_id
    if caller.role not in AGENT_READERS or caller.agent_id is None:
        raise forbid(f"{caller.role} has no access to commissions")
    if agent_id is not None and agent_id != caller.agent_id:
        raise NotFound(f"agent {agent_id!r}")
    return caller.agent_id


def _bounds(month: str | None) -> tuple[datetime, datetime] | tuple[None, None]:
    if month is None:
        return None, None
    return month_bounds(month)


def _cursor(record: Record) -> str:
    text = f"{record.produced_at.isoformat()}|{record.record_id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    try:
        at, record_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), record_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid("query", "cursor", "not a cursor this list gave", cursor) from exc


def public(record: Record) -> CommissionPublic:
    return CommissionPublic.model_validate(record, from_attributes=True)


@router.get("/v1/commissions", response_model=CommissionPage)
async def list_commissions(
        caller: Caller, db: Db, agent_id: str | None = None, state: State | None = None,
        kind: str | None = None, month: Month = None, iccid: str | None = None,
        order_id: str | None = None, batch_id: str | None = None, cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=views.MAX_PAGE)] = 100) -> CommissionPage:
    """Commission records, newest first, a page at a time (H-40): filter by agent, state,
    kind (part or rule kind), month of production, card, order or settlement batch."""
    start, end = _bounds(month)
    where = RecordFilter(_agent_scope(caller, agent_id), state, kind, start, end, iccid,
                         order_id, batch_id)
    found = await views.page(db, where, limit + 1, _after(cursor))
    more = len(found) > limit
    items = found[:limit]
    return CommissionPage(items=[public(r) for r in items],
                          next_cursor=_cursor(items[-1]) if more else None)


def _states(rows: Iterable[Total]) -> list[StateTotal]:
    seen: dict[str, tuple[int, int]] = {}
    for row in rows:
        records, fen = seen.get(row.state, (0, 0))
        seen[row.state] = (records + row.records, fen + row.amount_fen)
    return [StateTotal(state=s, records=seen.get(s, (0, 0))[0],
                       amount_fen=seen.get(s, (0, 0))[1]) for s in sm.STATES]


def _groups(rows: list[Total]) -> dict[str, list[Total]]:
    grouped: dict[str, list[Total]] = {}
    for row in rows:
        grouped.setdefault(row.key, []).append(row)
    return grouped


def _batch(batch_id: str, rows: list[Total]) -> BatchTotal:
    kept = sum(r.amount_fen for r in rows if r.state not in FINAL)
    back = sum(r.amount_fen for r in rows if r.state in FINAL)
    return BatchTotal(batch_id=batch_id, records=sum(r.records for r in rows),
                      agent_commission_fen=kept, returned_fen=back, by_state=_states(rows))


async def _differences(db: Conn, agent_id: str, start: datetime | None,
                       end: datetime | None) -> list[PriceDifferencePublic]:
    return [PriceDifferencePublic(
        transfer_id=d.transfer_id, order_id=d.order_id, amount_fen=d.amount_fen,
        reversed_fen=d.reversed_fen, at=d.created_at,
        state="reversed" if d.reversed_fen >= d.amount_fen else "available")
        for d in await views.price_differences(db, agent_id, start, end)]


def _difference_total(lines: list[PriceDifferencePublic]) -> KindTotal:
    net = sum(d.amount_fen - d.reversed_fen for d in lines)
    available = [d for d in lines if d.state == "available"]
    by_state = [StateTotal(state=s, records=len(available) if s == "available" else 0,
                           amount_fen=net if s == "available" else 0) for s in sm.STATES]
    return KindTotal(kind="price_difference", records=len(lines), amount_fen=net,
                     by_state=by_state)


@router.get("/v1/commissions/summary", response_model=CommissionSummary, responses=NOT_FOUND)
async def summary(caller: Caller, db: Db, agent_id: str | None = None,
                  month: Month = None) -> CommissionSummary:
    """Totals of a month by state and by kind (H-40); an agent's include its price
    differences as kind `price_difference` (H-09, not in the state totals). The platform,
    asking for no agent, also gets totals per agent and per settlement batch (H-34)."""
    agent = _agent_scope(caller, agent_id)
    if agent is not None:
        await get_agent(db, agent)  # an agent that does not exist: 404
    month = month or month_of(now())
    start, end = month_bounds(month)
    kinds = await views.totals(db, "kind", agent, start, end)
    by_kind = [KindTotal(kind=k, records=sum(r.records for r in rows),
                         amount_fen=sum(r.amount_fen for r in rows), by_state=_states(rows))
               for k, rows in _groups(kinds).items()]
    if agent is not None:
        by_kind.append(_difference_total(await _differences(db, agent, start, end)))
    made = CommissionSummary(month=month, timezone=BUSINESS_TZ, agent_id=agent,
                             by_state=_states(kinds), by_kind=by_kind, by_agent=[], by_batch=[])
    if agent is None:
        agents = _groups(await views.totals(db, "agent", None, start, end))
        made.by_agent = [AgentTotal(agent_id=a, records=sum(r.records for r in rows),
                                    amount_fen=sum(r.amount_fen for r in rows),
                                    by_state=_states(rows)) for a, rows in agents.items()]
        batches = _groups(await views.totals(db, "batch", None, start, end))
        made.by_batch = [_batch(b, rows) for b, rows in batches.items()]
    return made


@router.get("/v1/commissions/price-differences", response_model=list[PriceDifferencePublic],
            responses=NOT_FOUND)
async def price_differences(caller: Caller, db: Db, agent_id: str | None = None,
                            month: Month = None) -> list[PriceDifferencePublic]:
    """The agent's price differences (H-09), newest first: settled by G2 at completion, never
    frozen, reversed by a refund's own transfers. Platform roles name the agent."""
    agent = _agent_scope(caller, agent_id)
    if agent is None:
        raise invalid("query", "agent_id", "name the agent", None)
    await get_agent(db, agent)  # an agent that does not exist: 404
    start, end = _bounds(month)
    return await _differences(db, agent, start, end)


def _history(events: Iterable[Any]) -> list[HistoryPublic]:
    made = []
    for e in events:
        stamped = e.data.get("at") if isinstance(e.data, dict) else None
        at = datetime.fromisoformat(stamped) if isinstance(stamped, str) else e.at
        made.append(HistoryPublic(subject=e.subject_kind, from_state=e.from_state,
                                  to_state=e.to_state, actor=e.actor, role=e.actor_role,
                                  at=at, reason=e.reason))
    return made


@router.get("/v1/commissions/{record_id}", response_model=CommissionDetail,
            responses=NOT_FOUND)
async def get_commission(record_id: str, caller: Caller, db: Db) -> CommissionDetail:
    """The record with its explanation (H-39: rule and version, base and its source, rate or
    fixed value, tier, conditions with the events that met them, rounding, and a sentence in
    Chinese and English) and its history (every state change: who, role, when, reason)."""
    record = await commissions.get(db, record_id)
    scope = _agent_scope(caller, None)
    if scope is not None and record.agent_id != scope:
        raise NotFound(f"commission {record_id}")
    told = explain(record.rule_id, record.rule_version, record.rule_kind, record.part,
                   record.amount_fen, record.explanation)
    return CommissionDetail(
        **public(record).model_dump(),
        explanation=ExplanationPublic.model_validate(told, from_attributes=True),
        stored_explanation=record.explanation if isinstance(record.explanation, dict) else {},
        history=_history(await commissions.history(db, record_id)))


def approval_view(approval: Approval) -> ApprovalPublic:
    return ApprovalPublic.model_validate(approval, from_attributes=True)


@router.get("/v1/commission-approvals", response_model=list[QueuedApprovalPublic])
async def approval_queue(caller: Caller, db: Db,
                         state: Annotated[str | None, Query(
                             pattern="^(pending|approved|rejected|closed)$")] = None,
                         agent_id: str | None = None) -> list[QueuedApprovalPublic]:
    """Platform roles: unfreeze approvals, pending first and oldest first (at most 500), with
    their record's agent, amount, part and card."""
    if caller.role not in PLATFORM_READERS:
        raise forbid("the platform reads commission approvals")
    return [QueuedApprovalPublic.model_validate(a, from_attributes=True)
            for a in await views.approval_queue(db, state, agent_id)]


async def _decide(ids: list[str], approve: bool, reason: str | None, caller: Principal,
                  db: Db, res: Res, request: Request, key: str | None) -> list[ApprovalPublic]:
    if caller.role not in APPROVERS:
        raise forbid("platform finance decides commission approvals")
    decided = await views.decide_once(db, ids, approve, actor(caller, request), now(),
                                      res.settings.orders_topic, reason, key)
    return [approval_view(a) for a in decided]


@router.post("/v1/commission-approvals/batch", response_model=list[ApprovalPublic],
             responses=DECISION_ERRORS)
async def decide_batch(body: ApprovalBatch, caller: Caller, db: Db, res: Res,
                       request: Request, idempotency_key: IdempotencyKey = None
                       ) -> list[ApprovalPublic]:
    """Approve or reject many approvals at once, all or none: one decided or closed refuses
    the batch (409 `approval_closed`), an unknown one 404; rejecting needs a reason."""
    return await _decide(body.approval_ids, body.decision == "approve", body.reason, caller,
                         db, res, request, idempotency_key)


@router.post("/v1/commission-approvals/{approval_id}/approve", response_model=ApprovalPublic,
             responses=DECISION_ERRORS)
async def approve(approval_id: str, caller: Caller, db: Db, res: Res, request: Request,
                  idempotency_key: IdempotencyKey = None) -> ApprovalPublic:
    """`pending → approved`: the commission becomes available (frozen → available)."""
    [decided] = await _decide([approval_id], True, None, caller, db, res, request,
                              idempotency_key)
    return decided


@router.post("/v1/commission-approvals/{approval_id}/reject", response_model=ApprovalPublic,
             responses=DECISION_ERRORS)
async def reject(approval_id: str, body: ApprovalRejection, caller: Caller, db: Db,
                 res: Res, request: Request, idempotency_key: IdempotencyKey = None
                 ) -> ApprovalPublic:
    """`pending → rejected` with a reason (422 `reason_required`): the commission is
    rejected, its money back to platform revenue."""
    [decided] = await _decide([approval_id], False, body.reason, caller, db, res, request,
                              idempotency_key)
    return decided
