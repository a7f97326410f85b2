"""The rules for users: which roles need a tenant, what a password must be, and the lock-out
after repeated failed logins.

Roles (specs/business.md X-01, AMB-56): the core's `admin`, `platform_ops` (reads everything,
changes nothing), `enterprise_admin` and `enterprise_viewer` keep their meaning; the business
modules add `platform_operator` (platform staff who change business objects: agents, packages,
top-level cost prices), `platform_finance` (approvals, reads), `agent_admin` / `agent_viewer`
(a reseller's people: they belong to one agent) and `end_user` (a C-end customer, who buys
through one agent)."""

from __future__ import annotations

import secrets
import string
from datetime import timedelta
from typing import Final, Literal, get_args

Role = Literal["admin", "platform_ops", "platform_operator", "platform_finance",
               "enterprise_admin", "enterprise_viewer", "agent_admin", "agent_viewer", "end_user",
               "vendor_admin", "vendor_pm", "provider_admin", "provider_staff", "customer"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
PLATFORM_ROLES: Final[tuple[Role, ...]] = ("admin", "platform_ops", "platform_operator",
                                           "platform_finance")
ENTERPRISE_ROLES: Final[tuple[Role, ...]] = ("enterprise_admin", "enterprise_viewer")
AGENT_ROLES: Final[tuple[Role, ...]] = ("agent_admin", "agent_viewer", "end_user")
# The delivery workflow's people (§6 I, X-01): they belong to one delivery tenant (a vendor that
# is also a provider, I-02); a delivery `customer` belongs to none.
DELIVERY_ROLES: Final[tuple[Role, ...]] = ("vendor_admin", "vendor_pm", "provider_admin",
                                           "provider_staff")
# Platform roles that change business objects (G1 pricing and agents: X-01, §7.2).
BUSINESS_WRITERS: Final[tuple[Role, ...]] = ("admin", "platform_operator")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_FAILURES = 5  # consecutive failed logins lock the login (store.users counts them)…
LOCK: Final = timedelta(minutes=15)  # …for this long
ONE_TIME_ALPHABET = string.ascii_letters + string.digits


def tenant_problem(role: Role, enterprise_id: str | None,
                   agent_id: str | None = None, dl_tenant_id: str | None = None) -> str | None:
    """Platform roles have no tenant; enterprise roles exactly one enterprise; agent roles
    (and end users, who buy through an agent) exactly one agent and no enterprise."""
    if role in DELIVERY_ROLES:
        if enterprise_id is not None or agent_id is not None or dl_tenant_id is None:
            return f"a {role} belongs to a delivery tenant: give its dl_tenant_id only"
        return None
    if dl_tenant_id is not None:
        return f"a {role} belongs to no delivery tenant: give no dl_tenant_id"
    if role == "customer":
        if enterprise_id is not None or agent_id is not None:
            return "a customer belongs to no tenant: give none"
        return None
    if role in PLATFORM_ROLES and (enterprise_id is not None or agent_id is not None):
        return f"a {role} belongs to the platform: give no tenant"
    if role in ENTERPRISE_ROLES and agent_id is not None:
        return f"an {role} belongs to an enterprise: give no agent"
    if role in ENTERPRISE_ROLES and enterprise_id is None:
        return f"an {role} belongs to an enterprise: give its tenant"
    if role in AGENT_ROLES and enterprise_id is not None:
        return f"an {role} belongs to an agent: give no enterprise"
    if role in AGENT_ROLES and agent_id is None:
        return f"an {role} belongs to an agent: give its agent_id"
    return None


def password_problem(password: str, login: str) -> str | None:
    """Why a new password is refused, or None: 10 to 256 characters, not only digits, not
    the login."""
    if len(password) < MIN_PASSWORD:
        return f"a password has at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    if password.isdigit():
        return "a password is not only digits"
    if login.lower() in password.lower():
        return "a password does not contain the login"
    return None


def one_time_password(length: int = 16) -> str:
    """A random password to hand over once; its owner must change it at first login."""
    return "".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(length))
