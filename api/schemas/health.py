"""Liveness and readiness."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str
    problems: list[str] = []
    warnings: list[str] = Field(default=[], description=(
        "what needs the people on watch soon but does not stop the API taking traffic "
        "(the work calendar covering less than today + 60 days): status stays ok"))
