"""Cards: registration (one or many), configuration, and the card view."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import (
    Bytes,
    CardStatus,
    Iccid,
    Ident,
    Msisdn,
    NetworkStatus,
    Operator,
    Percents,
    Strict,
    default_warnings,
)

MAX_IMPORT_CARDS = 10_000


class CardImportItem(Strict):
    """A card of a bulk import (its enterprise is the import's)."""

    iccid: Iccid
    operator: Operator
    msisdn: Msisdn | None = None
    package_bytes: Bytes | None = None
    pool_id: Ident | None = None
    warn_percents: Percents = Field(default_factory=default_warnings)
    opened: bool = Field(
        default=True,
        description="false: the card is bought but not opened yet (the operator's inventory, "
                    "test-ready or activation-ready); it carries the stop reason `not_opened` "
                    "and is opened only by `POST /v1/cards/{iccid}/activate`")


class CardCreate(CardImportItem):
    enterprise_id: Ident


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


class ControlPublic(BaseModel):
    target: CardStatus
    state: Literal["pending", "confirming", "done", "failed"]
    attempts: int
    last_command: str | None
    last_outcome: str | None
    last_error: str | None = Field(
        description="why the last command did not succeed; for a card the operator holds, "
                    "the operator's own reason")
    last_command_at: datetime | None
    pending_confirmation: bool = Field(
        description="an accepted operator change not yet confirmed by a status read, an "
                    "order query or the status feed")
    operator_held: bool = Field(
        description="the operator stopped or froze the card itself and refuses a resume: "
                    "not retried until the card's desired state changes again")


class CardPublic(BaseModel):
    iccid: str
    msisdn: str | None
    enterprise_id: str
    operator: Operator
    pool_id: str | None
    package_bytes: int | None
    cycle: str = Field(description="billing cycle, YYYY-MM in the enterprise's time zone")
    cycle_usage_bytes: int
    desired_status: CardStatus
    stop_reasons: list[str]
    network_status: NetworkStatus
    warn_percents: list[int]
    opened: bool = Field(
        description="the operator network has the card opened (confirmed active at least once "
                    "since it was registered as not opened)")
    package_count: int = Field(
        default=0, description="completed, non-refunded package orders of the card (G2-19)")
    control: ControlPublic | None = Field(
        default=None, description="the reconciler's state: target, attempts, last command")
