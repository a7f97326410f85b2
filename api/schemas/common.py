"""Types every resource's schemas share: identifiers, byte counts, percents, strict bodies."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.operators import CardStatus, NetworkStatus, Operator
from domain.usage.validation import ICCID_RE, iccid_problem

__all__ = ["Bytes", "CardStatus", "ErrorDetail", "Iccid", "Ident", "NetworkStatus", "Operator",
           "Percents", "Strict", "TimeZone", "default_warnings"]

Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Bytes = Annotated[int, Field(ge=0, le=1 << 62)]
Percents = Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(max_length=10)]


def default_warnings() -> list[int]:
    """Warn at 80 % and 90 % of a package or pool limit unless told otherwise."""
    return [80, 90]


def _valid_iccid(value: str) -> str:
    problem = iccid_problem(value)
    if problem:
        raise ValueError(f"ICCID {problem}")
    return value


def _valid_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Asia/Shanghai)")
    return value


# The pattern and examples document the rule (and steer generated test data); the validators
# enforce it with messages that say what is wrong.
Iccid = Annotated[str, AfterValidator(_valid_iccid), Field(
    json_schema_extra={"pattern": ICCID_RE.pattern}, examples=["89860012345678901234"])]
Msisdn = Annotated[str, Field(
    pattern=r"^[0-9]{11,15}$", examples=["1440123456789"],
    description="the card's number as its operator knows it: the MSISDN (OneLink, Jasper) or "
                "the 149/10649 access number (China Telecom), 11 to 15 digits")]
TimeZone = Annotated[str, AfterValidator(_valid_timezone),
                     Field(examples=["Asia/Shanghai", "UTC", "Europe/Berlin"])]


class Strict(BaseModel):
    """A request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    """The body of every error answer but 422: what went wrong, in words."""

    detail: str
