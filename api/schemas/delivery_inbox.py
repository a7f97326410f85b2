"""A person's 站内信: delivery reminders on the in-app channel (X-04)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.common import Strict
from api.schemas.enterprises import Secret, WebhookUrl


class NotificationPublic(BaseModel):
    notification_id: int
    project_id: str
    order_no: str
    run_id: int | None
    trigger: str
    template_name: str
    body_zh: str
    body_en: str
    created_at: datetime
    read_at: datetime | None


class Inbox(BaseModel):
    unread: int
    email: str | None = Field(description="where my reminders are also emailed (X-04); null: not")
    items: list[NotificationPublic]


class EmailSet(Strict):
    """My address for reminder emails; null or empty: none (the inbox keeps them all)."""

    email: str | None = Field(max_length=254)


class EmailPublic(BaseModel):
    email: str | None


class TenantWebhook(Strict):
    """Where a delivery tenant's webhook reminders go (`null` URL: none), signed with the
    secret (HMAC-SHA256 over `timestamp.body`, as the quota alerts)."""

    webhook_url: WebhookUrl | None
    webhook_secret: Secret | None = None
