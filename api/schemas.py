"""Request and response bodies of the public API (names per shared/api-contract.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from streams.validation import iccid_problem

Operator = Literal["onelink", "jasper", "ctcc"]
Role = Literal["enterprise_admin", "enterprise_viewer"]
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


def _valid_iccid(value: str) -> str:
    problem = iccid_problem(value)
    if problem:
        raise ValueError(f"ICCID {problem}")
    return value


def _valid_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Asia/Shanghai)")
    return value


Iccid = Annotated[str, AfterValidator(_valid_iccid)]
TimeZone = Annotated[str, AfterValidator(_valid_timezone)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnterpriseCreate(Strict):
    enterprise_id: Ident
    name: Annotated[str, Field(min_length=1, max_length=200)]
    timezone: TimeZone = "Asia/Shanghai"


class EnterprisePublic(BaseModel):
    enterprise_id: str
    name: str
    timezone: str
    webhook_url: str | None = None


class ClockUpdate(Strict):
    offset_seconds: int


class AlertPublic(BaseModel):
    alert_id: int
    kind: Literal["card_package", "pool"]
    subject: str
    cycle: str
    percent: int
    used_bytes: int
    limit_bytes: int
    created_at: str
    webhook_state: str


class ApiKeyCreate(Strict):
    role: Role


class ApiKeyPublic(BaseModel):
    key_id: str
    key: str = Field(description="the bearer token; shown only in this answer")
    enterprise_id: str | None
    role: Literal["enterprise_admin", "enterprise_viewer", "platform_ops"]


class PushSecretUpdate(Strict):
    secret: Annotated[str, Field(min_length=16, max_length=256)]


Bytes = Annotated[int, Field(ge=0, le=1 << 62)]
Percents = Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(max_length=10)]


class EnterpriseUpdate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timezone: TimeZone | None = None
    webhook_url: Annotated[str, Field(pattern=r"^https?://", max_length=2000)] | None = None
    webhook_secret: Annotated[str, Field(min_length=16, max_length=256)] | None = None


class CardCreate(Strict):
    iccid: Iccid
    enterprise_id: Ident
    operator: Operator
    package_bytes: Bytes | None = None
    pool_id: Ident | None = None
    warn_percents: Percents = Field(default_factory=lambda: [80, 90])


MAX_IMPORT_CARDS = 10_000


class CardImportItem(Strict):
    iccid: Iccid
    operator: Operator
    package_bytes: Bytes | None = None
    pool_id: Ident | None = None
    warn_percents: Percents = Field(default_factory=lambda: [80, 90])


class CardImport(Strict):
    """Many cards of one enterprise at once; cards already registered are left unchanged."""

    enterprise_id: Ident
    cards: list[CardImportItem] = Field(min_length=1, max_length=MAX_IMPORT_CARDS)


class CardImported(BaseModel):
    created: int
    existing: int
    existing_iccids: list[str] = Field(
        description="cards of the request that were already registered (left unchanged)")


class CardUpdate(Strict):
    """Only the fields sent change; `null` clears package_bytes or takes the card out of
    its pool."""

    package_bytes: Bytes | None = None
    pool_id: Ident | None = None
    warn_percents: Percents | None = None


class PoolCreate(Strict):
    pool_id: Ident
    enterprise_id: Ident
    limit_bytes: Bytes
    per_card_limit_bytes: Bytes | None = None
    warn_percents: Percents = Field(default_factory=lambda: [80, 90])


class PoolUpdate(Strict):
    limit_bytes: Bytes | None = None
    per_card_limit_bytes: Bytes | None = None
    warn_percents: Percents | None = None


class PoolPublic(BaseModel):
    pool_id: str
    enterprise_id: str
    limit_bytes: int
    per_card_limit_bytes: int | None
    cycle: str
    used_bytes: int
    card_count: int
    status: Literal["ok", "exhausted"]
    warn_percents: list[int]


class ControlPublic(BaseModel):
    target: Literal["active", "stopped"]
    state: Literal["pending", "done", "failed"]
    attempts: int
    last_command: str | None
    last_outcome: str | None
    last_error: str | None
    last_command_at: datetime | None


class StatusEvent(Strict):
    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    iccid: Iccid
    status: Literal["active", "stopped"]
    at: AwareDatetime


class StatusPush(Strict):
    events: Annotated[list[StatusEvent], Field(max_length=10_000)]


class StatusAccepted(BaseModel):
    accepted: int
    applied: int = Field(description="events newer than what was known")
    unknown_cards: int


class CardPublic(BaseModel):
    iccid: str
    enterprise_id: str
    operator: Operator
    pool_id: str | None
    package_bytes: int | None
    cycle: str = Field(description="billing cycle, YYYY-MM in the enterprise's time zone")
    cycle_usage_bytes: int
    desired_status: Literal["active", "stopped"]
    stop_reasons: list[str]
    network_status: Literal["active", "stopped", "unknown"]
    warn_percents: list[int]
    control: ControlPublic | None = Field(
        default=None, description="the reconciler's state: target, attempts, last command")


class UsageAccepted(BaseModel):
    accepted: int


class Health(BaseModel):
    status: str
    problems: list[str] = []
