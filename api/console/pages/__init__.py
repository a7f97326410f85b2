"""The console's pages, one module per area; each has a `router`."""

from __future__ import annotations

from fastapi import APIRouter

from api.console.pages import overview, pools, session

ROUTERS: tuple[APIRouter, ...] = (session.router, overview.router,
                                  pools.router)
