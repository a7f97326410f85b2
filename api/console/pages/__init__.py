"""The console's pages, one module per area; each has a `router`."""

from __future__ import annotations

from fastapi import APIRouter

from api.console.pages import (
    access,
    agent,
    card,
    cards,
    commission_agent,
    commission_imports,
    commission_platform,
    commission_rule_editor,
    commission_settlements,
    delivery_actions,
    delivery_dashboard,
    delivery_people,
    delivery_products,
    delivery_projects,
    delivery_settings,
    delivery_templates,
    health,
    me,
    money,
    money_catalogue,
    money_orders,
    money_refunds,
    ops,
    overview,
    pools,
    queues,
    session,
    settings,
)

ROUTERS: tuple[APIRouter, ...] = (
    session.router, overview.router, pools.router, cards.router, card.router,
    # the enterprise's settings (alerts and webhook, keys, users)
    settings.router, access.router,
    # the platform's pages
    ops.router, queues.router, health.router,
    # the platform's money pages
    money_catalogue.router, money_orders.router, money_refunds.router, money.router,
    commission_platform.router, commission_rule_editor.router, commission_imports.router,
    commission_settlements.router,
    # the money pages of an agent's people and of end users
    agent.router, commission_agent.router, me.router,
    # the delivery workflow's pages (§6 I): the project centre, templates, products, the
    # dashboard, its system settings, people and a person's inbox
    delivery_projects.router, delivery_actions.router, delivery_dashboard.router,
    delivery_templates.router, delivery_products.router, delivery_settings.router,
    delivery_people.router,
)
