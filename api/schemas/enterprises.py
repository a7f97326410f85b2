"""Enterprises (tenants) and their alerts."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx
from pydantic import AfterValidator, BaseModel, Field, HttpUrl, TypeAdapter, ValidationError

from api.schemas.common import Ident, Strict, TimeZone

Name = Annotated[str, Field(min_length=1, max_length=200)]
Secret = Annotated[str, Field(min_length=16, max_length=256)]
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _webhook_url(value: str) -> str:
    """An absolute http(s) URL with a host, by pydantic's rules and by those of the client that
    will POST to it (httpx), which are stricter in places (`http:///x`, some IDNs); kept as
    sent."""
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"must be an absolute http(s) URL with a host: "
                         f"{exc.errors()[0]['msg']}") from None
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValueError(f"must be a URL the webhook sender can use: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an absolute http(s) URL with a host")
    return value


WebhookUrl = Annotated[str, Field(pattern=r"^https?://", max_length=2000),
                       AfterValidator(_webhook_url)]


class EnterpriseCreate(Strict):
    enterprise_id: Ident
    name: Name
    timezone: TimeZone = "Asia/Shanghai"


class EnterpriseUpdate(Strict):
    """Only the fields sent change; `null` removes the webhook."""

    name: Name | None = None
    timezone: TimeZone | None = None
    webhook_url: WebhookUrl | None = None
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
