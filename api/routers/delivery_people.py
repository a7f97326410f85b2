"""The delivery workflow's parties and people (specs/business.md §6.1, §6.4, §7.2 "I
delivery"): tenants and vendor–provider links (platform operations), a provider's departments,
delivery users with an 8-character one-time password shown once, and the staff's max loads and
order-taking status. Another tenant's people are not found (404); a role with no part in it,
or only reading, is refused (403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Response, status

from api.deps import Caller, Db, Principal, forbid
from api.errors import invalid
from api.openapi import CONFLICT, FORBIDDEN, NOT_FOUND, Responses
from api.schemas.delivery_people import (
    AcceptingSet,
    DeliveryUserCreate,
    DeliveryUserCreated,
    DepartmentCreate,
    DepartmentPublic,
    LoadSet,
    OneTimePassword,
    PersonPublic,
    TenantCreate,
    TenantId,
    TenantPublic,
)
from core.passwords import hash_password
from domain.delivery import people as rules
from domain.delivery.mail import check_email
from domain.people.rules import one_time_password
from domain.refusals import Refusal
from store.db import Conn
from store.delivery import people
from store.errors import NotFound

router = APIRouter(prefix="/v1/delivery", tags=["delivery"], responses=FORBIDDEN)
SELF_LINK: Responses = {409: {"description": "`self_link`: a vendor is its own provider"}}
MAX_BATCH = 500
TenantQuery = Annotated[TenantId | None, Query(description="default: the caller's tenant")]


class SelfLink(Refusal):
    code = "self_link"
    message_zh = "厂商默认即是自己的服务商，无需关联"
    message_en = "A vendor is its own provider already; no link is needed"


def enforce(scope: rules.Scope, caller: Principal, what: str) -> None:
    """`forbidden` → 403, `hidden` → 404 (another tenant's objects do not exist for you)."""
    if scope == "forbidden":
        raise forbid(f"{caller.role} may not {what}")
    if scope == "hidden":
        raise NotFound(what)


def tenant_of(caller: Principal, tenant_id: str | None) -> str:
    """The tenant a call is about: the one named, else the caller's own."""
    found = tenant_id or caller.dl_tenant_id
    if found is None:
        raise invalid("query", "tenant_id", "name the delivery tenant (tenant_id)")
    return found


@router.get("/tenants", response_model=list[TenantPublic])
async def list_tenants(caller: Caller, db: Db) -> list[people.Tenant]:
    """Every tenant (platform roles), or the caller's own (delivery roles)."""
    if not rules.may_read_tenants(caller.role):
        raise forbid(f"{caller.role} has no part in the delivery workflow")
    if caller.role in rules.PLATFORM_READERS:
        return await people.list_tenants(db)
    return await people.list_tenants(db, caller.dl_tenant_id or "")


@router.post("/tenants", status_code=status.HTTP_201_CREATED, response_model=TenantPublic,
             responses={**NOT_FOUND, **CONFLICT})
async def create_tenant(body: TenantCreate, caller: Caller, db: Db) -> people.Tenant:
    """A tenant, vendor and provider at once (I-02), optionally an agent's."""
    if not rules.may_keep_tenants(caller.role):
        raise forbid("only platform operations create delivery tenants")
    return await people.create_tenant(db, body.tenant_id, body.name, body.agent_id)


@router.post("/tenants/{vendor_id}/providers/{provider_id}", response_model=TenantPublic,
             status_code=status.HTTP_201_CREATED,
             responses={**NOT_FOUND, **SELF_LINK,
                        200: {"description": "linked already: nothing changed",
                              "model": TenantPublic}})
async def link_provider(vendor_id: str, provider_id: str, caller: Caller, db: Db,
                        response: Response) -> people.Tenant:
    """Link a provider to a vendor (I-03; 200 when linked already)."""
    if not rules.may_keep_tenants(caller.role):
        raise forbid("only platform operations link vendors and providers")
    if vendor_id == provider_id:
        raise SelfLink(vendor_id)
    if not await people.link_provider(db, vendor_id, provider_id, caller.key_id):
        response.status_code = status.HTTP_200_OK
    return await people.get_tenant(db, vendor_id)


@router.delete("/tenants/{vendor_id}/providers/{provider_id}",
               status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def unlink_provider(vendor_id: str, provider_id: str, caller: Caller, db: Db
                          ) -> Response:
    if not rules.may_keep_tenants(caller.role):
        raise forbid("only platform operations link vendors and providers")
    await people.unlink_provider(db, vendor_id, provider_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/departments", response_model=list[DepartmentPublic], responses=NOT_FOUND)
async def list_departments(caller: Caller, db: Db, tenant_id: TenantQuery = None
                           ) -> list[people.Department]:
    """A provider's departments in tree order, with their account managers (I-05, I-09)."""
    tenant = tenant_of(caller, tenant_id)
    enforce(rules.people_scope(caller.role, caller.dl_tenant_id, tenant, write=False), caller,
            f"departments of {tenant!r}")
    return await people.list_departments(db, tenant)


@router.post("/departments", status_code=status.HTTP_201_CREATED,
             response_model=DepartmentPublic, responses={**NOT_FOUND, **CONFLICT})
async def create_department(body: DepartmentCreate, caller: Caller, db: Db
                            ) -> people.Department:
    """A department under the provider (no parent) or under one of its departments."""
    tenant = tenant_of(caller, body.tenant_id)
    enforce(rules.people_scope(caller.role, caller.dl_tenant_id, tenant, write=True), caller,
            f"departments of {tenant!r}")
    await people.get_tenant(db, tenant)
    made = await people.create_department(db, tenant, body.name, body.parent_id)
    return next(d for d in await people.list_departments(db, tenant)
                if d.department_id == made)


async def _new_user(db: Conn, caller: Principal, body: DeliveryUserCreate) -> people.NewUser:
    tenant = tenant_of(caller, body.tenant_id)
    enforce(rules.people_scope(caller.role, caller.dl_tenant_id, tenant, write=True), caller,
            f"users of {tenant!r}")
    if not rules.may_create(caller.role, body.role):
        raise forbid(f"{caller.role} may not create a {body.role}")
    await people.get_tenant(db, tenant)
    if body.department_id is not None:
        if body.role not in ("provider_admin", "provider_staff"):
            raise invalid("body", "department_id", "only a provider's people have a department")
        if await people.department_tenant(db, body.department_id) != tenant:
            raise NotFound(f"department {body.department_id!r}")
    return people.NewUser(
        login=rules.full_login(body.login, tenant), role=body.role, tenant_id=tenant,
        display_name=body.display_name, department_id=body.department_id,
        business_roles=rules.business_roles(body.role, body.business_roles,
                                            await people.provider_roles(db)),
        mobile=rules.check_mobile(body.mobile), landline=rules.check_landline(body.landline),
        email=check_email(body.email))


async def make_user(db: Conn, caller: Principal, body: DeliveryUserCreate
                    ) -> DeliveryUserCreated:
    """Create the user with an 8-character one-time password (I-07): the API, the console."""
    new = await _new_user(db, caller, body)
    password = one_time_password(rules.PASSWORD_LENGTH)
    made = await people.create_user(db, new, hash_password(password))
    return DeliveryUserCreated(**PersonPublic.model_validate(made, from_attributes=True)
                               .model_dump(), one_time_password=password,
                               message_zh=rules.CREATED_ZH, message_en=rules.CREATED_EN)


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=DeliveryUserCreated,
             responses={**NOT_FOUND, **CONFLICT})
async def create_user(body: DeliveryUserCreate, caller: Caller, db: Db) -> DeliveryUserCreated:
    """A delivery user; its one-time password is shown only in this answer."""
    return await make_user(db, caller, body)


@router.get("/users", response_model=list[PersonPublic], responses=NOT_FOUND)
async def list_users(caller: Caller, db: Db, tenant_id: TenantQuery = None
                     ) -> list[people.Person]:
    """A tenant's delivery users with their loads (platform readers: every tenant's)."""
    if tenant_id is None and caller.role in rules.PLATFORM_READERS:
        return await people.list_people(db, None)
    tenant = tenant_of(caller, tenant_id)
    enforce(rules.people_scope(caller.role, caller.dl_tenant_id, tenant, write=False), caller,
            f"users of {tenant!r}")
    return await people.list_people(db, tenant)


async def reset(db: Conn, caller: Principal, user_id: str) -> OneTimePassword:
    """A new one-time password for a user the caller manages (I-07)."""
    target = await people.get_person(db, user_id)
    enforce(rules.people_scope(caller.role, caller.dl_tenant_id, target.dl_tenant_id,
                               write=True), caller, f"user {user_id!r}")
    if not rules.may_create(caller.role, target.role):
        raise forbid(f"{caller.role} may not reset the password of a {target.role}")
    password = one_time_password(rules.PASSWORD_LENGTH)
    await people.reset_password(db, user_id, hash_password(password))
    return OneTimePassword(login=target.login, one_time_password=password,
                           message_zh=rules.CREATED_ZH, message_en=rules.CREATED_EN)


@router.post("/users/{user_id}/password-reset", response_model=OneTimePassword,
             responses=NOT_FOUND)
async def reset_password(user_id: str, caller: Caller, db: Db) -> OneTimePassword:
    """A forgotten password: a new one-time password, shown once; sessions end."""
    return await reset(db, caller, user_id)


@router.get("/staff", response_model=list[PersonPublic], responses=NOT_FOUND)
async def list_staff(caller: Caller, db: Db, tenant_id: TenantQuery = None
                     ) -> list[people.Person]:
    """The people who receive projects: role(s), status, current and max load (I-30)."""
    tenant = tenant_of(caller, tenant_id)
    enforce(rules.load_scope(caller.role, caller.dl_tenant_id, tenant, write=False), caller,
            f"staff of {tenant!r}")
    return await people.list_people(db, tenant, carriers_only=True)


def load_changes(items: list[LoadSet]) -> list[people.LoadChange]:
    """Each max load checked (0–50 integers, I-30) before anything changes."""
    return [people.LoadChange(item.user_id, None if item.max_load is None else
                              rules.staff_load(item.max_load, f"{i}.max_load"), item.accepting)
            for i, item in enumerate(items)]


@router.put("/staff/loads", response_model=list[PersonPublic], responses=NOT_FOUND)
async def set_loads(caller: Caller, db: Db,
                    body: Annotated[list[LoadSet], Body(max_length=MAX_BATCH)],
                    tenant_id: TenantQuery = None) -> list[people.Person]:
    """Set max loads and order-taking statuses, one or many at once (all or none)."""
    tenant = tenant_of(caller, tenant_id)
    enforce(rules.load_scope(caller.role, caller.dl_tenant_id, tenant, write=True), caller,
            f"staff of {tenant!r}")
    await people.set_loads(db, tenant, load_changes(body))
    return await people.list_people(db, tenant, carriers_only=True)


def me_of(caller: Principal) -> tuple[str, str]:
    if caller.user_id is None or caller.dl_tenant_id is None:
        raise forbid("only the delivery workflow's people have this")
    return caller.user_id, caller.dl_tenant_id


@router.get("/me", response_model=PersonPublic)
async def my_profile(caller: Caller, db: Db) -> people.Person:
    """The caller's own delivery profile (个人信息)."""
    user_id, _ = me_of(caller)
    return await people.get_person(db, user_id)


@router.put("/me/accepting", response_model=PersonPublic)
async def set_my_accepting(body: AcceptingSet, caller: Caller, db: Db) -> people.Person:
    """Open or close one's own order-taking (SM-I-STAFF); current projects are kept."""
    user_id, tenant = me_of(caller)
    if not rules.may_toggle_own(caller.role):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {caller.role} takes no orders")
    await people.set_loads(db, tenant, [people.LoadChange(user_id, None, body.accepting)])
    return await people.get_person(db, user_id)
