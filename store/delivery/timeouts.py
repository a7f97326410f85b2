"""The timeout sweep (I-39, I-41, I-42): node runs whose working-day deadline has passed are
flagged timed out — stamped with the due instant, not the sweep's — on the side that acts;
the node's "当前流程超时" reminders fire once; confirm and complete-project nodes with
auto-advance are confirmed by 系统 and the flow moves on.

The worker's leader calls `sweep` every `delivery_timeout_check_s`; rows another sweep or an
action holds are skipped (SKIP LOCKED), so sweeps never wait nor block people.
"""

from __future__ import annotations

import logging
import random

from psycopg.rows import tuple_row

from domain.delivery.machines import SYSTEM
from domain.refusals import Refusal
from store.db import Conn
from store.delivery import project_rows, projects, reminders
from store.delivery.events import publish_event

_DUE = """
SELECT r.run_id, r.project_id FROM dl_node_runs r JOIN dl_projects p USING (project_id)
WHERE r.state = 'active' AND r.timed_out_at IS NULL AND r.deadline_at <= cp_now()
  AND p.status = 'in_progress'
ORDER BY r.deadline_at FOR UPDATE OF p, r SKIP LOCKED LIMIT %s
"""
_STAMP = """
UPDATE dl_node_runs SET timed_out_at = deadline_at,
    timeout_side = CASE WHEN side IN ('provider', 'customer') THEN side END
WHERE run_id = %s AND timed_out_at IS NULL
"""
AUTO_KINDS = ("confirm", "complete")
log = logging.getLogger(__name__)


async def sweep(conn: Conn, limit: int = 100, *, rng: random.Random | None = None) -> int:
    """Flag up to `limit` due runs (oldest deadline first); returns how many."""
    draw = rng or random.Random()  # noqa: S311 - assignment draws, not secrets
    async with conn.transaction():
        async with conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(_DUE, (limit,))
            due = await cur.fetchall()
        for run_id, project_id in due:
            await conn.execute(_STAMP, (run_id,))
            await reminders.fire(conn, project_id, run_id, "timed_out")
            await publish_event(conn, project_id, "node_timed_out", {"run_id": run_id})
            project = await project_rows.get_project(conn, project_id)
            run = await project_rows.get_run(conn, run_id)
            node = project.step(run.node_key)
            if node.auto_advance and node.kind in AUTO_KINDS:
                try:
                    async with conn.transaction():  # a refusal undoes this advance only
                        await projects.advance(conn, project, run, node, SYSTEM, draw)
                except Refusal:
                    log.exception("auto-advance of run %s refused; it stays timed out", run_id)
    return len(due)
