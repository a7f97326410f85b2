"""The operator simulator's HTTP face: the three dialects plus the `/_sim/*` controls.

The wire formats are the contract in connectors/DIALECTS.md; the dialects live in
`simulators.onelink`, `simulators.jasper` and `simulators.ctcc`, all sharing one `SimContext`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from core.operators import CardStatus
from domain.usage.validation import MAX_RECORD_BYTES, iccid_problem
from simulators import ctcc, jasper, onelink
from simulators.fleet_state import SimCard
from simulators.knobs import KnobsError, SimContext, SimKnobs


class SimCardView(BaseModel):
    """`GET /_sim/cards/{iccid}`."""

    iccid: str
    status: CardStatus
    status_changes: int


class SimChange(BaseModel):
    """One accepted status change; `at` is unix time (seconds) when the operator accepted it."""

    seq: int
    iccid: str
    status: CardStatus
    at: float


class UsageIn(BaseModel):
    """One usage addition for `POST /_sim/usage`."""

    iccid: str
    bytes: int = Field(ge=0, le=MAX_RECORD_BYTES)


class UsageBatch(BaseModel):
    """`POST /_sim/usage` body."""

    records: list[UsageIn]


def _checked(iccid: str) -> str:
    problem = iccid_problem(iccid)
    if problem:
        raise HTTPException(422, f"iccid {problem}")
    return iccid


def _sim_routes(app: FastAPI, ctx: SimContext) -> None:
    net = ctx.net

    @app.get("/_sim/cards/{iccid}", response_model=SimCardView)
    async def sim_card(iccid: str) -> SimCardView:
        ctx.now()  # complete due batch jobs first
        # Looking at a card must not make the operator know it (`cards` in the stats).
        card = net.cards.get(_checked(iccid)) or SimCard()
        return SimCardView(iccid=iccid, status=card.status, status_changes=card.status_changes)

    @app.get("/_sim/stats")
    async def sim_stats() -> dict[str, Any]:
        ctx.now()
        return {"requests": net.stats_view(), "cards": len(net.cards)}

    @app.get("/_sim/changes", response_model=list[SimChange])
    async def sim_changes(after: int = Query(0, ge=0),
                          limit: int = Query(10_000, ge=1, le=100_000)) -> list[SimChange]:
        """Accepted status changes after sequence number `after` (the last 200,000 kept)."""
        offset = time.time() - ctx.now()  # the simulator's clock → unix time
        return [SimChange(seq=seq, iccid=iccid, status=status, at=at + offset)
                for seq, iccid, status, at in net.changes_after(after, limit)]

    @app.post("/_sim/usage")
    async def sim_usage(batch: UsageBatch) -> dict[str, int]:
        checked = [(_checked(r.iccid), r.bytes) for r in batch.records]  # all or nothing
        now = ctx.now()
        for iccid, nbytes in checked:
            net.add_usage(iccid, nbytes, now)
        return {"accepted": len(checked)}

    @app.get("/_sim/knobs")
    async def get_knobs() -> dict[str, Any]:
        return ctx.knobs.model_dump()

    @app.put("/_sim/knobs")
    async def put_knobs(changes: dict[str, Any]) -> dict[str, Any]:
        try:
            return ctx.update(changes).model_dump()
        except KnobsError as exc:
            raise HTTPException(422, str(exc)) from None


def create_app(knobs: SimKnobs, clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """The simulator app: every dialect and control shares one state, `knobs` and `clock`."""
    ctx = SimContext(knobs, clock)
    app = FastAPI(title="CardPulse operator simulator")
    for dialect in (onelink, jasper, ctcc):
        app.include_router(dialect.router(ctx))
    _sim_routes(app, ctx)
    return app
