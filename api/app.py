"""The FastAPI application: built by `create_app`, resources opened in its lifespan."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry

from api import console, errors, openapi
from api.deps import Resources
from api.limits import RateLimiter
from api.metrics import ApiMetrics
from api.payments import PaymentGateway
from api.routers import (
    admin,
    agents,
    card_sales,
    cards,
    commission_reports,
    commission_rules,
    commission_whatif,
    commissions,
    controls,
    dead_letters,
    delivery_cards,
    delivery_dashboard,
    delivery_files,
    delivery_inbox,
    delivery_people,
    delivery_products,
    delivery_projects,
    delivery_templates,
    delivery_views,
    enterprises,
    health,
    imports,
    keys,
    operators,
    orders,
    packages,
    people,
    pools,
    prices,
    refund_requests,
    reports,
    series,
    settlements,
    upstream,
    wallets,
    withdrawals,
    work_calendar,
)
from api.text import TEXT_CHECK
from core.clock import CLOCK
from core.settings import Settings
from domain.delivery.assign import rng_from_settings
from store import commission_imports
from store.clock import adopt, follow
from store.db import Reconnecting, create_pool
from store.delivery import card_orders
from store.delivery import reminders as delivery_reminders
from streams.publish import Publisher


def create_app(settings: Settings, registry: CollectorRegistry | None = None,
               payments: PaymentGateway | None = None) -> FastAPI:
    """Build the API; nothing connects until the ASGI server runs the lifespan. `payments`:
    the payment channel (G2), none: online payments answer 503 `payment_unavailable`."""
    metrics = ApiMetrics.create(registry or CollectorRegistry())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = create_pool(settings.require_database())
        publisher = Publisher(settings)
        await pool.open(wait=True, timeout=30)
        await publisher.start()
        limiter = RateLimiter(settings.api_rate_per_s, settings.api_rate_burst)
        app.state.resources = Resources(settings, pool, publisher, metrics, limiter)
        clock_db = Reconnecting(settings.require_database())
        await adopt(clock_db, CLOCK)
        clock = asyncio.create_task(follow(clock_db, CLOCK)) if settings.test_clock else None
        try:
            yield
        finally:
            if clock is not None:
                clock.cancel()
            await clock_db.close()
            await publisher.stop()
            await pool.close()

    # TEXT_CHECK: one check of every text input, for every route of the app (api/text.py)
    app = FastAPI(title="CardPulse", version="0.1.0", lifespan=lifespan,
                  dependencies=[TEXT_CHECK])
    errors.install(app)
    openapi.install(app)
    for module in (health, enterprises, keys, operators, cards, pools, series, upstream,
                   dead_letters, admin, people, controls, agents, packages, prices, orders,
                   wallets, withdrawals, reports, refund_requests, commission_rules,
                   commission_whatif, commission_reports, commissions, settlements,
                   delivery_projects, delivery_dashboard, work_calendar, delivery_inbox,
                   delivery_people, delivery_templates, delivery_products, delivery_views,
                   delivery_files):
        app.include_router(module.router)
    app.include_router(orders.notify_router)
    app.include_router(delivery_inbox.tenants)
    app.include_router(card_sales.router)
    app.include_router(delivery_cards.router)
    app.include_router(imports.router)
    app.state.payments = payments
    commission_imports.install(settings.orders_topic)
    delivery_reminders.publish_to(settings.orders_topic)
    app.state.delivery_rng = rng_from_settings(settings.test_random_seed)
    card_orders.install(orders_topic=settings.orders_topic,
                        delivery_topic=settings.delivery_topic,
                        stock=settings.card_stock_enterprise, rng=app.state.delivery_rng)
    console.install(app)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                      ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.requests.labels(request.method, path, str(response.status_code)).observe(
            time.perf_counter() - started)
        return response

    return app
