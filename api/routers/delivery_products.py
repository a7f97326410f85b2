"""Products that need a delivery and their providers (§6 I-24 … I-28, I-09,
SM-I-PRODUCT-PROVIDERS, §7.2 I).

Vendor admins create their tenant's products, bind a published template and save the
providers (weights, max loads) as a whole list; platform operators (and admin) do so for any
vendor (default the platform's own tenant). Vendor PMs read their vendor's products with the
providers' weights and loads (I-28); platform staff read all. Another vendor's product is not
found (404); a read-only role changing one gets 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.exceptions import RequestValidationError

from api.deps import PLATFORM_READERS, Caller, Db, Principal, forbid
from api.openapi import FORBIDDEN, NOT_FOUND, Responses
from api.routers.delivery_projects import rng
from api.schemas.delivery_products import (
    DepartmentWarningPublic,
    ProductCreate,
    ProductDetail,
    ProductPublic,
    ProviderBody,
    ProviderPublic,
    TemplateBind,
    TenantPublic,
)
from domain.delivery.products import provider_problems, provider_status
from store.delivery import products as store
from store.delivery.products import Product
from store.errors import NotFound

router = APIRouter(prefix="/v1/delivery/products", tags=["delivery"], responses=FORBIDDEN)
CONFLICT: Responses = {409: {"description": "the product no. is taken"}}
NOT_PUBLISHED: Responses = {409: {"description": "`template_not_published` (I-22, I-24)"}}
WRITERS = ("admin", "platform_operator")
VENDORS = ("vendor_admin", "vendor_pm")
NO_CLAIMER = ("部门“{}”没有“客户经理”角色的员工，无法认领订单",
              "Department “{}” has no 客户经理 to claim orders")


def reader(caller: Principal) -> str | None:
    """None for platform staff (every product), the vendor tenant for its people."""
    if caller.role in PLATFORM_READERS:
        return None
    if caller.role in VENDORS and caller.dl_tenant_id is not None:
        return caller.dl_tenant_id
    raise forbid(f"{caller.role} has no access to the product centre")


async def visible(db: Db, product_id: str, caller: Principal, *, write: bool = False
                  ) -> Product:
    tenant = reader(caller)
    found = await store.get_product(db, product_id)
    if tenant is not None and found.vendor_id != tenant:
        raise NotFound(f"product {product_id!r}")
    if write and caller.role not in (*WRITERS, "vendor_admin"):
        raise forbid(f"{caller.role} may not change products")
    return found


def public(p: Product) -> ProductPublic:
    return ProductPublic(
        product_id=p.product_id, product_no=p.product_no, vendor_id=p.vendor_id,
        vendor_name=p.vendor_name, name=p.name, version=p.version, kind=p.kind,
        template_id=p.template_id, template_name=p.template_name,
        provider_status=provider_status(p.providers), created_at=p.created_at)


async def detail(db: Db, product: Product) -> ProductDetail:
    warnings = [DepartmentWarningPublic(
        provider_id=w.provider_id, department_id=w.department_id,
        department_name=w.department_name, message_zh=NO_CLAIMER[0].format(w.department_name),
        message_en=NO_CLAIMER[1].format(w.department_name))
        for w in await store.department_warnings(db, product)]
    return ProductDetail(
        **public(product).model_dump(),
        providers=[ProviderPublic(**vars(p)) for p in await store.providers(
            db, product.product_id)],
        warnings=warnings,
        allowed_providers=[TenantPublic(**vars(t)) for t in await store.allowed_providers(
            db, product.vendor_id)])


@router.get("", response_model=list[ProductPublic])
async def list_products(
    caller: Caller, db: Db,
    product_no: Annotated[str | None, Query(max_length=64)] = None,
    name: Annotated[str | None, Query(max_length=100)] = None,
    template_name: Annotated[str | None, Query(max_length=100)] = None,
) -> list[ProductPublic]:
    """The product centre (I-25) with its filters: product no., product name, template name."""
    found = await store.list_products(db, reader(caller), product_no=product_no, name=name,
                                      template_name=template_name)
    return [public(p) for p in found]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductPublic,
             responses={**NOT_FOUND, **CONFLICT})
async def create_product(body: ProductCreate, caller: Caller, db: Db) -> ProductPublic:
    """A product of the caller's vendor tenant (platform staff: `vendor_id`, default
    `platform`); 409 when the product no. is taken."""
    if caller.role in WRITERS:
        vendor = body.vendor_id or "platform"
    elif caller.role == "vendor_admin" and caller.dl_tenant_id is not None:
        vendor = caller.dl_tenant_id
    else:
        raise forbid(f"{caller.role} may not create products")
    made = await store.create_product(db, product_no=body.product_no, vendor_id=vendor,
                                      name=body.name, version=body.version, kind=body.kind)
    return public(made)


@router.get("/{product_id}", response_model=ProductDetail, responses=NOT_FOUND)
async def get_product(product_id: str, caller: Caller, db: Db) -> ProductDetail:
    """A product with its providers' weights, max loads and current loads (I-28), the
    providers the vendor may choose, and the I-09 department warnings."""
    return await detail(db, await visible(db, product_id, caller))


@router.put("/{product_id}/template", response_model=ProductDetail,
            responses={**NOT_FOUND, **NOT_PUBLISHED})
async def bind_template(product_id: str, body: TemplateBind, caller: Caller, db: Db
                        ) -> ProductDetail:
    """Bind a published template (own or public; 409 `template_not_published`, I-24)."""
    await visible(db, product_id, caller, write=True)
    return await detail(db, await store.bind_template(db, product_id, body.template_id))


@router.put("/{product_id}/providers", response_model=ProductDetail, responses=NOT_FOUND)
async def set_providers(product_id: str, body: list[ProviderBody], caller: Caller, db: Db,
                        request: Request) -> ProductDetail:
    """Save the product's providers as a whole list (I-26, I-27): weight 1–100 (default
    10), max load 0–2000 (default 1000), integers; 422 naming each refused box. Then the
    provider queue is polled again for the product (I-35)."""
    product = await visible(db, product_id, caller, write=True)
    allowed = {t.tenant_id for t in await store.allowed_providers(db, product.vendor_id)}
    rows, problems = provider_problems([r.model_dump() for r in body], allowed)
    if problems:
        raise RequestValidationError([
            {"type": "business_rule", "loc": ["body", p.index, p.field], "msg": p.message_en,
             "code": p.code, "message_zh": p.message_zh, "message_en": p.message_en}
            for p in problems])
    await store.set_providers(db, product_id, rows)
    await store.on_providers_changed(db, product_id, rng(request))
    return await detail(db, await store.get_product(db, product_id))
