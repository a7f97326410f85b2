"""The delivery dashboard (数据看板, I-55 … I-60).

* `GET /v1/delivery/dashboard?window=30|60` — the mean completion cycle, new projects per day
  and per month, and the project statuses, all as of 00:00 today (Asia/Shanghai, the platform
  clock). A vendor's people see the vendor's projects, a provider admin the provider's;
  platform roles may pass `vendor_id` or `provider_id` (neither: every project).
* `GET /v1/delivery/dashboard/saturation` — live load ÷ max load of each product's providers,
  for vendor dashboards only (a provider admin is refused: I-60)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PLATFORM_READERS, Caller, Db, Principal, forbid
from api.errors import invalid
from api.openapi import FORBIDDEN, NOT_FOUND
from api.schemas.delivery_dashboard import (
    CyclePublic,
    DashboardPublic,
    DayCount,
    MonthCount,
    SaturationPublic,
    StatusCounts,
)
from core.clock import now
from domain.delivery.dashboard import WINDOWS, Scope, windows
from store.db import Conn
from store.delivery import dashboard as store
from store.errors import NotFound

router = APIRouter(prefix="/v1/delivery/dashboard", tags=["delivery"], responses=FORBIDDEN)
VENDOR_ROLES = ("vendor_admin", "vendor_pm")
TenantId = Annotated[str | None, Query(max_length=40, description="a delivery tenant")]
PROVIDER_ROLES = ("provider_admin",)


async def scope_for(db: Conn, caller: Principal, vendor_id: str | None = None,
                    provider_id: str | None = None, *, saturation: bool = False) -> Scope:
    """Whose projects the caller's dashboard counts: its own tenant's as a vendor (or, as a
    provider admin, as a provider: no saturation); any tenant's for platform roles. Naming
    another tenant is 404; other roles 403."""
    tenant = caller.dl_tenant_id
    if caller.role in PLATFORM_READERS:
        for named in (vendor_id, provider_id):
            if named is not None and not await store.tenant_exists(db, named):
                raise NotFound(f"tenant {named!r}")
        return Scope(vendor_id, None if saturation else provider_id)
    if caller.role in VENDOR_ROLES + PROVIDER_ROLES and tenant is not None:
        if any(named not in (None, tenant) for named in (vendor_id, provider_id)):
            raise NotFound(f"tenant {vendor_id or provider_id!r}")
        if caller.role in VENDOR_ROLES:
            return Scope(vendor_id=tenant)
        if saturation:
            raise forbid("saturation is shown on vendor dashboards only")
        return Scope(provider_id=tenant)
    raise forbid("the delivery dashboard is for vendors, provider admins and the platform")


@router.get("", response_model=DashboardPublic, responses=NOT_FOUND)
async def get_dashboard(caller: Caller, db: Db,
                        window: Annotated[int, Query(description="30 or 60 days")] = 30,
                        vendor_id: TenantId = None,
                        provider_id: TenantId = None) -> DashboardPublic:
    """Cycle (I-56), new projects (I-57) and statuses (I-58) as of 00:00 today (I-55)."""
    if window not in WINDOWS:
        raise invalid("query", "window", "the status window is 30 or 60 days", window)
    scope = await scope_for(db, caller, vendor_id, provider_id)
    found = await store.dashboard(db, scope, windows(now(), window))
    w, counts = found.windows, found.statuses
    return DashboardPublic(
        as_of=w.cutoff, vendor_id=scope.vendor_id, provider_id=scope.provider_id,
        cycle=CyclePublic(days=found.cycle_days, projects=found.cycle_projects,
                          completed_from=w.cycle_from),
        per_day=[DayCount(day=d, projects=n) for d, n in found.per_day],
        per_month=[MonthCount(month=m.strftime("%Y-%m"), projects=n)
                   for m, n in found.per_month],
        status=StatusCounts(window_days=30 if window == 30 else 60,
                            created_from=w.status_from, total=found.total, **counts))


@router.get("/saturation", response_model=list[SaturationPublic], responses=NOT_FOUND)
async def get_saturation(caller: Caller, db: Db,
                         vendor_id: TenantId = None) -> list[SaturationPublic]:
    """Each product's providers: live load ÷ max load and the bar's colour (I-59)."""
    scope = await scope_for(db, caller, vendor_id, saturation=True)
    rows = await store.saturation(db, scope.vendor_id)
    return [SaturationPublic(**vars(row)) for row in rows]
