"""What every page's frame shows: the navigation for the viewer's role, the enterprise being
looked at, the language switch, and the time zone the page's times are written in."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi.routing import APIRoute

from api.console.auth import Viewer
from api.console.i18n import N_
from api.console.render import DEFAULT_TZ
from store.enterprises import Enterprise


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str  # an English message, translated when shown
    path: str  # `{eid}` stands for the enterprise being looked at


ENTERPRISE_NAV = (
    NavItem("overview", N_("Overview"), "/console/e/{eid}"),
    NavItem("pools", N_("Pools"), "/console/e/{eid}/pools"),
    NavItem("cards", N_("Cards"), "/console/e/{eid}/cards"),
    NavItem("alerts", N_("Alerts and webhook"), "/console/e/{eid}/alerts"),
    NavItem("keys", N_("API keys"), "/console/e/{eid}/keys"),
    NavItem("users", N_("Users"), "/console/e/{eid}/users"),
)
OPS_NAV = (
    NavItem("enterprises", N_("Enterprises"), "/console/ops/enterprises"),
    NavItem("operators", N_("Operator push secrets"), "/console/ops/operators"),
    NavItem("dead_letters", N_("Dead letters"), "/console/ops/dead-letters"),
    NavItem("failed", N_("Failed commands"), "/console/ops/failed-commands"),
    NavItem("health", N_("Platform health"), "/console/ops/health"),
)
PLATFORM_MONEY_NAV = (
    NavItem("money_packages", N_("Packages and purchase prices"), "/console/ops/money/packages"),
    NavItem("money_agents", N_("Agents"), "/console/ops/money/agents"),
    NavItem("money_orders", N_("Orders"), "/console/ops/money/orders"),
    NavItem("money_withdrawals", N_("Withdrawals to approve"), "/console/ops/money/withdrawals"),
    NavItem("money_refunds", N_("Refunds to approve"), "/console/ops/money/refunds"),
    NavItem("money_report", N_("Money report"), "/console/ops/money/report"),
    NavItem("commissions", N_("Commissions"), "/console/ops/money/commissions"),
    NavItem("commission_rules", N_("Commission rules"), "/console/ops/money/commission-rules"),
    NavItem("commission_approvals", N_("Commission unfreezes to approve"),
            "/console/ops/money/commission-approvals"),
    NavItem("activations", N_("Monthly activations"), "/console/ops/money/activations"),
    NavItem("imports", N_("Imports"), "/console/ops/money/imports"),
    NavItem("settlements", N_("Number-card settlements"), "/console/ops/money/settlements"),
)
# An agent's people (§7.2), `{aid}` their agent; an end user's own pages.
AGENT_NAV = (
    NavItem("prices", N_("Price book"), "/console/a/{aid}/prices"),
    NavItem("orders", N_("Orders"), "/console/a/{aid}/orders"),
    NavItem("wallet", N_("Wallet and statement"), "/console/a/{aid}/wallet"),
    NavItem("withdrawals", N_("Withdrawals"), "/console/a/{aid}/withdrawals"),
    NavItem("commissions", N_("Commissions"), "/console/a/{aid}/commissions"),
    NavItem("commission_rules", N_("Commission rules"), "/console/a/{aid}/commission-rules"),
    NavItem("activations", N_("Monthly activations"), "/console/a/{aid}/activations"),
)
ME_NAV = (
    NavItem("buy", N_("Buy a package"), "/console/me/buy"),
    NavItem("my_wallet", N_("Card wallet"), "/console/me/wallet"),
    NavItem("my_orders", N_("My orders"), "/console/me/orders"),
)
AGENT_ROLES = ("agent_admin", "agent_viewer")
# The delivery workflow's pages (§6 I), each for the roles of §7.2 "I delivery" that may open it
# 项目中心, then the system settings, 已购服务).
SETTINGS_READERS = ("admin", "platform_ops", "platform_operator", "platform_finance",
                    "vendor_admin", "provider_admin")
INBOX_OWNERS = ("vendor_admin", "vendor_pm", "provider_admin", "provider_staff", "customer")
DASHBOARD_READERS = (*SETTINGS_READERS, "vendor_pm")  # §7.2: the vendor's and provider's


@dataclass(frozen=True)
class DeliveryItem:
    """A delivery menu entry (X-02): its group, the roles that see it, and its page."""

    key: str
    group: str
    label: str
    path: str
    roles: tuple[str, ...]


# X-02 menus per role. The vendor admin is its tenant's provider admin too (I-02), so it sees
# both admins' entries. Pages of other areas are listed here by path and shown only once their
# route exists (`delivery_nav`).
_VA, _PM, _PA, _ST = "vendor_admin", "vendor_pm", "provider_admin", "provider_staff"
_PLATFORM = ("admin", "platform_operator")
_READERS = ("platform_ops", "platform_finance")
DELIVERY_NAV = (
    DeliveryItem("delivery_products", N_("Product centre"), N_("Product centre"),
                 "/console/delivery/products", (_VA, _PM, *_PLATFORM)),
    DeliveryItem("delivery_projects", N_("Project centre"), N_("Project management"),
                 "/console/delivery/projects", (_VA, _PM, _PA, *_PLATFORM, *_READERS)),
    DeliveryItem("delivery_mine", N_("Project centre"), N_("My projects"),
                 "/console/delivery/mine", (_VA, _PA, _ST)),
    DeliveryItem("delivery_claim", N_("Project centre"), N_("Claim an order"),
                 "/console/delivery/claim", (_VA, _PA, _ST)),
    DeliveryItem("delivery_queue", N_("Project centre"), N_("Queue"), "/console/delivery/queue",
                 (_VA, _PM, _PA, *_PLATFORM, *_READERS)),
    DeliveryItem("dl_dashboard", N_("Project centre"), N_("Dashboard"),
                 "/console/delivery/dashboard", (_VA, _PM, _PA, *_PLATFORM, *_READERS)),
    DeliveryItem("delivery_templates", N_("Template centre"), N_("Service-flow templates"),
                 "/console/delivery/templates", (_VA, *_PLATFORM)),
    DeliveryItem("inbox", N_("System settings"), N_("Inbox"), "/console/delivery/inbox",
                 INBOX_OWNERS),
    DeliveryItem("dl_me", N_("System settings"), N_("Personal information"),
                 "/console/delivery/me", (_VA, _PM, _PA, _ST)),
    DeliveryItem("dl_users", N_("System settings"), N_("User management"),
                 "/console/delivery/users", (_VA, _PA)),
    DeliveryItem("roles", N_("System settings"), N_("Role management"),
                 "/console/delivery/roles", SETTINGS_READERS),
    DeliveryItem("holidays", N_("System settings"), N_("Holiday settings"),
                 "/console/delivery/holidays", SETTINGS_READERS),
    DeliveryItem("message_templates", N_("System settings"),
                 N_("Message template settings"), "/console/delivery/message-templates",
                 SETTINGS_READERS),
    DeliveryItem("dl_loads", N_("System settings"), N_("Max load settings"),
                 "/console/delivery/loads", (_VA, _PA)),
    DeliveryItem("delivery_purchased", N_("Purchased services"), N_("Purchased services"),
                 "/console/delivery/purchased", (_VA, _PM, _PA, _ST, "customer")),
)


@cache
def _console_pages() -> frozenset[str]:
    """The GET paths of the console's pages (imported late: the pages import this module)."""
    from api.console.pages import ROUTERS  # late: a cycle otherwise

    return frozenset(route.path for router in ROUTERS for route in router.routes
                     if isinstance(route, APIRoute) and "GET" in (route.methods or set()))


def delivery_nav(viewer: Viewer) -> list[tuple[str, list[DeliveryItem]]]:
    """The viewer's delivery menus by group (X-02), only the pages that exist."""
    pages = _console_pages()
    groups: dict[str, list[DeliveryItem]] = {}
    for item in DELIVERY_NAV:
        if viewer.principal.role in item.roles and item.path in pages:
            groups.setdefault(item.group, []).append(item)
    return list(groups.items())


def money_nav(viewer: Viewer) -> list[tuple[NavItem, str]]:
    """The agent's pages for its people, an end user's own pages; nothing for anyone else."""
    agent_id = viewer.principal.agent_id
    if agent_id is None:
        return []
    if viewer.principal.role in AGENT_ROLES:
        return [(item, item.path.format(aid=agent_id)) for item in AGENT_NAV]
    if viewer.principal.role == "end_user":
        return [(item, item.path) for item in ME_NAV]
    return []


def frame(viewer: Viewer, section: str, enterprise: Enterprise | None = None,
          **values: Any) -> dict[str, Any]:
    """The context of a page: the viewer, its navigation, the section shown as current, and
    the enterprise (whose time zone the page's times use)."""
    enterprise_nav = []
    if enterprise is not None:
        enterprise_nav = [(item, item.path.format(eid=enterprise.enterprise_id))
                          for item in ENTERPRISE_NAV]
    ops_nav = [(item, item.path) for item in OPS_NAV] if viewer.platform else []
    platform_money = ([(item, item.path) for item in PLATFORM_MONEY_NAV] if viewer.platform
                      else [])
    return {"me": viewer, "section": section, "enterprise": enterprise,
            "enterprise_nav": enterprise_nav, "ops_nav": ops_nav, "money_nav": money_nav(viewer),
            "platform_money_nav": platform_money, "delivery_nav": delivery_nav(viewer),
            "tz": enterprise.timezone if enterprise is not None else DEFAULT_TZ,
            "can_change": enterprise is not None and viewer.can_change(enterprise.enterprise_id),
            **values}
