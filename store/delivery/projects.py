"""The flow of a project through its node runs (I-29 … I-42, SM-I-PROJECT, SM-I-NODE): start,
the walk from node to node, the people's actions (confirm, the requirement form, reject,
claim), with the flow log (I-50). The rows it reads are `store.delivery.project_rows`; the
administrators' changes (pause, cancel, another provider or operator) `project_admin`.

Every action is one transaction that locks the project row first (then the product's
providers, then users: `store.delivery.assign`), checks the step against
`domain.delivery.machines`, compare-and-sets the current run and moves on. A project pins its
template: its nodes are copied at start (`dl_projects.nodes`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from domain.delivery import machines as m
from domain.delivery.machines import SYSTEM, Actor
from domain.delivery.nodes import Node, next_step, reject_target, steps
from store.db import Conn
from store.delivery import assign, clock, reminders
from store.delivery.events import publish_event
from store.delivery.project_rows import (
    Project,
    Run,
    current_run,
    get_run,
    lock,
    now,
    person,
    project_id_of,
    scalar,
)
from store.errors import NotFound


@dataclass(frozen=True)
class EffectHooks:
    """What a card-order effect does (I-63, owned by store/delivery/card_orders.py): on entry,
    and the check before a person confirms (raising a Refusal to refuse), told who confirms."""

    entered: Callable[[Conn, str, Run], Awaitable[None]]
    check_confirm: Callable[[Conn, str, Run, dict[str, Any], Actor], Awaitable[None]]


EFFECTS: dict[str, EffectHooks] = {}
# Called in the transaction that completes a project (a card order becomes 已完成, I-63);
# registered by the modules that need it, like EFFECTS.
ON_COMPLETE: list[Callable[[Conn, Project], Awaitable[None]]] = []
PROVIDER_ADMIN_ROLE = "服务商管理员"
ADMIN_ROLES = ("provider_admin", "vendor_admin")

_PRODUCT = """
SELECT p.vendor_id, p.template_id, t.nodes, t.status FROM dl_products p
LEFT JOIN dl_templates t USING (template_id) WHERE p.product_id = %s
"""
_INSERT = """
INSERT INTO dl_projects (project_id, order_no, business_no, product_id, template_id, nodes,
    vendor_id, customer_user_id, customer_name, channel, order_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (order_no) DO NOTHING RETURNING project_id
"""
_ENTER = """
INSERT INTO dl_node_runs (project_id, epoch, node_key, kind, name, side, role, state,
    operator_user_id, entered_at, timeout_tenths)
VALUES (%s, %s, %s, %s, %s, %s, %s, 'active', %s, %s, %s) RETURNING run_id
"""
_FINISH = """
UPDATE dl_node_runs SET state = %s, done_at = cp_now(), done_by = %s, detail = detail || %s
WHERE run_id = %s AND state IN ('active', 'queued')
"""
_QUEUED = "UPDATE dl_node_runs SET state = 'queued' WHERE run_id = %s"
_LOG = """
INSERT INTO dl_project_log (project_id, epoch, node_key, action, actor_id, actor_name,
    actor_role, remark) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""
_HOLDER = """
SELECT user_id FROM dl_holds WHERE project_id = %s AND role = %s AND released_at IS NULL
"""
_RELEASE = """
UPDATE dl_holds SET released_at = cp_now()
WHERE project_id = %s AND released_at IS NULL AND (%s::text IS NULL OR role = %s)
"""
_SET_PROVIDER = "UPDATE dl_projects SET provider_id = %s WHERE project_id = %s"
_CLAIMED = """
UPDATE dl_projects SET claimed_by = %s, claimed_department = %s WHERE project_id = %s
"""
_COMPLETE = """
UPDATE dl_projects SET status = 'completed', completed_at = cp_now() WHERE project_id = %s
"""
_REQUIREMENT = """
INSERT INTO dl_requirements (project_id, node_key, form_id, answers, submitted_by)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (project_id, node_key) DO UPDATE SET form_id = EXCLUDED.form_id,
    answers = EXCLUDED.answers, submitted_by = EXCLUDED.submitted_by, submitted_at = cp_now()
"""
_HAS_REQUIREMENT = "SELECT 1 FROM dl_requirements WHERE project_id = %s AND node_key = %s"
_IS_CUSTOMER = "SELECT 1 FROM users WHERE user_id = %s"


async def write_log(conn: Conn, project: Project, node_key: str | None, action: str, actor: Actor,
               remark: str = "") -> None:
    await conn.execute(_LOG, (project.project_id, project.epoch, node_key, action, actor.user_id,
                              actor.name, actor.role, remark))


async def release_holds(conn: Conn, project_id: str, role: str | None = None) -> None:
    """The project's live holds released (of one role, or all): its staff's loads drop."""
    await conn.execute(_RELEASE, (project_id, role, role))


async def _operator_for(conn: Conn, project: Project, node: Node) -> str | None:
    """Who alone may act on the node, if one person is determined (design: who acts)."""
    if node.side == "customer":
        return project.customer_user_id
    if node.side == "system" or not node.role:
        return None
    holder: str | None = await scalar(conn, _HOLDER, (project.project_id, node.role))
    return holder


async def _finish(conn: Conn, project: Project, run_id: int, node: Node, actor: Actor,
                  remark: str = "", detail: dict[str, Any] | None = None) -> None:
    await conn.execute(_FINISH, ("done", actor.name, Jsonb(detail or {}), run_id))
    await write_log(conn, project, node.key, m.completed(node.name), actor, remark)
    await publish_event(conn, project.project_id, "node_completed", {
        "node_key": node.key, "run_id": run_id, "actor": actor.name})
    await reminders.fire(conn, project.project_id, run_id, "passed")


async def _try_assign(conn: Conn, project: Project, node: Node, run_id: int,
                      rng: random.Random) -> Project | None:
    """Run a system node: pick the provider (I-29) or the staff member (I-31); queue the
    project when nobody can take it (I-35, I-36). Returns the project as it now is, or None."""
    if node.kind == "assign_provider" and project.provider_id is None:
        picked, reason = await assign.assign_provider(conn, project.product_id, rng)
        if picked is None:
            await conn.execute(_QUEUED, (run_id,))
            await assign.enqueue(conn, project.project_id, "provider", node.key, None, reason)
            return None
        await conn.execute(_SET_PROVIDER, (picked, project.project_id))
        project = replace(project, provider_id=picked)
    elif node.kind == "assign" and project.provider_id is not None and not await scalar(
            conn, _HOLDER, (project.project_id, node.role or "")):
        by_department = node.rule == "department_first"
        picked = await assign.assign_staff(
            conn, project_id=project.project_id, epoch=project.epoch,
            provider_id=project.provider_id, role=node.role or "", node_key=node.key,
            by_department=by_department, department_id=project.claimed_department, rng=rng)
        if picked is None:
            await conn.execute(_QUEUED, (run_id,))
            await assign.enqueue(conn, project.project_id, "staff", node.key,
                                 project.provider_id, m.NO_STAFF)
            return None
    await assign.dequeue(conn, project.project_id)
    await _finish(conn, project, run_id, node, SYSTEM)
    return project


async def enter(conn: Conn, project: Project, node: Node | None, rng: random.Random) -> None:
    """Enter `node` and walk on through the system nodes that complete at once (SM-I-NODE)."""
    while node is not None:
        at = await now(conn)
        operator = await _operator_for(conn, project, node)
        timeout = 0 if node.side == "system" else node.timeout_tenths
        run_id = await scalar(conn, _ENTER, (
            project.project_id, project.epoch, node.key, node.kind, node.name, node.side,
            node.role, operator, at, timeout))
        if timeout:  # no timeout, no clock: the calendar is not read (I-41)
            await clock.start(conn, run_id, at, paused=project.status == "paused")
        await write_log(conn, project, node.key, m.entered(node.name), SYSTEM)
        await publish_event(conn, project.project_id, "node_entered", {
            "node_key": node.key, "run_id": run_id, "kind": node.kind})
        await reminders.fire(conn, project.project_id, run_id, "entered")
        if node.effect and node.effect in EFFECTS:
            await EFFECTS[node.effect].entered(conn, project.project_id, await get_run(conn,
                                                                                       run_id))
        if node.side != "system":
            return
        moved = await _try_assign(conn, project, node, run_id, rng)
        if moved is None:
            return
        project = moved
        node = next_step(project.tree, node.key)


async def _pass(conn: Conn, project: Project, run: Run, node: Node, actor: Actor,
                rng: random.Random, remark: str = "",
                detail: dict[str, Any] | None = None) -> None:
    """The run is done: log, reminders, then the next node, or the project completes."""
    await _finish(conn, project, run.run_id, node, actor, remark, detail)
    following = next_step(project.tree, node.key)
    if following is None:
        await conn.execute(_COMPLETE, (project.project_id,))
        await release_holds(conn, project.project_id)
        await assign.dequeue(conn, project.project_id)
        await publish_event(conn, project.project_id, "project_completed",
                            {"actor": actor.name})
        for hook in ON_COMPLETE:
            await hook(conn, project)
        return
    await enter(conn, project, following, rng)


async def advance(conn: Conn, project: Project, run: Run, node: Node, actor: Actor,
                  rng: random.Random) -> None:
    """Pass the run in the caller's transaction, the project locked (the timeout sweep's
    auto-advance, I-42)."""
    await _pass(conn, project, run, node, actor, rng)


async def start_project(conn: Conn, *, order_no: str, product_id: str, customer_name: str,
                        customer_user_id: str | None = None, channel: str = "",
                        business_no: str = "", order_id: str | None = None,
                        rng: random.Random) -> str:
    """A project for an order (SM-I-PROJECT start), idempotent by order number: pins the
    product's published template, logs "项目开始" and enters the first node."""
    async with conn.transaction():
        existing = await project_id_of(conn, order_no)
        if existing is not None:
            return str(existing)
        async with conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(_PRODUCT, (product_id,))
            product = await cur.fetchone()
        if product is None:
            raise NotFound(f"product {product_id!r}")
        vendor_id, template_id, nodes, status = product
        if template_id is None or status != "published":
            raise m.NoTemplate
        if customer_user_id is not None and await scalar(conn, _IS_CUSTOMER,
                                                          (customer_user_id,)) is None:
            raise m.UnknownCustomer
        project_id = await scalar(conn, _INSERT, (
            f"pj-{uuid.uuid4().hex[:20]}", order_no, business_no, product_id, template_id,
            Jsonb(nodes), vendor_id, customer_user_id, customer_name, channel, order_id))
        if project_id is None:  # the same order started concurrently
            return str(await project_id_of(conn, order_no))
        project = await lock(conn, project_id)
        await write_log(conn, project, None, m.PROJECT_STARTED, SYSTEM)
        await publish_event(conn, project_id, "project_started", {"order_id": order_id})
        await enter(conn, project, steps(project.tree)[0], rng)
    return str(project_id)


async def retry_queued(conn: Conn, project_id: str, *, rng: random.Random) -> bool:
    """One queue entry tried again (I-37): True when it was assigned and the flow moved on."""
    async with conn.transaction():
        project = await lock(conn, project_id)
        run = await current_run(conn, project_id)
        if project.status not in m.LIVE or run is None or run.state != "queued":
            await assign.dequeue(conn, project_id)
            return False
        node = project.step(run.node_key)
        moved = await _try_assign(conn, project, node, run.run_id, rng)
        if moved is None:
            return False
        await enter(conn, moved, next_step(moved.tree, node.key), rng)
        return True


async def _acting(conn: Conn, project_id: str, run_id: int) -> tuple[Project, Run, Node]:
    """The locked project and its current, active run `run_id` (else a refusal)."""
    project = await lock(conn, project_id)
    if project.status in m.CLOSED:
        raise m.ProjectClosed
    if project.status == "paused":
        raise m.ProjectPaused
    run = await current_run(conn, project_id)
    if run is None or run.run_id != run_id or run.state != "active":
        raise m.NotCurrent
    return project, run, project.step(run.node_key)


async def may_act(conn: Conn, project: Project, run: Run, node: Node, actor: Actor) -> bool:
    """I-51: the node's operator, or the customer on customer nodes (the system always)."""
    if actor.user_id is None:
        return True
    if node.side == "customer":
        return actor.user_id == project.customer_user_id
    if node.side == "system":
        return False
    if run.operator_user_id is not None:
        return actor.user_id == run.operator_user_id
    who = await person(conn, actor.user_id)
    if who.dl_tenant_id is None or who.dl_tenant_id != project.provider_id:
        return False
    return (node.role in who.business_roles
            or (node.role == PROVIDER_ADMIN_ROLE and who.role in ADMIN_ROLES))


async def _check_actor(conn: Conn, project: Project, run: Run, node: Node,
                       actor: Actor) -> Actor:
    if not await may_act(conn, project, run, node, actor):
        raise m.NotOperator
    if actor.user_id is not None and not actor.role:
        return replace(actor, role="客户" if node.side == "customer" else node.role or "")
    return actor


async def confirm(conn: Conn, project_id: str, run_id: int, actor: Actor, *, remark: str = "",
                  rng: random.Random, detail: dict[str, Any] | None = None) -> None:
    """The operator confirms the current node (confirm, general, complete; a submit node
    whose form is filled): log "{节点}已完成", then the next node (SM-I-NODE)."""
    async with conn.transaction():
        project, run, node = await _acting(conn, project_id, run_id)
        actor = await _check_actor(conn, project, run, node, actor)
        if node.kind not in ("confirm", "general", "complete", "submit_requirement"):
            raise m.NotConfirmable
        if node.kind == "submit_requirement" and not await scalar(
                conn, _HAS_REQUIREMENT, (project_id, node.key)):
            raise m.RequirementFormMissing
        if node.effect and node.effect in EFFECTS:
            await EFFECTS[node.effect].check_confirm(conn, project_id, run, detail or {},
                                                     actor)
        await _pass(conn, project, run, node, actor, rng, remark, detail)


async def complete_effect(conn: Conn, project_id: str, run_id: int, actor: Actor,
                          detail: dict[str, Any], *, rng: random.Random) -> None:
    """A card-order effect node completes (I-63, called by store/delivery/card_orders.py):
    the system, or the operator, passes it with the effect's detail recorded on the run."""
    async with conn.transaction():
        project, run, node = await _acting(conn, project_id, run_id)
        actor = await _check_actor(conn, project, run, node, actor)
        await _pass(conn, project, run, node, actor, rng, detail=detail)


async def submit_requirement(conn: Conn, project_id: str, run_id: int, actor: Actor,
                             answers: dict[str, Any], *, rng: random.Random) -> None:
    """I-16: the customer submits the requirement form; the node passes."""
    async with conn.transaction():
        project, run, node = await _acting(conn, project_id, run_id)
        actor = await _check_actor(conn, project, run, node, actor)
        if node.kind != "submit_requirement":
            raise m.NotConfirmable
        if not answers or not node.form_id:
            raise m.RequirementFormMissing
        await conn.execute(_REQUIREMENT, (project_id, node.key, node.form_id, Jsonb(answers),
                                          actor.user_id or actor.name))
        await _pass(conn, project, run, node, actor, rng)


async def reject(conn: Conn, project_id: str, run_id: int, actor: Actor, *, reason: str,
                 rng: random.Random) -> None:
    """I-17/I-19: a rejectable node sends the flow back to the previous operable step
    (AMB-35), whose timer restarts (I-42); log "{节点} 未通过" with the reason."""
    async with conn.transaction():
        project, run, node = await _acting(conn, project_id, run_id)
        actor = await _check_actor(conn, project, run, node, actor)
        target = reject_target(project.tree, node.key)
        if not node.rejectable or target is None:
            raise m.NotRejectable
        if not reason.strip():
            raise m.ReasonRequired
        await conn.execute(_FINISH, ("rejected", actor.name, Jsonb({"reason": reason}),
                                     run.run_id))
        await write_log(conn, project, node.key, m.rejected(node.name), actor, reason)
        await publish_event(conn, project_id, "node_rejected", {
            "node_key": node.key, "run_id": run.run_id, "actor": actor.name, "reason": reason})
        await reminders.fire(conn, project_id, run.run_id, "rejected")
        await enter(conn, project, target, rng)


async def claim(conn: Conn, order_no: str, actor_user_id: str, *, rng: random.Random) -> str:
    """I-33: a 客户经理 claims an order awaiting claim by its number; the project records the
    claimant and his department (for department-first assignment, I-32)."""
    async with conn.transaction():
        project_id = await project_id_of(conn, order_no)
        if project_id is None:
            raise m.NotClaimable
        project = await lock(conn, project_id)
        run = await current_run(conn, project_id)
        if (project.status != "in_progress" or run is None or run.kind != "claim"
                or run.state != "active"):
            raise m.NotClaimable
        who = await person(conn, actor_user_id)
        if who.dl_tenant_id != project.provider_id or run.role not in who.business_roles:
            raise m.ClaimRoleMismatch
        await conn.execute(_CLAIMED, (who.user_id, who.department_id, project_id))
        project = replace(project, claimed_by=who.user_id, claimed_department=who.department_id)
        await _pass(conn, project, run, project.step(run.node_key),
                    Actor(who.user_id, who.name, run.role or ""), rng)
    return str(project_id)


