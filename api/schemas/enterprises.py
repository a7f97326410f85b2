"""Enterprises (tenants) and their alerts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Ident, Strict, TimeZone

Name = Annotated[str, Field(min_length=1, max_length=200)]
Secret = Annotated[str, Field(min_length=16, max_length=256)]


class EnterpriseCreate(Strict):
    enterprise_id: Ident
    name: Name
    timezone: TimeZone = "Asia/Shanghai"


class EnterpriseUpdate(Strict):
    """Only the fields sent change; `null` removes the webhook."""

    name: Name | None = None
    timezone: TimeZone | None = None
    webhook_url: Annotated[str, Field(pattern=r"^https?://", max_length=2000)] | None = None
    webhook_secret: Secret | None = None


class EnterprisePublic(BaseModel):
    enterprise_id: str
    name: str
    timezone: str
    webhook_url: str | None = None


class AlertPublic(BaseModel):
    alert_id: int
    kind: Literal["card_package", "pool"]
    subject: str
    cycle: str
    percent: int
    used_bytes: int
    limit_bytes: int
    created_at: str
    webhook_state: str
