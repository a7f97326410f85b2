"""The delivery workflow's parties and people (§6.1, §6.4): tenants, vendor–provider links,
departments, delivery users with their one-time password, staff loads and statuses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictFloat, StrictInt

from api.schemas.common import Ident, Strict

TenantId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,39}$", examples=["t1"])]
DeliveryRole = Literal["vendor_admin", "vendor_pm", "provider_admin", "provider_staff"]


class TenantCreate(Strict):
    tenant_id: TenantId
    name: str = Field(min_length=1, max_length=100)
    agent_id: Ident | None = Field(default=None, description="the agent this tenant is")


class TenantPublic(BaseModel):
    tenant_id: str
    name: str
    agent_id: str | None
    created_at: datetime
    providers: list[str] = Field(description="linked providers (I-03); the tenant itself "
                                             "always delivers its own products (I-02)")


class DepartmentCreate(Strict):
    name: str = Field(min_length=1, max_length=50)
    parent_id: str | None = Field(default=None, max_length=64,
                                  description="none: right under the provider")
    tenant_id: TenantId | None = Field(default=None,
                                       description="the platform admin names the provider")


class DepartmentPublic(BaseModel):
    department_id: str
    provider_id: str
    parent_id: str | None
    name: str
    depth: int
    account_managers: int = Field(description="its users with the 客户经理 role; 0 = nobody "
                                              "can claim orders for it (I-09)")


class DeliveryUserCreate(Strict):
    login: str = Field(min_length=1, max_length=64,
                       description="`name` or `name@<tenant>`: the suffix is added (I-06)")
    role: DeliveryRole
    display_name: str = Field(min_length=1, max_length=50)
    tenant_id: TenantId | None = Field(default=None, description="default: the caller's")
    department_id: str | None = Field(default=None, max_length=64)
    business_roles: list[Annotated[str, Field(max_length=20)]] = Field(
        default_factory=list, max_length=10,
        description="provider_staff: one or more preset provider roles (I-05)")
    mobile: str | None = Field(default=None, max_length=20)
    landline: str | None = Field(default=None, max_length=30,
                                 description="area code-number-extension, e.g. 010-12345678-12")
    email: str | None = Field(default=None, max_length=254,
                              description="where the person's reminders are also emailed (X-04)")


class PersonPublic(BaseModel):
    user_id: str
    login: str
    role: DeliveryRole
    dl_tenant_id: str
    display_name: str | None
    department_id: str | None
    department_name: str | None
    mobile: str | None
    landline: str | None
    email: str | None
    business_roles: list[str]
    max_load: int
    accepting: bool = Field(description="order-taking status: true 正常, false 暂停")
    current_load: int = Field(description="live holds on projects in progress or paused")
    must_change_password: bool
    created_at: datetime


class OneTimePassword(BaseModel):
    login: str
    one_time_password: str = Field(description="8 characters, shown only in this answer; "
                                               "changed at first login (I-07)")
    message_zh: str
    message_en: str


class DeliveryUserCreated(PersonPublic, OneTimePassword):
    pass


class LoadSet(Strict):
    user_id: str = Field(max_length=64)
    max_load: StrictInt | StrictFloat | None = Field(
        default=None, description="an integer 0-50 (a decimal is refused by the rule's message)")
    accepting: bool | None = None


class AcceptingSet(Strict):
    accepting: bool
