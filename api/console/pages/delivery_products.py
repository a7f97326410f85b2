"""The product centre of the delivery console (§6 I-24 … I-28, I-09, §7.2 I): products with
their template and provider status (未配置 → 配置服务商, 已配置 → 查看 / 编辑) and filters; a
product's page binds a published template and sets the providers — each ticked provider with a
weight (default 10) and a max load (default 1000), I-27's refusals at their boxes. Vendor PMs
read the same page without the forms (I-28). Changes go through the API's handlers with the
viewer's principal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from api.console.auth import Page, Viewer
from api.console.i18n import lang_of
from api.console.layout import frame
from api.console.pages.forms import problem_of
from api.console.pages.money import refused
from api.console.render import html
from api.deps import Db
from api.routers import delivery_products as api
from api.routers import delivery_templates as templates_api
from api.schemas.delivery_products import ProductCreate, ProviderBody, TemplateBind
from domain.delivery.products import DEFAULT_MAX_LOAD, DEFAULT_WEIGHT
from domain.refusals import Refusal
from store.delivery import products
from store.errors import AlreadyExists

router = APIRouter(prefix="/console/delivery/products")
BASE = "/console/delivery/products"
WRITERS = ("admin", "platform_operator", "vendor_admin")


def _may_write(viewer: Viewer) -> bool:
    return viewer.principal.role in WRITERS


@router.get("")
async def centre(request: Request, viewer: Page, db: Db,
                 product_no: Annotated[str | None, Query(max_length=64)] = None,
                 name: Annotated[str | None, Query(max_length=100)] = None,
                 template_name: Annotated[str | None, Query(max_length=100)] = None,
                 ) -> HTMLResponse:
    """The product centre (I-25) with its filters."""
    return await _centre(request, viewer, db, {"product_no": product_no or "", "name":
                                               name or "", "template_name": template_name or ""})


async def _centre(request: Request, viewer: Viewer, db: Db, chosen: dict[str, str], *,
                  error: str | None = None, code: int = 200) -> HTMLResponse:
    found = await api.list_products(viewer.principal, db, chosen["product_no"] or None,
                                    chosen["name"] or None, chosen["template_name"] or None)
    return html(request, "delivery_products.html", frame(
        viewer, "delivery_products", products=found, chosen=chosen, base=BASE, error=error,
        may_write=_may_write(viewer)), status=code)


@router.post("")
async def create(request: Request, viewer: Page, db: Db) -> Response:
    """A new product of the viewer's vendor (platform staff: the platform's)."""
    api.reader(viewer.principal)
    if not _may_write(viewer):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not do this")
    form = await request.form()
    try:
        body = ProductCreate(product_no=str(form.get("product_no") or ""),
                             name=str(form.get("name") or ""),
                             version=str(form.get("version") or ""),
                             kind=str(form.get("kind") or "service"))  # type: ignore[arg-type]
        made = await api.create_product(body, viewer.principal, db)
    except ValidationError as exc:
        return await _centre(request, viewer, db, _empty(), error=problem_of(exc), code=422)
    except AlreadyExists as exc:
        return await _centre(request, viewer, db, _empty(), error=str(exc), code=409)
    return RedirectResponse(f"{BASE}/{made.product_id}", status.HTTP_303_SEE_OTHER)


def _empty() -> dict[str, str]:
    return {"product_no": "", "name": "", "template_name": ""}


async def _product(request: Request, viewer: Viewer, db: Db, product_id: str, *,
                   errors: dict[str, str] | None = None, rows: dict[str, dict[str, Any]]
                   | None = None, code: int = 200) -> HTMLResponse:
    found = await api.get_product(product_id, viewer.principal, db)
    bindable = [t for t in await templates_api.list_templates(
        viewer.principal, db, None, "published", None)
        if t.vendor_id in (None, found.vendor_id)] if _may_write(viewer) else []
    current = {p.provider_id: p for p in found.providers}
    shown = rows if rows is not None else {
        t.tenant_id: {"on": t.tenant_id in current,
                      "weight": str(current[t.tenant_id].weight) if t.tenant_id in current
                      else str(DEFAULT_WEIGHT),
                      "max_load": str(current[t.tenant_id].max_load) if t.tenant_id in current
                      else str(DEFAULT_MAX_LOAD)} for t in found.allowed_providers}
    return html(request, "delivery_product.html", frame(
        viewer, "delivery_products", product=found, bindable=bindable, rows=shown,
        errors=errors or {}, base=BASE, may_write=_may_write(viewer),
        english=lang_of(request) == "en"), status=code)


@router.get("/{product_id}")
async def product_page(request: Request, product_id: str, viewer: Page, db: Db
                       ) -> HTMLResponse:
    """A product: its template, providers with weights, max loads and current loads, and the
    I-09 warnings."""
    return await _product(request, viewer, db, product_id)


@router.post("/{product_id}/template")
async def bind(request: Request, product_id: str, viewer: Page, db: Db) -> Response:
    await api.visible(db, product_id, viewer.principal, write=True)
    chosen = str((await request.form()).get("template_id") or "")
    if not chosen:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "choose a template")
    try:
        await api.bind_template(product_id, TemplateBind(template_id=chosen),
                                viewer.principal, db)
    except Refusal as exc:
        return await _product(request, viewer, db, product_id, code=422,
                              errors={"template": refused(request, exc)})
    return RedirectResponse(f"{BASE}/{product_id}", status.HTTP_303_SEE_OTHER)


@router.post("/{product_id}/providers")
async def providers(request: Request, product_id: str, viewer: Page, db: Db) -> Response:
    """Save the ticked providers with their weights and max loads (I-26, I-27)."""
    product = await api.visible(db, product_id, viewer.principal, write=True)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if form.get("providers_form") != "yes":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "send the provider form")
    allowed = [t.tenant_id for t in await products.allowed_providers(db, product.vendor_id)]
    rows = {p: {"on": form.get(f"{p}:on") == "on", "weight": form.get(f"{p}:weight", ""),
                "max_load": form.get(f"{p}:max_load", "")} for p in allowed}
    ticked = [p for p in allowed if rows[p]["on"]]
    body = [ProviderBody(provider_id=p, weight=str(rows[p]["weight"]),
                         max_load=str(rows[p]["max_load"])) for p in ticked]
    try:
        await api.set_providers(product_id, body, viewer.principal, db, request)
    except RequestValidationError as exc:
        english = lang_of(request) == "en"
        errors = {f"{ticked[e['loc'][1]]}:{e['loc'][2]}":
                  e["message_en"] if english else e["message_zh"] for e in exc.errors()}
        return await _product(request, viewer, db, product_id, errors=errors, rows=rows,
                              code=422)
    return RedirectResponse(f"{BASE}/{product_id}", status.HTTP_303_SEE_OTHER)
