"""The caller's 站内信 (X-04, I-20): delivery reminders the engine recorded for them, unread
first; marking one read. Only people signed in have an inbox (an API key has none). And a
delivery tenant's webhook, where its reminders on the webhook channel are POSTed, signed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import Caller, Db, Principal, forbid, is_business_writer
from api.openapi import FORBIDDEN, NOT_FOUND
from api.schemas.delivery_inbox import (
    EmailPublic,
    EmailSet,
    Inbox,
    NotificationPublic,
    TenantWebhook,
)
from domain.delivery.mail import check_email
from store.delivery import emails, inbox, webhooks
from store.errors import NotFound

router = APIRouter(prefix="/v1/delivery/notifications", tags=["delivery"],
                   responses=FORBIDDEN)


def _person(caller: Principal) -> str:
    if caller.user_id is None:
        raise forbid("only a person signed in has an inbox")
    return caller.user_id


@router.get("", response_model=Inbox)
async def my_notifications(
        caller: Caller, db: Db, unread_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Inbox:
    """My reminders, unread first (newest first within each), with the unread count."""
    user = _person(caller)
    rows = await inbox.mine(db, user, unread_only=unread_only, limit=limit, offset=offset)
    return Inbox(unread=await inbox.unread(db, user), email=await emails.email_of(db, user),
                 items=[NotificationPublic(**asdict(r)) for r in rows])


@router.put("/email", response_model=EmailPublic)
async def set_my_email(body: EmailSet, caller: Caller, db: Db) -> EmailPublic:
    """Where my reminders are also emailed (X-04): every reminder that reaches my inbox goes
    there too, from the next one on; null or empty stops it."""
    user = _person(caller)
    email = check_email(body.email)
    await emails.set_email(db, user, email)
    return EmailPublic(email=email)


@router.post("/{notification_id}/read", status_code=status.HTTP_204_NO_CONTENT,
             responses=NOT_FOUND)
async def mark_read(notification_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
                    caller: Caller, db: Db) -> None:
    """Mark one of my reminders read (another person's is not found)."""
    await inbox.mark_read(db, _person(caller), notification_id)


tenants = APIRouter(prefix="/v1/delivery/tenants", tags=["delivery"], responses=FORBIDDEN)
TENANT_ADMINS = ("vendor_admin", "provider_admin")


@tenants.put("/{tenant_id}/webhook", status_code=status.HTTP_204_NO_CONTENT)
async def set_webhook(tenant_id: Annotated[str, Path(max_length=40)], body: TenantWebhook,
                      caller: Caller, db: Db) -> None:
    """The tenant's webhook for reminders: its own admins, or platform operators."""
    if not is_business_writer(caller):
        if caller.role not in TENANT_ADMINS:
            raise forbid(f"{caller.role} may not set a delivery tenant's webhook")
        if caller.dl_tenant_id != tenant_id:
            raise NotFound(f"delivery tenant {tenant_id!r}")
    await webhooks.set_webhook(db, tenant_id, body.webhook_url, body.webhook_secret)
