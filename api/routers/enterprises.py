"""Enterprises (tenants) and their API keys: platform administrators only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import Admin, Caller, Db, Principal
from api.errors import invalid
from api.schemas import (
    AlertPublic,
    ApiKeyCreate,
    ApiKeyPublic,
    EnterpriseCreate,
    EnterprisePublic,
    EnterpriseUpdate,
)
from store import tenants

router = APIRouter(prefix="/v1/enterprises", tags=["enterprises"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EnterprisePublic)
async def create_enterprise(body: EnterpriseCreate, _: Admin, db: Db) -> EnterprisePublic:
    try:
        made = await tenants.create_enterprise(db, body.enterprise_id, body.name, body.timezone)
    except tenants.AlreadyExists:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"enterprise {body.enterprise_id!r} already exists") from None
    return EnterprisePublic(**made.__dict__)


@router.post("/{enterprise_id}/api-keys", status_code=status.HTTP_201_CREATED,
             response_model=ApiKeyPublic)
async def create_api_key(enterprise_id: str, body: ApiKeyCreate, _: Admin, db: Db) -> ApiKeyPublic:
    try:
        key_id, key = await tenants.create_api_key(db, enterprise_id, body.role)
    except tenants.NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"enterprise {enterprise_id!r} not found") from None
    return ApiKeyPublic(key_id=key_id, key=key, enterprise_id=enterprise_id, role=body.role)


def own(caller: Principal, enterprise_id: str, *, write: bool) -> None:
    allowed = caller.manages(enterprise_id) if write else caller.sees(enterprise_id)
    if not allowed:
        if caller.sees(enterprise_id):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{caller.role} keys are read-only")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"enterprise {enterprise_id!r} not found")


@router.patch("/{enterprise_id}", response_model=EnterprisePublic)
async def update_enterprise(enterprise_id: str, body: EnterpriseUpdate, caller: Caller, db: Db
                            ) -> EnterprisePublic:
    """Change the name, time zone (billing cycles) or alert webhook of an enterprise."""
    own(caller, enterprise_id, write=True)
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "timezone"):
        if field in changes and changes[field] is None:
            raise invalid("body", field, "may not be null")
    try:
        made = await tenants.update_enterprise(db, enterprise_id, changes)
    except tenants.NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"enterprise {enterprise_id!r} not found") from None
    hook = await tenants.webhook_url(db, enterprise_id)
    return EnterprisePublic(**made.__dict__, webhook_url=hook)


@router.get("/{enterprise_id}/alerts", response_model=list[AlertPublic])
async def list_alerts(enterprise_id: str, caller: Caller, db: Db,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AlertPublic]:
    """Quota warnings of the enterprise, newest first."""
    own(caller, enterprise_id, write=False)
    rows = await tenants.list_alerts(db, enterprise_id, limit)
    names = AlertPublic.model_fields.keys()
    return [AlertPublic.model_validate(dict(zip(names, row, strict=True))) for row in rows]
