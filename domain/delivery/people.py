"""The parties and people of the delivery workflow (specs/business.md §6.1, §6.4, §7.2 "I
delivery"), as pure decisions: who may see or manage a tenant's people, which roles each
administrator may create, the fields of a new user (login suffix, landline, mobile), the
business roles a new user carries, and a staff member's max load (0–50).

Scope answers are `ok`, `forbidden` (a role that may not do this: 403) or `hidden` (another
tenant: 404), so the API maps them once."""

from __future__ import annotations

import re
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Final, Literal

from domain.people.rules import DELIVERY_ROLES, Role
from domain.refusals import Refusal

Scope = Literal["ok", "forbidden", "hidden"]
MAX_STAFF_LOAD: Final = 50
MAX_LOGIN: Final = 64  # as every login (users.login)
PASSWORD_LENGTH: Final = 8  # I-07: the one-time password of a delivery user
CREATED_ZH: Final = "用户创建成功! 以下是账号信息, 请牢记!"
CREATED_EN: Final = "User created! Here is the account information, keep it safe!"
# Platform people who read every tenant's people; only `admin` changes them (§7.2: the
# platform operator keeps tenants and links, not people).
PLATFORM_READERS: Final = ("admin", "platform_ops", "platform_operator", "platform_finance")
TENANT_KEEPERS: Final = ("admin", "platform_operator")  # tenants and vendor–provider links
# The tenant's administrators: the vendor admin is also its provider admin (I-02).
TENANT_ADMINS: Final = ("vendor_admin", "provider_admin")
LOAD_CARRIERS: Final = ("vendor_admin", "provider_admin", "provider_staff")  # I-30
# Which delivery roles each role may create (I-04, I-05; admin: the first vendor admin, and
# anyone else).
CREATES: Final[dict[str, tuple[Role, ...]]] = {
    "admin": DELIVERY_ROLES,
    "vendor_admin": ("vendor_pm", "provider_staff"),
    "provider_admin": ("provider_staff",),
}
# Business roles a user of each account role carries without choosing (I-08 presets).
FIXED_BUSINESS_ROLES: Final[dict[str, tuple[str, ...]]] = {
    "vendor_admin": ("厂商管理员", "服务商管理员"),
    "provider_admin": ("服务商管理员",),
    "vendor_pm": ("项目经理",),
}
ADMIN_ONLY_ROLE: Final = "服务商管理员"  # the main account's role, never a staff member's


def _scope(caller_role: str, caller_tenant: str | None, tenant_id: str, *,
           write: bool) -> Scope:
    if caller_role in PLATFORM_READERS:
        return "ok" if caller_role == "admin" or not write else "forbidden"
    if caller_role not in DELIVERY_ROLES:
        return "forbidden"
    if caller_tenant != tenant_id:
        return "hidden"
    return "ok" if caller_role in TENANT_ADMINS else "forbidden"


def people_scope(caller_role: str, caller_tenant: str | None, tenant_id: str, *,
                 write: bool) -> Scope:
    """Read or manage a tenant's users and departments (§7.2: "users, departments"): its
    administrators (the vendor admin for its PMs and, as provider admin, its staff; the
    provider admin for its staff) and the platform admin; platform readers read; vendor PMs
    and staff have no part in it (403)."""
    return _scope(caller_role, caller_tenant, tenant_id, write=write)


def load_scope(caller_role: str, caller_tenant: str | None, tenant_id: str, *,
               write: bool) -> Scope:
    """Read or set the staff loads and statuses of a tenant (I-30): the provider admin (and the
    vendor admin, the tenant's provider admin by I-02) and the platform admin change them,
    platform readers read them; vendor PMs and staff have no part in it (403), staff toggle
    only their own status (`may_toggle_own`)."""
    return _scope(caller_role, caller_tenant, tenant_id, write=write)


def may_create(caller_role: str, new_role: str) -> bool:
    """Whether `caller_role` creates users of `new_role` (its tenant checked apart)."""
    return new_role in CREATES.get(caller_role, ())


def may_keep_tenants(caller_role: str) -> bool:
    """Tenants and vendor–provider links are kept by platform operations (I-03)."""
    return caller_role in TENANT_KEEPERS


def may_read_tenants(caller_role: str) -> bool:
    return caller_role in PLATFORM_READERS or caller_role in DELIVERY_ROLES


def may_toggle_own(caller_role: str) -> bool:
    """SM-I-STAFF: the people who receive projects open and close their own order-taking."""
    return caller_role in LOAD_CARRIERS


class LoginInvalid(Refusal):
    code = "login_suffix"
    message_zh = "登录名须以 @<租户> 结尾"
    message_en = "The login must end with @<tenant>"
    field = "login"


class LandlineInvalid(Refusal):
    code = "landline_invalid"
    message_zh = "座机格式为 区号-号码-分机号"
    message_en = "A landline is written area code-number-extension"
    field = "landline"


class MobileInvalid(Refusal):
    code = "mobile_invalid"
    message_zh = "请输入正确的手机号码"
    message_en = "Enter a valid mobile number"
    field = "mobile"


class LoadInvalid(Refusal):
    code = "staff_load_invalid"
    message_zh = "持单量可设置范围为0-50"
    message_en = "Max load ranges 0-50"
    field = "max_load"


class BusinessRolesInvalid(Refusal):
    code = "business_roles_invalid"
    message_zh = "请选择平台预置的服务商角色"
    message_en = "Choose preset provider roles"
    field = "business_roles"


_LANDLINE = re.compile(r"^0\d{2,3}-\d{7,8}(-\d{1,6})?$")
_MOBILE = re.compile(r"^1\d{10}$")
_LOCAL = re.compile(r"^[A-Za-z0-9._-]{1,24}$")


def full_login(login: str, tenant_id: str) -> str:
    """The login with its tenant suffix (I-06): `zhang` → `zhang@t1`; `zhang@t1` stays; any
    other suffix is refused."""
    local, at, suffix = login.partition("@")
    full = f"{local}@{tenant_id}"
    if (at and suffix != tenant_id) or not _LOCAL.match(local) or len(full) > MAX_LOGIN:
        raise LoginInvalid(f"{login!r} is not <name>@{tenant_id}")
    return full


def check_landline(value: str | None) -> str | None:
    """Area code – number – extension (I-06), e.g. `010-12345678-123`; the extension may be
    left out; empty = none."""
    if not value:
        return None
    if not _LANDLINE.match(value):
        raise LandlineInvalid(f"landline {value!r}")
    return value


def check_mobile(value: str | None) -> str | None:
    if not value:
        return None
    if not _MOBILE.match(value):
        raise MobileInvalid(f"mobile {value!r}")
    return value


def business_roles(account_role: str, chosen: Collection[str],
                   provider_presets: Collection[str]) -> list[str]:
    """The business roles a new user carries: fixed for the admins and PMs; a staff member's
    chosen ones (one or more, I-05), each a preset provider role (I-08) but the admin's own."""
    fixed = FIXED_BUSINESS_ROLES.get(account_role)
    if fixed is not None:
        return list(fixed)
    picked = list(dict.fromkeys(chosen))
    if not picked or any(r not in provider_presets or r == ADMIN_ONLY_ROLE for r in picked):
        raise BusinessRolesInvalid(f"business roles {picked!r}")
    return picked


def staff_load(value: object, field: str = "max_load") -> int:
    """A staff member's max load: an integer 0–50 (I-30); anything else is refused with the
    spec's message."""
    if isinstance(value, bool):
        raise LoadInvalid(f"max load {value!r}", field=field)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise LoadInvalid(f"max load {value!r}", field=field) from None
    if number != number.to_integral_value() or not 0 <= number <= MAX_STAFF_LOAD:
        raise LoadInvalid(f"max load {value!r}", field=field)
    return int(number)
