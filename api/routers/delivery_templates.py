"""Service-flow templates (§6 I-10 … I-23, SM-I-TEMPLATE, §7.2 I) and the platform's presets.

A vendor admin creates, edits, publishes, copies and deletes its tenant's templates; platform
operators (and admin) the public ones. Vendor PMs and platform readers read. A vendor sees its
own templates and the public ones; another vendor's template is not found (404). Roles,
message templates and requirement forms are the platform's (I-08), read by the vendors.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from api.deps import PLATFORM_READERS, Caller, Db, Principal, forbid
from api.openapi import FORBIDDEN, NOT_FOUND, Responses
from api.schemas.delivery_templates import (
    MessageTemplatePublic,
    RequirementFormPublic,
    RolePublic,
    TemplateCreate,
    TemplatePublic,
    TemplateUpdate,
    ViolationPublic,
    nodes_json,
)
from domain.refusals import Refusal
from store.delivery import templates as store
from store.delivery.templates import Template, TemplateInvalid
from store.errors import NotFound

router = APIRouter(prefix="/v1/delivery", tags=["delivery"], responses=FORBIDDEN)
WRITERS = ("admin", "platform_operator")  # public templates
VENDORS = ("vendor_admin", "vendor_pm")
CONFLICT: Responses = {409: {"description": "`template_published` (I-21), `template_in_use`"}}
INVALID: Responses = {422: {"description": "`template_invalid` with every violation (I-22)"}}


class NameMissing(Refusal):
    """I-11: a template needs its name."""

    code = "template_name_required"
    message_zh = "请输入服务流程名称"
    message_en = "Enter the service-flow name"
    field = "name"


def reader(caller: Principal) -> str | None:
    """None for platform staff (every template), the vendor tenant for its people."""
    if caller.role in PLATFORM_READERS:
        return None
    if caller.role in VENDORS and caller.dl_tenant_id is not None:
        return caller.dl_tenant_id
    raise forbid(f"{caller.role} has no access to service-flow templates")


def writer(caller: Principal) -> str | None:
    """The tenant whose templates the caller writes: None (public) for platform writers."""
    if caller.role in WRITERS:
        return None
    if caller.role == "vendor_admin" and caller.dl_tenant_id is not None:
        return caller.dl_tenant_id
    raise forbid(f"{caller.role} may not change service-flow templates")


async def visible(db: Db, template_id: str, caller: Principal) -> Template:
    """The template if the caller reads it: a vendor's own or a public one."""
    tenant = reader(caller)
    found = await store.get_template(db, template_id)
    if tenant is not None and found.vendor_id not in (None, tenant):
        raise NotFound(f"template {template_id!r}")
    return found


async def writable(db: Db, template_id: str, caller: Principal) -> Template:
    """The template if the caller changes it (a vendor may read but not change public ones)."""
    found = await visible(db, template_id, caller)
    if found.vendor_id != writer(caller):
        raise forbid("only the template's owner may change it")
    return found


def public(t: Template) -> TemplatePublic:
    return TemplatePublic(
        template_id=t.template_id, vendor_id=t.vendor_id, public=t.vendor_id is None,
        name=t.name, description=t.description, status=t.status, nodes=t.nodes,
        copied_from=t.copied_from, created_at=t.created_at, updated_at=t.updated_at,
        published_at=t.published_at)


def named(name: str) -> str:
    if not name.strip():
        raise NameMissing()
    return name.strip()


@router.get("/templates", response_model=list[TemplatePublic])
async def list_templates(
    caller: Caller, db: Db,
    scope: Annotated[str | None, Query(pattern="^(public|own)$")] = None,
    status_: Annotated[str | None, Query(alias="status",
                                         pattern="^(unpublished|published)$")] = None,
    name: Annotated[str | None, Query(max_length=100)] = None,
) -> list[TemplatePublic]:
    """The caller's templates and the public ones (platform staff: all), filtered by
    `scope` (public | own), `status` and part of the `name`."""
    tenant = reader(caller)
    found = await store.list_templates(
        db, tenant, everything=tenant is None,
        public=None if scope is None else scope == "public", status=status_, name=name)
    return [public(t) for t in found]


@router.post("/templates", status_code=status.HTTP_201_CREATED, response_model=TemplatePublic)
async def create_template(body: TemplateCreate, caller: Caller, db: Db) -> TemplatePublic:
    """A new unpublished template (I-11); the built-in assign-provider node comes first."""
    tenant = writer(caller)
    made = await store.create_template(db, tenant, named(body.name), body.description,
                                       nodes_json(body.nodes))
    return public(made)


@router.get("/templates/{template_id}", response_model=TemplatePublic, responses=NOT_FOUND)
async def get_template(template_id: str, caller: Caller, db: Db) -> TemplatePublic:
    return public(await visible(db, template_id, caller))


@router.put("/templates/{template_id}", response_model=TemplatePublic,
            responses={**NOT_FOUND, **CONFLICT})
async def update_template(template_id: str, body: TemplateUpdate, caller: Caller,
                          db: Db) -> TemplatePublic:
    """Save an unpublished template (its name, description and whole node list, I-21)."""
    await writable(db, template_id, caller)
    saved = await store.update_template(db, template_id, name=named(body.name),
                                        description=body.description,
                                        nodes=nodes_json(body.nodes))
    return public(saved)


@router.delete("/templates/{template_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={**NOT_FOUND, **CONFLICT})
async def delete_template(template_id: str, caller: Caller, db: Db) -> Response:
    await writable(db, template_id, caller)
    await store.delete_template(db, template_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def refused(exc: TemplateInvalid) -> JSONResponse:
    """422 with every violation, each naming its node and field (I-22)."""
    found = [ViolationPublic(**vars(v)).model_dump() for v in exc.violations]
    return JSONResponse({"detail": {**exc.as_detail(), "violations": found}},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


@router.post("/templates/{template_id}/publish", response_model=TemplatePublic,
             responses={**NOT_FOUND, **CONFLICT, **INVALID})
async def publish_template(template_id: str, caller: Caller, db: Db
                           ) -> TemplatePublic | JSONResponse:
    """Publish (I-21, I-22): 422 `template_invalid` listing every violation; 409
    `template_published` when already published."""
    await writable(db, template_id, caller)
    try:
        return public(await store.publish_template(db, template_id))
    except TemplateInvalid as exc:
        return refused(exc)


@router.post("/templates/{template_id}/copy", status_code=status.HTTP_201_CREATED,
             response_model=TemplatePublic, responses=NOT_FOUND)
async def copy_template(template_id: str, caller: Caller, db: Db) -> TemplatePublic:
    """A new unpublished template of the caller's tenant from a public or own one (I-10)."""
    await visible(db, template_id, caller)
    return public(await store.copy_template(db, template_id, writer(caller)))


def presets_reader(caller: Principal) -> None:
    """§7.2 I: the platform's presets are read by platform staff and vendor/provider admins."""
    if caller.role not in (*PLATFORM_READERS, *VENDORS, "provider_admin"):
        raise forbid(f"{caller.role} has no access to the delivery presets")


@router.get("/roles", response_model=list[RolePublic])
async def list_roles(caller: Caller, db: Db,
                     name: Annotated[str | None, Query(max_length=50)] = None
                     ) -> list[RolePublic]:
    """The preset business roles (I-08, I-61), filtered by part of the name."""
    presets_reader(caller)
    return [RolePublic(**vars(r)) for r in await store.roles(db)
            if name is None or name in r.name]


@router.get("/message-templates", response_model=list[MessageTemplatePublic])
async def list_message_templates(caller: Caller, db: Db,
                                 name: Annotated[str | None, Query(max_length=100)] = None
                                 ) -> list[MessageTemplatePublic]:
    """The preset message templates "发送节点-发送对象" (I-20, I-61)."""
    presets_reader(caller)
    return [MessageTemplatePublic(**vars(m)) for m in await store.message_templates(db, name)]


@router.get("/requirement-forms", response_model=list[RequirementFormPublic])
async def list_requirement_forms(caller: Caller, db: Db) -> list[RequirementFormPublic]:
    """The preset requirement forms with their typed fields (I-16)."""
    presets_reader(caller)
    return [RequirementFormPublic(**vars(f)) for f in await store.requirement_forms(db)]
