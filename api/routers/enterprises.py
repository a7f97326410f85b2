"""Enterprises (tenants): created by the platform administrator; their settings and alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import Admin, Caller, Db, own, visible_enterprise
from api.errors import invalid
from api.openapi import CONFLICT
from api.schemas.enterprises import (
    AlertPublic,
    EnterpriseCreate,
    EnterprisePublic,
    EnterpriseUpdate,
)
from store import alerts, enterprises

router = APIRouter(prefix="/v1/enterprises", tags=["enterprises"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EnterprisePublic,
             responses=CONFLICT)
async def create_enterprise(body: EnterpriseCreate, _: Admin, db: Db) -> EnterprisePublic:
    made = await enterprises.create_enterprise(db, body.enterprise_id, body.name, body.timezone)
    return EnterprisePublic.model_validate(made, from_attributes=True)


@router.patch("/{enterprise_id}", response_model=EnterprisePublic)
async def update_enterprise(enterprise_id: str, body: EnterpriseUpdate, caller: Caller, db: Db
                            ) -> EnterprisePublic:
    """Change the name, time zone (billing cycles) or alert webhook of an enterprise."""
    own(caller, enterprise_id, write=True)
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "timezone"):
        if field in changes and changes[field] is None:
            raise invalid("body", field, "may not be null")
    made = await enterprises.update_enterprise(db, enterprise_id, **changes)
    return EnterprisePublic.model_validate(made, from_attributes=True)


@router.get("/{enterprise_id}/alerts", response_model=list[AlertPublic])
async def list_alerts(enterprise_id: str, caller: Caller, db: Db,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AlertPublic]:
    """Quota warnings of the enterprise, newest first."""
    await visible_enterprise(db, enterprise_id, caller)
    return [AlertPublic.model_validate(a, from_attributes=True)
            for a in await alerts.list_alerts(db, enterprise_id, limit)]
