"""What every page's frame shows: the navigation for the viewer's role, the enterprise being
looked at, the language switch, and the time zone the page's times are written in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
_PLATFORM = ("admin", "platform_ops", "platform_operator", "platform_finance")
PROJECT_READERS = ("vendor_admin", "vendor_pm", "provider_admin", *_PLATFORM)
DELIVERY_NAV: tuple[tuple[NavItem, tuple[str, ...]], ...] = (
    (NavItem("delivery_projects", N_("Project management"), "/console/delivery/projects"),
     PROJECT_READERS),
    (NavItem("delivery_mine", N_("My projects"), "/console/delivery/mine"),
     ("provider_admin", "provider_staff")),
    (NavItem("delivery_claim", N_("Claim an order"), "/console/delivery/claim"),
     ("provider_admin", "provider_staff")),
    (NavItem("delivery_queue", N_("Queue"), "/console/delivery/queue"), PROJECT_READERS),
    (NavItem("dl_dashboard", N_("Dashboard"), "/console/delivery/dashboard"), DASHBOARD_READERS),
    (NavItem("inbox", N_("Inbox"), "/console/delivery/inbox"), INBOX_OWNERS),
    (NavItem("holidays", N_("Holiday settings"), "/console/delivery/holidays"),
     SETTINGS_READERS),
    (NavItem("message_templates", N_("Message templates"),
             "/console/delivery/message-templates"), SETTINGS_READERS),
    (NavItem("roles", N_("Role management"), "/console/delivery/roles"), SETTINGS_READERS),
    (NavItem("delivery_purchased", N_("Purchased services"), "/console/delivery/purchased"),
     ("vendor_admin", "vendor_pm", "provider_admin", "provider_staff", "customer")),
)


def delivery_nav(viewer: Viewer) -> list[tuple[NavItem, str]]:
    """The delivery pages the viewer's role may open: the inbox for those who get reminders
    (the delivery roles and customers), the system settings for their readers."""
    return [(item, item.path) for item, roles in DELIVERY_NAV if viewer.principal.role in roles]


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
