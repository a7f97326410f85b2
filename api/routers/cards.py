"""Cards: registration and the per-card view. Tenants see only their own cards."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import Caller, Db
from api.schemas import CardCreate, CardPublic
from store import cards
from store.tenants import AlreadyExists, NotFound

router = APIRouter(prefix="/v1/cards", tags=["cards"])


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CardPublic)
async def create_card(body: CardCreate, caller: Caller, db: Db) -> CardPublic:
    if caller.role == "enterprise_viewer":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "enterprise_viewer keys are read-only")
    if not caller.manages(body.enterprise_id):
        raise _not_found(f"enterprise {body.enterprise_id!r}")
    if body.pool_id is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"pool_id: unknown pool {body.pool_id!r}")
    try:
        view = await cards.create_card(db, body.iccid, body.enterprise_id, body.operator,
                                       body.package_bytes)
    except AlreadyExists:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"card {body.iccid} is already registered") from None
    except NotFound:
        raise _not_found(f"enterprise {body.enterprise_id!r}") from None
    return CardPublic(**view.__dict__)


@router.get("/{iccid}", response_model=CardPublic)
async def get_card(iccid: str, caller: Caller, db: Db) -> CardPublic:
    try:
        view = await cards.get_card(db, iccid)
    except NotFound:
        raise _not_found(f"card {iccid}") from None
    if not caller.sees(view.enterprise_id):
        raise _not_found(f"card {iccid}")
    return CardPublic(**view.__dict__)
