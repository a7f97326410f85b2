"""Enterprise pools: pooled quota with an optional per-card cap."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Bytes, Ident, Percents, Strict, default_warnings


class PoolCreate(Strict):
    pool_id: Ident
    enterprise_id: Ident
    limit_bytes: Bytes
    per_card_limit_bytes: Bytes | None = None
    warn_percents: Percents = Field(default_factory=default_warnings)


class PoolUpdate(Strict):
    """Only the fields sent change; `null` removes the per-card cap."""

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
