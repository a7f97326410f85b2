"""The rules for users: which roles need a tenant, what a password must be, and the lock-out
after repeated failed logins."""

from __future__ import annotations

import secrets
import string
from datetime import timedelta
from typing import Final, Literal, get_args

Role = Literal["admin", "platform_ops", "enterprise_admin", "enterprise_viewer"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
PLATFORM_ROLES: Final[tuple[Role, ...]] = ("admin", "platform_ops")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_FAILURES = 5  # consecutive failed logins lock the login (store.users counts them)…
LOCK: Final = timedelta(minutes=15)  # …for this long
ONE_TIME_ALPHABET = string.ascii_letters + string.digits


def tenant_problem(role: Role, enterprise_id: str | None) -> str | None:
    """Platform roles have no tenant; enterprise roles exactly one."""
    if role in PLATFORM_ROLES and enterprise_id is not None:
        return f"a {role} belongs to the platform: give no tenant"
    if role not in PLATFORM_ROLES and enterprise_id is None:
        return f"an {role} belongs to an enterprise: give its tenant"
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
