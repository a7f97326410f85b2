"""The console's pages, one module per area; each has a `router`."""

from __future__ import annotations

from fastapi import APIRouter

from api.console.pages import card, cards, overview, session

ROUTERS: tuple[APIRouter, ...] = (session.router, overview.router)
ROUTERS += (cards.router, card.router)
