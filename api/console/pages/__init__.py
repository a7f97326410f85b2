"""The console's pages, one module per area; each has a `router`."""

from __future__ import annotations

from fastapi import APIRouter

from api.console.pages import access, health, ops, overview, pools, queues, session, settings

ROUTERS: tuple[APIRouter, ...] = (session.router, overview.router,
                                  pools.router)
# The enterprise's settings (alerts and webhook, keys, users) and the platform's pages.
ROUTERS += (settings.router, access.router, ops.router, queues.router, health.router)
