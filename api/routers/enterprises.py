"""Enterprises (tenants) and their API keys: platform administrators only."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import Admin, Db
from api.schemas import ApiKeyCreate, ApiKeyPublic, EnterpriseCreate, EnterprisePublic
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
