"""Cards: registration, configuration, manual stop/resume, activation and the card view.

Tenants see only their own cards (others answer 404); viewers may only read.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import Caller, Db, Principal, Res, forbid_viewer, may_manage, visible_card
from api.effects import publish
from api.errors import invalid
from api.openapi import CONFLICT, NOT_FOUND
from api.schemas.cards import CardCreate, CardImport, CardImported, CardPublic, CardUpdate
from domain.usage.partitioning import partition_for
from store import cards
from store.cards import CardView, NewCard

router = APIRouter(prefix="/v1/cards", tags=["cards"])


def public(view: CardView) -> CardPublic:
    return CardPublic.model_validate(view, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CardPublic,
             responses={**NOT_FOUND, **CONFLICT})
async def create_card(body: CardCreate, caller: Caller, db: Db, res: Res) -> CardPublic:
    may_manage(caller, body.enterprise_id)
    card = NewCard(body.iccid, body.operator, body.package_bytes, body.pool_id,
                   body.warn_percents, partition_for(body.iccid, res.settings.usage_partitions),
                   body.msisdn, body.opened)
    view, outcome = await cards.create_card(db, body.enterprise_id, card)
    await publish(res, outcome)
    return public(view)


@router.post("/import", response_model=CardImported, responses={**NOT_FOUND, **CONFLICT})
async def import_cards(body: CardImport, caller: Caller, db: Db, res: Res) -> CardImported:
    """Register up to 10,000 cards of one enterprise in one transaction."""
    may_manage(caller, body.enterprise_id)
    seen: set[str] = set()
    numbers: set[tuple[str, str]] = set()
    for index, item in enumerate(body.cards):
        if item.iccid in seen:
            raise invalid("body", ["cards", index, "iccid"],
                          f"ICCID {item.iccid} appears twice in this import")
        seen.add(item.iccid)
        if item.msisdn is not None:
            if (item.operator, item.msisdn) in numbers:
                raise invalid("body", ["cards", index, "msisdn"],
                              f"{item.operator} number {item.msisdn} appears twice in this "
                              "import")
            numbers.add((item.operator, item.msisdn))
    partitions = res.settings.usage_partitions
    new = [NewCard(c.iccid, c.operator, c.package_bytes, c.pool_id, c.warn_percents,
                   partition_for(c.iccid, partitions), c.msisdn, c.opened) for c in body.cards]
    result = await cards.import_cards(db, body.enterprise_id, new)
    await publish(res, result.outcome)
    return CardImported(created=len(result.created), existing=len(result.existing),
                        existing_iccids=result.existing)


@router.get("/{iccid}", response_model=CardPublic)
async def get_card(iccid: str, caller: Caller, db: Db) -> CardPublic:
    return public(await visible_card(db, iccid, caller))


@router.patch("/{iccid}", response_model=CardPublic)
async def update_card(iccid: str, body: CardUpdate, caller: Caller, db: Db, res: Res
                      ) -> CardPublic:
    forbid_viewer(caller)
    await visible_card(db, iccid, caller)
    sent = body.model_dump(exclude_unset=True)
    if "warn_percents" in sent and body.warn_percents is None:
        raise invalid("body", "warn_percents", "must be a list (use [] for no warnings)")
    view, outcome = await cards.update_card(db, iccid, **sent)
    await publish(res, outcome)
    return public(view)


async def _manual(iccid: str, stopped: bool, caller: Principal, db: Db, res: Res) -> CardPublic:
    forbid_viewer(caller)
    await visible_card(db, iccid, caller)
    view, outcome = await cards.set_manual(db, iccid, stopped)
    await publish(res, outcome)
    return public(view)


@router.post("/{iccid}/stop", response_model=CardPublic)
async def stop_card(iccid: str, caller: Caller, db: Db, res: Res) -> CardPublic:
    """Add the `manual` stop reason; only a manual resume removes it."""
    return await _manual(iccid, True, caller, db, res)


@router.post("/{iccid}/resume", response_model=CardPublic)
async def resume_card(iccid: str, caller: Caller, db: Db, res: Res) -> CardPublic:
    """Remove the `manual` reason only; quota reasons stay until their rule clears them."""
    return await _manual(iccid, False, caller, db, res)


@router.post("/{iccid}/activate", response_model=CardPublic)
async def activate_card(iccid: str, caller: Caller, db: Db, res: Res) -> CardPublic:
    """Open a card registered as not opened (removes only `not_opened`): the controls send the
    operator's open call once no other stop reason holds, and `opened` turns true when the
    operator confirms the card active. Asking again is harmless and re-arms a failed
    activation."""
    forbid_viewer(caller)
    await visible_card(db, iccid, caller)
    view, outcome = await cards.activate(db, iccid)
    await publish(res, outcome)
    return public(view)
