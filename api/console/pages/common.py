"""What the pages of an enterprise share: finding the enterprise the viewer may see."""

from __future__ import annotations

from api.console.auth import Viewer
from api.deps import visible_enterprise
from store.db import Conn
from store.enterprises import Enterprise


async def enterprise_for(db: Conn, enterprise_id: str, viewer: Viewer, *,
                         write: bool = False) -> Enterprise:
    """The enterprise if the viewer may see it (404 otherwise); with `write`, change it (403
    for a read-only role)."""
    return await visible_enterprise(db, enterprise_id, viewer.principal, write=write)
