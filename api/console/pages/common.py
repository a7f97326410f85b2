"""What the pages share: finding the enterprise the viewer may see, and the guards every page
router carries, so that who may look and who may change is decided before a form is read (a
forged change by a read-only role is a 403 whatever it sends, another tenant's a 404)."""

from __future__ import annotations

from fastapi import Depends, Request

from api.console.auth import Page, Viewer, require_admin, require_platform
from api.deps import Db, visible_enterprise
from store.db import Conn
from store.enterprises import Enterprise

_READS = ("GET", "HEAD", "OPTIONS")


async def enterprise_for(db: Conn, enterprise_id: str, viewer: Viewer, *,
                         write: bool = False) -> Enterprise:
    """The enterprise if the viewer may see it (404 otherwise); with `write`, change it (403
    for a read-only role)."""
    return await visible_enterprise(db, enterprise_id, viewer.principal, write=write)


async def _enterprise_guard(request: Request, viewer: Page, db: Db) -> None:
    await enterprise_for(db, request.path_params["enterprise_id"], viewer,
                         write=request.method not in _READS)


async def _platform_guard(request: Request, viewer: Page) -> None:
    require_platform(viewer)
    if request.method not in _READS:
        require_admin(viewer)


# The `dependencies=` of a router under /console/e/{enterprise_id} and of one under /console/ops.
ENTERPRISE_GUARD = [Depends(_enterprise_guard)]
PLATFORM_GUARD = [Depends(_platform_guard)]
