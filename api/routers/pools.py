"""Enterprise pools: pooled quota with an optional per-card cap."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import Caller, Db, Principal, Res
from api.effects import publish
from api.errors import invalid
from api.routers.cards import forbid_viewer, not_found
from api.schemas import PoolCreate, PoolPublic, PoolUpdate
from store import pools
from store.pools import PoolView
from store.tenants import AlreadyExists, NotFound

router = APIRouter(prefix="/v1/pools", tags=["pools"])


async def visible_pool(db: Db, pool_id: str, caller: Principal) -> PoolView:
    try:
        view = await pools.get_pool(db, pool_id)
    except NotFound:
        raise not_found(f"pool {pool_id!r}") from None
    if not caller.sees(view.enterprise_id):
        raise not_found(f"pool {pool_id!r}")
    return view


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PoolPublic)
async def create_pool(body: PoolCreate, caller: Caller, db: Db, res: Res) -> PoolPublic:
    forbid_viewer(caller)
    if not caller.manages(body.enterprise_id):
        raise not_found(f"enterprise {body.enterprise_id!r}")
    try:
        view, outcome = await pools.create_pool(db, body.pool_id, body.enterprise_id,
                                                body.limit_bytes, body.per_card_limit_bytes,
                                                body.warn_percents)
    except AlreadyExists:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"pool {body.pool_id!r} already exists") from None
    except NotFound:
        raise not_found(f"enterprise {body.enterprise_id!r}") from None
    await publish(res, outcome)
    return PoolPublic(**view.__dict__)


@router.patch("/{pool_id}", response_model=PoolPublic)
async def update_pool(pool_id: str, body: PoolUpdate, caller: Caller, db: Db, res: Res
                      ) -> PoolPublic:
    forbid_viewer(caller)
    await visible_pool(db, pool_id, caller)
    sent = body.model_dump(exclude_unset=True)
    for field in ("limit_bytes", "warn_percents"):
        if field in sent and sent[field] is None:
            raise invalid("body", field, "may not be null")
    view, outcome = await pools.update_pool(db, pool_id, **sent)
    await publish(res, outcome)
    return PoolPublic(**view.__dict__)


@router.get("/{pool_id}", response_model=PoolPublic)
async def get_pool(pool_id: str, caller: Caller, db: Db) -> PoolPublic:
    return PoolPublic(**(await visible_pool(db, pool_id, caller)).__dict__)
