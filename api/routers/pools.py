"""Enterprise pools: pooled quota with an optional per-card cap."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import Caller, Db, Res, forbid_viewer, may_manage, visible_pool
from api.effects import publish
from api.errors import invalid
from api.openapi import CONFLICT, NOT_FOUND
from api.schemas.pools import PoolCreate, PoolPublic, PoolUpdate
from store import pools
from store.pools import PoolView

router = APIRouter(prefix="/v1/pools", tags=["pools"])


def public(view: PoolView) -> PoolPublic:
    return PoolPublic.model_validate(view, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PoolPublic,
             responses={**NOT_FOUND, **CONFLICT})
async def create_pool(body: PoolCreate, caller: Caller, db: Db, res: Res) -> PoolPublic:
    may_manage(caller, body.enterprise_id)
    view, outcome = await pools.create_pool(db, body.pool_id, body.enterprise_id,
                                            body.limit_bytes, body.per_card_limit_bytes,
                                            body.warn_percents)
    await publish(res, outcome)
    return public(view)


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
    return public(view)


@router.get("/{pool_id}", response_model=PoolPublic)
async def get_pool(pool_id: str, caller: Caller, db: Db) -> PoolPublic:
    return public(await visible_pool(db, pool_id, caller))
