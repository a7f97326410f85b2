"""Types every resource's schemas share: identifiers, byte counts, percents, strict bodies."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.operators import CardStatus, NetworkStatus, Operator
from domain.usage.validation import iccid_problem

__all__ = ["Bytes", "CardStatus", "Iccid", "Ident", "NetworkStatus", "Operator", "Percents",
           "Strict", "TimeZone"]

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Bytes = Annotated[int, Field(ge=0, le=1 << 62)]
Percents = Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(max_length=10)]


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
    """A request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")
