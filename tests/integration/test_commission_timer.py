"""The H-13 unfreeze timer in a running worker (C-09): once the platform clock — moved through
`PUT /v1/admin/clock` — reaches a frozen commission's due instant, the worker makes it
`unfreezing` with a pending approval (or `available` when its rule needs no approval) within
60 s of wall time, stamped with the due instant; a record not yet due stays frozen."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from core.clock import CLOCK, now
from core.settings import Settings
from store import commission_series, commissions
from tests.support.commissions import commission_market, new, produce
from tests.support.dates import move_clock
from tests.support.ledger import connect
from tests.support.services import WorkerProcess
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration


@pytest.fixture
async def reset_clock(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """The worker follows the stored clock offset every second only with the test clock on
    (its environment is copied from this process's); this process's clock is put back."""
    monkeypatch.setenv("CARDPULSE_TEST_CLOCK", "true")
    yield
    CLOCK.set_offset(0)


@pytest.mark.req("H-13", "C-09", "SM-H-COMM", "SM-H-APPROVAL")
async def test_the_worker_unfreezes_within_60_s_of_the_due_instant(
        settings: Settings, reset_clock: None, running_worker: WorkerProcess) -> None:
    at = now().replace(microsecond=0)
    due = at + timedelta(days=7)
    async with commission_market(settings, at) as made:
        records = {r.idem_key: r for r in await produce(
            settings, new("approved-later", at), new("no-approval", at, rule="rA2"),
            new("tomorrow", at + timedelta(days=1)))}
        ready = settings.run_dir / "worker.ready"
        await eventually_async(lambda: _true(ready.exists()), timeout=90, what="worker ready")
        await move_clock(made.admin, due + timedelta(seconds=1))
        moved_at = time.monotonic()

        async def unfrozen() -> dict[str, commissions.Record] | None:
            async with connect(settings.require_database()) as conn:
                got = {k: await commissions.get(conn, r.record_id) for k, r in records.items()}
            return got if got["approved-later"].state == "unfreezing" and \
                got["no-approval"].state == "available" else None

        got = await eventually_async(unfrozen, timeout=60, what="unfrozen by the timer")
        assert time.monotonic() - moved_at < 60
        assert got["approved-later"].unfreezing_at == due
        assert got["no-approval"].available_at == due
        assert got["tomorrow"].state == "frozen"
        async with connect(settings.require_database()) as conn:
            approval = await commissions.get_approval(conn, commissions.approval_id_of(
                records["approved-later"].record_id))
            assert (approval.state, approval.created_at) == ("pending", due)
            overdue = await (await conn.execute(commission_series.OVERDUE)).fetchone()
            assert overdue == (0,)
        queue = await made.admin.get("/v1/commission-approvals", params={"state": "pending"})
        assert [a["approval_id"] for a in queue.json()] == [approval.approval_id]


async def _true(value: bool) -> bool | None:
    return value or None
