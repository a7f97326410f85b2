"""The administrators' changes to a running project and the customer's evaluation (I-43,
I-44, I-45, I-51, I-54, SM-I-PROJECT): pause with a remark and start again, cancel, another
provider (a new epoch), another operator, and the stars once completed. Each one is one
transaction that locks the project row first, as the flow in `store.delivery.projects` does."""

from __future__ import annotations

import random

from psycopg.types.json import Jsonb

from domain.delivery import machines as m
from domain.delivery.machines import Actor
from domain.delivery.nodes import steps
from store.db import Conn
from store.delivery import assign, clock
from store.delivery.events import publish_event
from store.delivery.project_rows import Project, current_run, lock, now, person, scalar
from store.delivery.projects import (
    ADMIN_ROLES,
    PROVIDER_ADMIN_ROLE,
    enter,
    release_holds,
    write_log,
)

_ABANDON = """
UPDATE dl_node_runs SET state = 'abandoned', done_at = cp_now()
WHERE project_id = %s AND state IN ('active', 'queued')
"""
_SET_OPERATOR = "UPDATE dl_node_runs SET operator_user_id = %s WHERE run_id = %s"
_PAUSE = """
UPDATE dl_projects SET status = 'paused', paused_at = cp_now(), pause_remark = %s
WHERE project_id = %s
"""
_RESUME = """
UPDATE dl_projects SET status = 'in_progress', paused_at = NULL WHERE project_id = %s
"""
_CANCEL = """
UPDATE dl_projects SET status = 'cancelled', cancelled_at = cp_now(), paused_at = NULL
WHERE project_id = %s
"""
_NEW_PROVIDER = """
UPDATE dl_projects SET provider_id = %s, epoch = epoch + 1, status = 'in_progress',
    paused_at = NULL, claimed_by = NULL, claimed_department = NULL
WHERE project_id = %s
"""
_TENANT_NAME = "SELECT name FROM dl_tenants WHERE tenant_id = %s"
_EVALUATE = "UPDATE dl_projects SET evaluation = %s WHERE project_id = %s"


def _live(project: Project, event: str) -> None:
    m.project_step(project.status, event)


async def pause(conn: Conn, project_id: str, actor: Actor, remark: str) -> None:
    """I-43: an in-progress project pauses with a required remark; its clock stops."""
    if not remark.strip():
        raise m.RemarkRequired
    async with conn.transaction():
        project = await lock(conn, project_id)
        _live(project, "pause")
        await conn.execute(_PAUSE, (remark, project_id))
        await clock.pause(conn, project_id, await now(conn))
        await write_log(conn, project, None, m.PAUSED, actor, remark)


async def resume(conn: Conn, project_id: str, actor: Actor) -> None:
    """I-43, AMB-04: 启动项目 — counting continues from the working time already elapsed."""
    async with conn.transaction():
        project = await lock(conn, project_id)
        _live(project, "resume")
        await conn.execute(_RESUME, (project_id,))
        await clock.resume(conn, project_id, await now(conn))
        await write_log(conn, project, None, m.RESUMED, actor)


async def cancel(conn: Conn, project_id: str, actor: Actor, remark: str) -> None:
    """I-54: cancelled (order cancelled/refunded, or the vendor admin): holds released, the
    queue entry removed, the current run abandoned."""
    async with conn.transaction():
        project = await lock(conn, project_id)
        _live(project, "cancel")
        await conn.execute(_CANCEL, (project_id,))
        await conn.execute(_ABANDON, (project_id,))
        await release_holds(conn, project_id)
        await assign.dequeue(conn, project_id)
        await write_log(conn, project, None, m.CANCELLED, actor, remark)
        await publish_event(conn, project_id, "project_cancelled", {"actor": actor.name,
                                                                    "remark": remark})


async def change_provider(conn: Conn, project_id: str, provider_id: str, actor: Actor,
                          remark: str, *, rng: random.Random) -> None:
    """I-44: another configured provider with spare capacity takes the project; the flow
    restarts from the first node in a new epoch (the old operations stay in the log)."""
    async with conn.transaction():
        project = await lock(conn, project_id)
        _live(project, "change_provider")
        if provider_id == project.provider_id:
            raise m.SameProvider
        slots = {s.provider_id: s for s in await assign.provider_slots(
            conn, project.product_id, project_id)}
        target = slots.get(provider_id)
        if target is None:
            raise m.ProviderNotConfigured
        if target.load >= target.max_load:
            raise m.ProviderLoadFull
        old = await scalar(conn, _TENANT_NAME, (project.provider_id,)) or "—"
        new = await scalar(conn, _TENANT_NAME, (provider_id,)) or provider_id
        await conn.execute(_ABANDON, (project_id,))
        await release_holds(conn, project_id)
        await assign.dequeue(conn, project_id)
        await conn.execute(_NEW_PROVIDER, (provider_id, project_id))
        project = await lock(conn, project_id)
        await write_log(conn, project, None, m.provider_changed(old, new), actor, remark)
        await enter(conn, project, steps(project.tree)[0], rng)


async def change_operator(conn: Conn, project_id: str, user_id: str, actor: Actor,
                          remark: str = "") -> None:
    """I-45, AMB-31: the current provider-side node's role goes to another staff member of
    that role with spare load (a paused one allowed); old hold released, new hold taken."""
    async with conn.transaction():
        project = await lock(conn, project_id)
        _live(project, "change_operator")
        run = await current_run(conn, project_id)
        if run is None or run.side != "provider" or not run.role:
            raise m.NoProviderOperator
        who = await person(conn, user_id)
        role = run.role
        fits = role in who.business_roles or (role == PROVIDER_ADMIN_ROLE
                                              and who.role in ADMIN_ROLES)
        if who.dl_tenant_id != project.provider_id or not fits:
            raise m.RoleMismatch
        if run.operator_user_id != user_id:
            await release_holds(conn, project_id, role)
            if not await assign.take_over(conn, project_id=project_id, epoch=project.epoch,
                                          user_id=user_id, role=role, node_key=run.node_key):
                raise m.OperatorLoadFull
            await conn.execute(_SET_OPERATOR, (user_id, run.run_id))
        await write_log(conn, project, run.node_key, m.CHANGE_OPERATOR, actor, remark)


async def evaluate(conn: Conn, project_id: str, actor: Actor, stars: int, text: str) -> None:
    """I-51: the customer evaluates a completed project once (stars 1–5 and a text)."""
    async with conn.transaction():
        project = await lock(conn, project_id)
        if project.status != "completed":
            raise m.NotCompleted
        if actor.user_id is not None and actor.user_id != project.customer_user_id:
            raise m.NotOperator
        if project.evaluation is not None:
            raise m.AlreadyEvaluated
        await conn.execute(_EVALUATE, (Jsonb({"stars": stars, "text": text,
                                              "by": actor.user_id}), project_id))
        await write_log(conn, project, None, m.EVALUATED, actor, text)
