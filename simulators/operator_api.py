"""The operator simulator's HTTP face: the three dialects plus the `/_sim/*` controls (and,
when given one, the payment channel under `/_pay`, `simulators.payments`).

The wire formats are the contract in connectors/DIALECTS.md; the dialects live in
`simulators.onelink`, `simulators.jasper` and `simulators.ctcc`, all sharing one `SimContext`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, cast

from fastapi import FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from core.operators import CardStatus
from domain.usage.validation import MAX_RECORD_BYTES, iccid_problem
from simulators import ctcc, jasper, onelink
from simulators.beijing import day_of
from simulators.fleet_state import CardEdit, Platform, SimCard, Stage
from simulators.knobs import KnobsError, SimContext, SimKnobs
from simulators.payments import api as pay_api
from simulators.payments.channel import PayChannel
from simulators.registration import RegistrationError, parse_registration

Msisdn = Annotated[str, Field(pattern=r"^[0-9]{11,15}$")]


class SimCardView(BaseModel):
    """`GET /_sim/cards/{iccid}`: the card as the operator sees it; `held` when our resume
    would be refused (frozen, or stopped for a reason other than our own stop)."""

    iccid: str
    msisdn: str | None
    platform: Platform
    status: CardStatus
    status_changes: int
    stop_reason: str | None
    frozen: bool
    held: bool
    stage: Stage | None = None


class SimCardEdit(BaseModel):
    """`PUT /_sim/cards/{iccid}`: what the operator changes itself; unset fields stay. A
    `stage` (inventory, test_ready, activation_ready) makes the card one never opened."""

    model_config = ConfigDict(extra="forbid")

    msisdn: Msisdn | None = None
    platform: Platform = "ct"
    status: CardStatus = "active"
    stop_reason: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    frozen: bool = False
    stage: Stage | None = None


class SimChange(BaseModel):
    """One status change; `at` is unix time (seconds) when it took effect on the network."""

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


def _view(iccid: str, card: SimCard) -> SimCardView:
    return SimCardView(iccid=iccid, msisdn=card.msisdn, platform=card.platform,
                       status=card.status, status_changes=card.status_changes,
                       stop_reason=card.stop_reason, frozen=card.frozen, held=card.held,
                       stage=card.stage)


def _sim_routes(app: FastAPI, ctx: SimContext) -> None:
    net = ctx.net

    @app.get("/_sim/cards/{iccid}", response_model=SimCardView)
    async def sim_card(iccid: str) -> SimCardView:
        ctx.now()  # complete due orders and batch jobs first
        # Looking at a card must not make the operator know it (`cards` in the stats).
        return _view(iccid, net.cards.get(_checked(iccid)) or SimCard())

    @app.put("/_sim/cards/{iccid}", response_model=SimCardView)
    async def edit_card(iccid: str, edit: SimCardEdit) -> SimCardView:
        """The operator's own doing, at once: number, platform, status, stop reason, freeze."""
        given = edit.model_dump(exclude_unset=True)
        owner = net.numbers.conflict(_checked(iccid), given.get("msisdn"))
        if owner is not None:
            raise HTTPException(422, f"msisdn {edit.msisdn} already belongs to {owner}")
        return _view(iccid, net.edit(iccid, cast(CardEdit, given), ctx.now()))

    @app.post("/_sim/cards")
    async def register_cards(request: Request) -> dict[str, int]:
        """`{"cards": [{"iccid", "msisdn", "platform"}]}`: give up to 100,000 cards their
        numbers and platforms at once, all of them or none (422 naming the bad items)."""
        try:
            cards = parse_registration(await request.body(), net)
        except RegistrationError as exc:
            raise HTTPException(422, exc.problems) from None
        now = ctx.now()
        for iccid, msisdn, platform in cards:
            net.register(iccid, msisdn, platform, now)
        return {"registered": len(cards)}

    @app.get("/_sim/stats")
    async def sim_stats() -> dict[str, Any]:
        ctx.now()
        return {"requests": net.stats_view(), "cards": len(net.cards)}

    @app.get("/_sim/changes", response_model=list[SimChange])
    async def sim_changes(after: int = Query(0, ge=0),
                          limit: int = Query(10_000, ge=1, le=100_000)) -> list[SimChange]:
        """Status changes after sequence number `after` (the last 200,000 kept)."""
        offset = time.time() - ctx.now()  # the simulator's clock → unix time
        return [SimChange(seq=seq, iccid=iccid, status=status, at=at + offset)
                for seq, iccid, status, at in net.changes_after(after, limit)]

    @app.post("/_sim/usage")
    async def sim_usage(batch: UsageBatch) -> dict[str, int]:
        checked = [(_checked(r.iccid), r.bytes) for r in batch.records]  # all or nothing
        now = ctx.now()
        today = day_of(now)
        for iccid, nbytes in checked:
            net.add_usage(iccid, nbytes, today, now)
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


def create_app(knobs: SimKnobs, clock: Callable[[], float] = time.time,
               payments: PayChannel | None = None) -> FastAPI:
    """The simulator app: every dialect and control shares one state, `knobs` and `clock`
    (unix seconds: the simulator's calendar is Beijing's, moved by `time_offset_s`); with
    `payments`, the payment channel too, under `/_pay` (its deliveries stop with the app)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if payments is not None:
            await payments.aclose()

    ctx = SimContext(knobs, clock)
    app = FastAPI(title="CardPulse operator simulator", lifespan=lifespan)
    for dialect in (onelink, jasper, ctcc):
        app.include_router(dialect.router(ctx))
    _sim_routes(app, ctx)
    if payments is not None:
        app.include_router(pay_api.router(payments))
    return app
