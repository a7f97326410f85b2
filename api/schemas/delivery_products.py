"""Products that need a delivery and their providers (§6 I-24 … I-28)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Ident, Strict


class ProductCreate(Strict):
    product_no: Ident
    name: str = Field(min_length=1, max_length=100)
    version: str = Field(default="", max_length=50)
    kind: Literal["service", "card_order"] = "service"
    vendor_id: str | None = Field(
        default=None, max_length=40,
        description="platform staff only: the vendor tenant (default `platform`)")


class TemplateBind(Strict):
    template_id: str = Field(max_length=64)


class ProviderBody(Strict):
    """A provider row; weight and max load as typed in their boxes (I-27 judges them)."""

    provider_id: str = Field(max_length=40)
    weight: int | float | str | None = Field(default=None, description="1–100, default 10")
    max_load: int | float | str | None = Field(default=None,
                                               description="0–2000, default 1000")


class ProviderPublic(BaseModel):
    provider_id: str
    name: str
    weight: int
    max_load: int
    current_load: int


class TenantPublic(BaseModel):
    tenant_id: str
    name: str


class DepartmentWarningPublic(BaseModel):
    provider_id: str
    department_id: str
    department_name: str
    message_zh: str
    message_en: str


class ProductPublic(BaseModel):
    product_id: str
    product_no: str
    vendor_id: str
    vendor_name: str
    name: str
    version: str
    kind: str
    template_id: str | None
    template_name: str | None
    provider_status: str = Field(description="I-25: 未配置 | 已配置")
    created_at: datetime


class ProductDetail(ProductPublic):
    providers: list[ProviderPublic]
    warnings: list[DepartmentWarningPublic] = Field(
        description="I-09: departments without a 客户经理 under a claim-scheme template")
    allowed_providers: list[TenantPublic] = Field(
        description="the providers the vendor may configure (itself and linked ones)")
