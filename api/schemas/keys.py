"""API keys: made for an enterprise or the platform, listed without their secret."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Strict

Role = Literal["enterprise_admin", "enterprise_viewer"]


class ApiKeyCreate(Strict):
    role: Role


class PlatformKeyCreate(Strict):
    role: Literal["platform_ops"]


class ApiKeyPublic(BaseModel):
    key_id: str
    key: str = Field(description="the bearer token; shown only in this answer")
    enterprise_id: str | None
    role: Literal["enterprise_admin", "enterprise_viewer", "platform_ops"]


class KeyInfo(BaseModel):
    key_id: str
    enterprise_id: str | None
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
