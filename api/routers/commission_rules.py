"""Commission rules (specs/business.md §5.1, §7.2 H): the platform (admin, platform_operator)
creates, versions and retires them; platform staff read all, an agent's people their own agent's
(another agent's rule is not found). A create is idempotent by its rule id (C-05), a new
version by its Idempotency-Key."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, status

from api.deps import PLATFORM_READERS, Caller, Db, Principal, actor, forbid, is_business_writer
from api.errors import invalid
from api.openapi import FORBIDDEN, NOT_FOUND, Responses
from api.schemas.commission_rules import (
    CombinedBody,
    LongTermBody,
    NumberCardBody,
    OneTimeBody,
    PerOrderBody,
    RuleBody,
    RulePublic,
)
from core.clock import now
from domain.commission.rules import (
    Amount,
    CombinedRule,
    CountGate,
    Kind,
    LongTermRule,
    NumberCardRule,
    OneTimePart,
    OneTimeRule,
    PerOrderRule,
    RechargeCondition,
    Rule,
    Scope,
    Status,
    Tiers,
    TimeGate,
    terms_of,
    to_row,
)
from store import commission_rules as rules
from store.errors import NotFound

router = APIRouter(prefix="/v1/commission-rules", tags=["commission"], responses=FORBIDDEN)
IdempotencyKey = Annotated[str | None, Header(
    max_length=128, description="C-05: a retry with the same key returns the first answer")]
CONFLICT: Responses = {
    409: {"description": "`rule_overlap` (H-07), `idempotency_conflict` (C-05)"}}


def public(rule: Rule) -> RulePublic:
    row = to_row(rule)
    return RulePublic(**{k: row[k] for k in (
        "rule_id", "version", "agent_id", "kind", "package_ids", "business_line",
        "freeze_days", "requires_approval", "tiers", "effective_from", "effective_to",
        "retired_at", "status")}, amount={"mode": rule.amount.mode, "value": rule.amount.value},
        terms=terms_of(rule))


def _recharge(body: Any) -> RechargeCondition | None:
    return None if body is None else RechargeCondition(body.mode, body.threshold_fen)


def to_rule(body: RuleBody, rule_id: str) -> Rule:
    """The domain rule a body describes (omitted defaults are the kind's, H-08/H-13)."""
    common: dict[str, Any] = {
        "rule_id": rule_id, "agent_id": body.agent_id,
        "scope": Scope(tuple(body.package_ids), body.business_line),
        "amount": Amount(body.amount.mode, body.amount.value),
        "tiers": None if body.tiers is None else Tiers(
            body.tiers.metric, tuple((r.threshold, r.value) for r in body.tiers.rows)),
        "effective_from": body.effective_from or now(), "effective_to": body.effective_to,
        "status": body.status}
    if body.freeze_days is not None:
        common["freeze_days"] = body.freeze_days
    if body.requires_approval is not None:
        common["requires_approval"] = body.requires_approval
    if isinstance(body, PerOrderBody):
        return PerOrderRule(**common)
    if isinstance(body, OneTimeBody):
        return OneTimeRule(**common, recharge=RechargeCondition(
            body.recharge.mode, body.recharge.threshold_fen))
    if isinstance(body, LongTermBody):
        return LongTermRule(**common, recharge=_recharge(body.recharge))
    if isinstance(body, CombinedBody):
        part = body.one_time
        return CombinedRule(
            **common, recharge=_recharge(body.recharge),
            gate=CountGate(body.gate.n) if body.gate.gate == "count" else TimeGate(body.gate.at),
            one_time=OneTimePart(Amount(part.amount.mode, part.amount.value),
                                 RechargeCondition(part.recharge.mode,
                                                   part.recharge.threshold_fen)))
    assert isinstance(body, NumberCardBody)  # noqa: S101 — the union's last member
    return NumberCardRule(**common, first_recharge_fen=body.first_recharge_fen,
                          min_tenure_days=body.min_tenure_days,
                          require_not_sanwu=body.require_not_sanwu,
                          conditions_deadline_days=body.conditions_deadline_days)


def digest(body: RuleBody, rule_id: str) -> str:
    """What the caller asked, as sent (an omitted start is not "now" twice)."""
    sent = body.model_dump_json(exclude={"rule_id"}, exclude_unset=True)
    return hashlib.sha256(f"{rule_id}\n{sent}".encode()).hexdigest()


def may_write(caller: Principal) -> None:
    if not is_business_writer(caller):
        raise forbid(f"{caller.role} may not configure commission rules")


def own_agent(caller: Principal) -> str | None:
    """None for platform readers (everything); the caller's agent for an agent's people."""
    if caller.role in PLATFORM_READERS:
        return None
    if caller.role in ("agent_admin", "agent_viewer") and caller.agent_id is not None:
        return caller.agent_id
    raise forbid(f"{caller.role} has no access to commission rules")


async def visible(db: Db, rule_id: str, caller: Principal) -> list[Rule]:
    mine = own_agent(caller)
    versions = await rules.history(db, rule_id)
    if mine is not None and versions[0].agent_id != mine:
        raise NotFound(f"commission rule {rule_id!r}")
    return versions


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RulePublic,
             responses={**NOT_FOUND, **CONFLICT})
async def create_rule(body: RuleBody, caller: Caller, db: Db, request: Request) -> RulePublic:
    """Create a rule (version 1). 422 `one_time_exceeds_recharge` (H-14), `invalid_tiers`
    (H-28), `tier_metric_unsupported` (H-25); 409 `rule_overlap` (H-07). The same body under
    the same `rule_id` again answers the rule; another body 409 `idempotency_conflict`."""
    may_write(caller)
    if body.rule_id is None:
        raise invalid("body", "rule_id", "a new rule needs its rule_id")
    rule = to_rule(body, body.rule_id)
    return public(await rules.create(db, rule, actor(caller, request),
                                     digest(body, body.rule_id)))


@router.get("", response_model=list[RulePublic])
async def list_rules(caller: Caller, db: Db,
                     agent_id: Annotated[str | None, Query(max_length=64)] = None,
                     kind: Kind | None = None, status: Status | None = None
                     ) -> list[RulePublic]:
    """The latest version of each rule the caller may see (an agent's people: their own)."""
    mine = own_agent(caller)
    if mine is not None:
        if agent_id not in (None, mine):
            return []
        agent_id = mine
    return [public(r) for r in await rules.list_rules(db, agent_id=agent_id, kind=kind,
                                                       status=status)]


@router.get("/{rule_id}", response_model=list[RulePublic], responses=NOT_FOUND)
async def get_rule(rule_id: str, caller: Caller, db: Db) -> list[RulePublic]:
    """Every version of the rule, oldest first (H-06)."""
    return [public(r) for r in await visible(db, rule_id, caller)]


@router.post("/{rule_id}/versions", status_code=status.HTTP_201_CREATED,
             response_model=RulePublic, responses={**NOT_FOUND, **CONFLICT})
async def new_version(rule_id: str, body: RuleBody, caller: Caller, db: Db, request: Request,
                      idempotency_key: IdempotencyKey = None) -> RulePublic:
    """Version n+1 (same agent and kind), from now or later; an active one ends the versions
    it follows where it begins. Records keep the version that produced them."""
    may_write(caller)
    if body.rule_id not in (None, rule_id):
        raise invalid("body", "rule_id", "the body names another rule")
    await visible(db, rule_id, caller)
    return public(await rules.new_version(db, to_rule(body, rule_id), actor(caller, request),
                                          digest(body, rule_id), idempotency_key))


@router.post("/{rule_id}/retire", response_model=list[RulePublic], responses=NOT_FOUND)
async def retire_rule(rule_id: str, caller: Caller, db: Db, request: Request
                      ) -> list[RulePublic]:
    """End the rule now (versions in force end, later ones never begin); answers every
    version. Retiring again changes nothing."""
    may_write(caller)
    await visible(db, rule_id, caller)
    return [public(r) for r in await rules.retire(db, rule_id, actor(caller, request))]
