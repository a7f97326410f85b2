"""Card orders through the delivery workflow (I-63): link a `card_order` product to the package
whose card purchases it delivers, and read what a project did to its order (cards shipped,
logistics no., activation, receipt). The node actions themselves are the engine's confirm
(`POST /v1/delivery/projects/{id}/runs/{run_id}/confirm` with the effect's detail)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PLATFORM_READERS, Caller, Db, Principal, forbid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.schemas.delivery_cards import CardFailure, CardOrderPublic, PackageLink, PackageLinkPublic
from store.delivery import card_orders
from store.errors import NotFound

router = APIRouter(prefix="/v1/delivery", tags=["delivery"], responses={**NOT_FOUND})
LINKERS = ("admin", "platform_operator", "vendor_admin")


def _sees(caller: Principal, found: card_orders.Parties) -> bool:
    if caller.role in PLATFORM_READERS:
        return True
    if caller.dl_tenant_id is not None and caller.dl_tenant_id in (found.vendor_id,
                                                                   found.provider_id):
        return True
    return caller.user_id is not None and caller.user_id == found.customer_user_id


@router.put("/products/{product_id}/package", response_model=PackageLinkPublic,
            responses={**FORBIDDEN, 409: {
                "description": "`not_a_card_order_product` (只有购卡类商品可以关联套餐), or the "
                               "package linked to another product"}})
async def link_package(product_id: str, body: PackageLink, caller: Caller, db: Db
                       ) -> PackageLinkPublic:
    """The package whose card purchases the card-order product delivers (vendor admin of
    the product, platform operator); paid purchases of it waiting start their projects."""
    if caller.role not in LINKERS:
        raise forbid("only the vendor admin or the platform operator links products")
    vendor = await card_orders.product_vendor(db, product_id)
    if vendor is None or (caller.role == "vendor_admin" and caller.dl_tenant_id != vendor):
        raise NotFound(f"product {product_id!r}")
    started = await card_orders.link_package(db, product_id, body.package_id)
    return PackageLinkPublic(product_id=product_id, package_id=body.package_id,
                             started=started)


@router.get("/projects/{project_id}/card-order", response_model=CardOrderPublic)
async def card_order(project_id: str, caller: Caller, db: Db) -> CardOrderPublic:
    """What the project did to its card order (the project's parties and platform staff)."""
    found = await card_orders.parties(db, project_id)
    record = await card_orders.get(db, project_id) if found is not None else None
    if found is None or record is None or not _sees(caller, found):
        raise NotFound(f"card order of project {project_id!r}")
    return CardOrderPublic(
        project_id=record.project_id, order_id=record.order_id, iccids=record.iccids,
        logistics_no=record.logistics_no, shipped_at=record.shipped_at,
        activation_asked_at=record.activation_asked_at, activated_at=record.activated_at,
        failures=[CardFailure(**f) for f in record.failures], received_at=record.received_at)
