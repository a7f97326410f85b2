"""Commission rules and their versions (specs/business.md H-01, H-06, H-07, H-42).

A rule is a chain of versions (one `commission_rules` row each). Editing appends version n+1;
when it is active, the versions in force at or after its start end where it begins (one not yet
begun is retired unused). Records keep the version that produced them: a version is never
changed except to end it, so nothing is retroactive. Retiring ends a rule now.

H-07: at any instant at most one version in force per (agent, package, kind). Creating or
activating a version checks every non-draft version of the agent and kind under a
transaction-level advisory lock per agent, so two concurrent configurations queue. Drafts
never count (they exist for what-if pricing) and are never found by `active_rules`.

C-05: a create carries its natural key, the rule id — the same body again answers the same
version, a different one 409 `idempotency_conflict`; a new version may carry an
Idempotency-Key with the same effect. Every create, version, supersession and retirement
writes an audit row (`commission_rule`, subject = rule id).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from core.clock import now
from domain.commission.rules import (
    Kind,
    Rule,
    RuleOverlap,
    Status,
    from_row,
    overlaps,
    to_row,
    validate,
)
from domain.pricing.errors import IdempotencyConflict
from domain.refusals import Refusal
from store import audit
from store.agents import Actor, get_agent
from store.db import Conn
from store.errors import Invalid, NotFound

PAST_TOLERANCE = timedelta(seconds=60)  # a version "from now" sent a little late is still now
SUBJECT = "commission_rule"


class VersionInPast(Refusal):
    """A new version takes effect now or later: the past is never rewritten (H-06)."""

    code = "rule_version_in_past"
    message_zh = "新版本的生效时间不能早于当前时间"  # (proposed)
    message_en = "A new rule version cannot take effect in the past"
    field = "effective_from"


class RuleChanged(Refusal):
    """A version keeps its rule's owner and kind."""

    code = "rule_identity_changed"
    message_zh = "新版本不能更改代理或佣金类型"  # (proposed)
    message_en = "A new version cannot change the rule's agent or kind"
    field = "kind"


class RuleRetired(Refusal):
    """A retired rule takes no new versions: create a new rule."""

    code = "rule_retired"
    message_zh = "该分佣规则已停用"  # (proposed)
    message_en = "This commission rule is retired"


_INSERT = """
INSERT INTO commission_rules (rule_id, version, agent_id, kind, package_ids, business_line,
                              amount_mode, amount_value, freeze_days, requires_approval, terms,
                              tiers, effective_from, effective_to, status, retired_at,
                              created_by, request_hash, idempotency_key)
VALUES (%(rule_id)s, %(version)s, %(agent_id)s, %(kind)s, %(package_ids)s, %(business_line)s,
        %(amount_mode)s, %(amount_value)s, %(freeze_days)s, %(requires_approval)s, %(terms)s,
        %(tiers)s, %(effective_from)s, %(effective_to)s, %(status)s, %(retired_at)s,
        %(created_by)s, %(request_hash)s, %(idempotency_key)s)
"""
_VERSIONS = "SELECT * FROM commission_rules"
_COMPETITORS = _VERSIONS + " WHERE agent_id = %s AND kind = %s AND status <> 'draft'"
_LOOKUP = """
SELECT * FROM commission_rules
WHERE agent_id = %(agent)s AND kind = %(kind)s AND status <> 'draft'
  AND effective_from <= %(at)s
  AND (effective_to IS NULL OR %(at)s < effective_to)
  AND (retired_at IS NULL OR %(at)s < retired_at)
  AND (%(package)s = ANY (package_ids) OR business_line = %(line)s)
ORDER BY rule_id, version
"""
_LIST = """
SELECT * FROM (SELECT DISTINCT ON (rule_id) * FROM commission_rules
               WHERE (%(agent)s::text IS NULL OR agent_id = %(agent)s)
                 AND (%(kind)s::text IS NULL OR kind = %(kind)s)
               ORDER BY rule_id, version DESC) latest
WHERE %(status)s::text IS NULL OR status = %(status)s
ORDER BY rule_id LIMIT %(limit)s
"""


def request_hash(rule: Rule) -> str:
    """A stable digest of what a version says (its row, without its version number)."""
    row = {k: v for k, v in to_row(rule).items() if k != "version"}
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()


async def _rows(conn: Conn, query: str, params: Any) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _lines(conn: Conn, package_ids: Sequence[str]) -> dict[str, str]:
    """The business line of each named package."""
    rows = await (await conn.execute(
        "SELECT package_id, business_line FROM packages WHERE package_id = ANY(%s)",
        (list(package_ids),))).fetchall()
    return {str(p): str(line) for p, line in rows}


async def _lock_agent(conn: Conn, agent_id: str) -> None:
    """Serialise every rule change of one agent (H-07) until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('commission_rules'), "
                       "hashtext(%s))", (agent_id,))


async def _check(conn: Conn, rule: Rule) -> None:
    """Validate the rule against its packages (H-14 needs their line) and, when it will be in
    force, against the agent's other versions of its kind (H-07)."""
    lines = await _lines(conn, rule.scope.package_ids)
    unknown = [p for p in rule.scope.package_ids if p not in lines]
    if unknown:
        raise Invalid("scope.package_ids", f"unknown package {unknown[0]!r}")
    reached = ({rule.scope.business_line} if rule.scope.business_line
               else set(lines.values()))
    validate(rule, frozenset(reached))
    if rule.status == "draft":
        return
    others = [from_row(r) for r in await _rows(conn, _COMPETITORS, (rule.agent_id, rule.kind))]
    others = [o for o in others if (o.rule_id, o.version) != (rule.rule_id, rule.version)]
    line_of = lines | await _lines(conn, [p for o in others for p in o.scope.package_ids])
    if any(overlaps(rule, other, line_of) for other in others):
        raise RuleOverlap()


async def _insert(conn: Conn, rule: Rule, actor: Actor, digest: str,
                  idempotency_key: str | None) -> None:
    row = to_row(rule)
    row["terms"] = Jsonb(row["terms"])
    row["tiers"] = None if row["tiers"] is None else Jsonb(row["tiers"])
    await conn.execute(_INSERT, {**row, "created_by": actor.who, "request_hash": digest,
                                 "idempotency_key": idempotency_key})


async def create(conn: Conn, rule: Rule, actor: Actor, digest: str | None = None) -> Rule:
    """Create version 1 (status active or draft); the same request again answers it."""
    digest = digest or request_hash(rule)
    rule = replace(rule, version=1, retired_at=None)
    async with conn.transaction():
        await get_agent(conn, rule.agent_id)
        await _lock_agent(conn, rule.agent_id)
        first = await _rows(conn, _VERSIONS + " WHERE rule_id = %s AND version = 1",
                            (rule.rule_id,))
        if first:
            if first[0]["request_hash"] != digest:
                raise IdempotencyConflict()
            return from_row(first[0])
        await _check(conn, rule)
        await _insert(conn, rule, actor, digest, None)
        await audit.record(conn, actor.transition(
            SUBJECT, rule.rule_id, None, rule.status, "created", version=1, rule_kind=rule.kind,
            agent_id=rule.agent_id))
    return rule


async def _supersede(conn: Conn, older: Sequence[Rule], start: datetime, actor: Actor) -> None:
    """End the versions in force at or after `start` where the new one begins."""
    for old in older:
        if old.status != "active" or (old.until is not None and old.until <= start):
            continue
        if old.effective_from >= start:
            await conn.execute("UPDATE commission_rules SET status = 'retired', retired_at = "
                               "effective_from WHERE rule_id = %s AND version = %s",
                               (old.rule_id, old.version))
            to: Status = "retired"
        else:
            await conn.execute("UPDATE commission_rules SET effective_to = %s "
                               "WHERE rule_id = %s AND version = %s",
                               (start, old.rule_id, old.version))
            to = "active"
        await audit.record(conn, actor.transition(
            SUBJECT, old.rule_id, old.status, to, "superseded", version=old.version,
            effective_to=start.isoformat()))


async def new_version(conn: Conn, rule: Rule, actor: Actor, digest: str | None = None,
                      idempotency_key: str | None = None) -> Rule:
    """Append version n+1 of `rule.rule_id` (H-06): same agent and kind, from now or later;
    an active one ends the versions it follows where it begins."""
    digest = digest or request_hash(rule)
    async with conn.transaction():
        await _lock_agent(conn, rule.agent_id)
        versions = await history(conn, rule.rule_id)
        if idempotency_key is not None:
            done = await _rows(conn, _VERSIONS + " WHERE rule_id = %s AND idempotency_key = %s",
                               (rule.rule_id, idempotency_key))
            if done:
                if done[0]["request_hash"] != digest:
                    raise IdempotencyConflict()
                return from_row(done[0])
        last = versions[-1]
        if (last.agent_id, last.kind) != (rule.agent_id, rule.kind):
            raise RuleChanged()
        if last.status == "retired":
            raise RuleRetired()
        if rule.effective_from < now() - PAST_TOLERANCE:
            raise VersionInPast()
        rule = replace(rule, version=last.version + 1, retired_at=None)
        if rule.status == "active":
            await _supersede(conn, versions, rule.effective_from, actor)
        await _check(conn, rule)
        await _insert(conn, rule, actor, digest, idempotency_key)
        await audit.record(conn, actor.transition(
            SUBJECT, rule.rule_id, last.status, rule.status, "version", version=rule.version))
    return rule


async def retire(conn: Conn, rule_id: str, actor: Actor) -> list[Rule]:
    """End the rule now: versions in force end at this instant, later ones never begin,
    drafts are retired. Retiring a retired rule changes nothing. Answers every version."""
    at = now()
    async with conn.transaction():
        versions = await history(conn, rule_id)
        await _lock_agent(conn, versions[0].agent_id)
        for v in await history(conn, rule_id):
            if v.status == "retired" or (v.until is not None and v.until <= at):
                continue
            ends = v.effective_from if v.status == "draft" else max(v.effective_from, at)
            await conn.execute("UPDATE commission_rules SET status = 'retired', retired_at = %s"
                               " WHERE rule_id = %s AND version = %s", (ends, rule_id, v.version))
            await audit.record(conn, actor.transition(
                SUBJECT, rule_id, v.status, "retired", "retired", version=v.version,
                retired_at=ends.isoformat()))
    return await history(conn, rule_id)


async def history(conn: Conn, rule_id: str) -> list[Rule]:
    """Every version of a rule, oldest first (NotFound if there is none)."""
    rows = await _rows(conn, _VERSIONS + " WHERE rule_id = %s ORDER BY version", (rule_id,))
    if not rows:
        raise NotFound(f"commission rule {rule_id!r}")
    return [from_row(r) for r in rows]


async def get(conn: Conn, rule_id: str) -> Rule:
    """The latest version of a rule."""
    return (await history(conn, rule_id))[-1]


async def list_rules(conn: Conn, *, agent_id: str | None = None, kind: Kind | None = None,
                     status: Status | None = None, limit: int = 500) -> list[Rule]:
    """The latest version of each rule, filtered by owner, kind and (latest) status."""
    rows = await _rows(conn, _LIST, {"agent": agent_id, "kind": kind, "status": status,
                                     "limit": limit})
    return [from_row(r) for r in rows]


async def active_rules(conn: Conn, agent_id: str, kind: Kind, package_id: str,
                       business_line: str | None, at: datetime) -> list[Rule]:
    """The agent's own versions of `kind` in force at `at` covering the package (named, or by
    its business line) — at most one by H-07; drafts never. Only the owner's rules: an upstream
    agent's rules never apply to its downstream's sales (H-42)."""
    rows = await _rows(conn, _LOOKUP, {"agent": agent_id, "kind": kind, "at": at,
                                       "package": package_id, "line": business_line})
    return [from_row(r) for r in rows]
