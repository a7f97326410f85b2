"""API keys: platform keys, listing (never the secret), revocation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel

from api.deps import Admin, Caller, Db
from api.routers.enterprises import own
from api.schemas import ApiKeyPublic, Strict
from store import tenants

router = APIRouter(tags=["api keys"])


class PlatformKeyCreate(Strict):
    role: Literal["platform_ops"]


class KeyInfo(BaseModel):
    key_id: str
    enterprise_id: str | None
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@router.post("/v1/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyPublic)
async def create_platform_key(body: PlatformKeyCreate, _: Admin, db: Db) -> ApiKeyPublic:
    """A platform_ops key: read-only across every tenant."""
    key_id, key = await tenants.create_api_key(db, None, body.role)
    return ApiKeyPublic(key_id=key_id, key=key, enterprise_id=None, role=body.role)


@router.get("/v1/enterprises/{enterprise_id}/api-keys", response_model=list[KeyInfo])
async def list_keys(enterprise_id: str, caller: Caller, db: Db) -> list[KeyInfo]:
    own(caller, enterprise_id, write=caller.role == "enterprise_viewer")
    names = KeyInfo.model_fields.keys()
    return [KeyInfo.model_validate(dict(zip(names, row, strict=True)))
            for row in await tenants.list_api_keys(db, enterprise_id)]


@router.delete("/v1/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(key_id: str, caller: Caller, db: Db) -> Response:
    """Revoke a key at once; admins any key, enterprise admins their enterprise's keys."""
    try:
        owner = await tenants.key_of(db, key_id)
    except tenants.NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"api key {key_id!r} not found") from None
    if owner.enterprise_id is None:
        if caller.role != "admin":
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"api key {key_id!r} not found")
    else:
        own(caller, owner.enterprise_id, write=True)
    await tenants.revoke_api_key(db, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
