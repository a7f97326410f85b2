"""What the money pages share: an amount typed in 元 (two decimals at most) as integer fen,
a business refusal said in the reader's language (the spec's own words, `message_zh` or
`message_en`), the month a statement covers, and the guard of the agent's pages (decided
before a form is read: another agent's pages are not found, a read-only role's change is
refused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request, status

from api.console.auth import Page, Viewer
from api.console.i18n import N_, lang_of
from core.money import Fen, parse_yuan
from domain.pricing.visibility import AGENT_PEOPLE
from domain.refusals import Refusal

_READS = ("GET", "HEAD", "OPTIONS")
MAX_FEN = 10**12  # what the API accepts (api.schemas.orders.Fen)
NOT_AN_AMOUNT = N_("Enter an amount in yuan with at most two decimals, for example 90.00.")
NOT_POSITIVE = N_("The amount must be more than 0.")
AMOUNT_TOO_LARGE = N_("The amount is too large.")
NOT_A_CARD = N_("An ICCID has 19 or 20 digits.")
Errors = dict[str, str]
# An order's kind, state and payment method as the pages name them (a code not named here is
# shown as it is).
ORDER_WORDS = {
    "package": N_("package"), "recharge": N_("recharge"), "withdrawal": N_("withdrawal"),
    "pending_payment": N_("waiting for payment"), "paid": N_("paid"),
    "fulfilling": N_("being fulfilled"), "completed": N_("completed"), "failed": N_("failed"),
    "cancelled": N_("cancelled"), "refunding": N_("being refunded"),
    "refunded": N_("refunded"), "partially_refunded": N_("partially refunded"),
    "credited": N_("credited"), "requested": N_("requested"), "approved": N_("approved"),
    "rejected": N_("rejected"),
    "online": N_("online"), "wallet": N_("card wallet"), "agent_wallet": N_("agent wallet"),
}
# domain.ledger.FeeType as a statement names it (G2-23, G2-25).
FEE_NAMES = {
    "retail": N_("retail sale"), "cost": N_("cost price"),
    "price_difference": N_("price difference"), "commission": N_("commission"),
    "refund": N_("refund"), "withdrawal": N_("withdrawal"),
    "withdrawal_fee": N_("withdrawal fee"), "deduction": N_("deduction"),
    "payout": N_("payout"), "factory_commission": N_("factory commission"),
    "recharge": N_("recharge"),
}


class BadAmount(ValueError):
    """An amount that is not one: `message` is a catalogue message saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def to_fen(text: str) -> Fen:
    """Fen from 元 as typed (`90`, `90.5`, `1,090.00`); `BadAmount` says why not."""
    try:
        amount = parse_yuan(text.replace(",", "").replace("，", ""))
    except ValueError:
        raise BadAmount(NOT_AN_AMOUNT) from None
    if amount <= 0:
        raise BadAmount(NOT_POSITIVE)
    if amount > MAX_FEN:
        raise BadAmount(AMOUNT_TOO_LARGE)
    return amount


def refusal_text(request: Request, refusal: Refusal) -> str:
    """The refusal in the reader's language, as the spec words it."""
    return refusal.message_zh if lang_of(request) == "zh-CN" else refusal.message_en


def agent_people(viewer: Viewer, agent_id: str, *, write: bool = False) -> None:
    """The agent's own people see its pages (anyone else: 404); only its admin changes (403)."""
    principal = viewer.principal
    if principal.role not in AGENT_PEOPLE or principal.agent_id != agent_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such page")
    if write and principal.role != "agent_admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not change this")


def end_user(viewer: Viewer, *, write: bool = False) -> str:
    """An end user's own pages: its agent (404 for anyone who is not an end user)."""
    principal = viewer.principal
    if principal.role != "end_user" or principal.agent_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such page")
    return principal.agent_id


async def _agent_guard(request: Request, viewer: Page) -> None:
    agent_people(viewer, request.path_params["agent_id"], write=request.method not in _READS)


async def _user_guard(request: Request, viewer: Page) -> None:
    end_user(viewer, write=request.method not in _READS)


# The `dependencies=` of a router under /console/a/{agent_id} and of one under /console/me.
AGENT_GUARD = [Depends(_agent_guard)]
USER_GUARD = [Depends(_user_guard)]


@dataclass(frozen=True)
class Month:
    """A calendar month in a time zone: [start, end) and its `YYYY-MM` name."""

    name: str
    start: datetime
    end: datetime
    current: bool


def month_of(text: str | None, today: datetime, tz: str) -> Month:
    """The month named `YYYY-MM` (the current one when absent or not a month)."""
    zone = ZoneInfo(tz)
    local = today.astimezone(zone)
    year, month = local.year, local.month
    if text:
        try:
            picked = datetime.strptime(text, "%Y-%m")
        except ValueError:
            picked = None
        if picked is not None and 2000 <= picked.year <= 2999:
            year, month = picked.year, picked.month
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return Month(f"{year:04d}-{month:02d}", start, end, start <= local < end)
