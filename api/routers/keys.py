"""API keys: enterprise and platform keys, listing (never the secret), revocation."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import Admin, Caller, Db, own, visible_enterprise
from api.openapi import FORBIDDEN
from api.schemas.keys import ApiKeyCreate, ApiKeyPublic, KeyInfo, PlatformKeyCreate
from store import keys
from store.errors import NotFound

router = APIRouter(tags=["api keys"])


@router.post("/v1/enterprises/{enterprise_id}/api-keys", status_code=status.HTTP_201_CREATED,
             response_model=ApiKeyPublic)
async def create_api_key(enterprise_id: str, body: ApiKeyCreate, caller: Caller, db: Db
                         ) -> ApiKeyPublic:
    """A key of the enterprise: the platform administrator, or that enterprise's admin (the
    console's keys page) creates it; the key is in this answer only."""
    await visible_enterprise(db, enterprise_id, caller, write=True)
    key_id, key = await keys.create_api_key(db, enterprise_id, body.role)
    return ApiKeyPublic(key_id=key_id, key=key, enterprise_id=enterprise_id, role=body.role)


@router.post("/v1/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyPublic)
async def create_platform_key(body: PlatformKeyCreate, _: Admin, db: Db) -> ApiKeyPublic:
    """A platform_ops key: read-only across every tenant."""
    key_id, key = await keys.create_api_key(db, None, body.role)
    return ApiKeyPublic(key_id=key_id, key=key, enterprise_id=None, role=body.role)


@router.get("/v1/enterprises/{enterprise_id}/api-keys", response_model=list[KeyInfo],
            responses=FORBIDDEN)  # viewers may not list keys
async def list_keys(enterprise_id: str, caller: Caller, db: Db) -> list[KeyInfo]:
    await visible_enterprise(db, enterprise_id, caller, write=caller.role == "enterprise_viewer")
    return [KeyInfo.model_validate(k, from_attributes=True)
            for k in await keys.list_api_keys(db, enterprise_id)]


@router.delete("/v1/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(key_id: str, caller: Caller, db: Db) -> Response:
    """Revoke a key at once; admins any key, enterprise admins their enterprise's keys."""
    owner = await keys.key_of(db, key_id)
    if owner.enterprise_id is None:
        if caller.role != "admin":
            raise NotFound(f"api key {key_id!r}")
    else:
        own(caller, owner.enterprise_id, write=True)
    await keys.revoke_api_key(db, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
