"""Ledger account keys (G2-22): one pattern per kind of account, the floor each kind keeps, and
builders so that no caller spells a key by hand.

A key is `scope[:id]:purpose`, e.g. `agent:a17:available`. Ids are the platform's identifiers
(`[A-Za-z0-9][A-Za-z0-9._-]*`, at most 64), a card wallet's id is its ICCID. The kind is
derived from the key, never stored apart from it, so it cannot disagree.

Floors (TigerBeetle's `debits_must_not_exceed_credits`): money the platform holds for someone
(wallets, an agent's available/frozen/withdrawing, an order's escrow, a supplier's fund) must not
go below 0 (G2-16) but through a clawback or refund that says so (`allow_negative`); the
outside world and the platform's revenue have no floor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from domain.ledger.errors import InvalidAccount
from domain.usage.validation import ICCID_RE

_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_ICCID = ICCID_RE.pattern.strip("^$")


class Floor(StrEnum):
    """How low an account's available balance may go."""

    MUST_NOT_GO_NEGATIVE = "must_not_go_negative"
    NONE = "none"


@dataclass(frozen=True)
class AccountKind:
    """A kind of account: its name, the pattern of its keys and its floor."""

    name: str
    pattern: re.Pattern[str]
    floor: Floor


def _kind(name: str, pattern: str, floor: Floor) -> AccountKind:
    return AccountKind(name, re.compile(pattern), floor)


_FLOORED = Floor.MUST_NOT_GO_NEGATIVE
KINDS: tuple[AccountKind, ...] = (
    _kind("platform_revenue", r"platform:revenue", Floor.NONE),
    _kind("payment_channel", r"external:payment_channel", Floor.NONE),
    _kind("agent_available", rf"agent:{_ID}:available", _FLOORED),
    _kind("agent_commission_frozen", rf"agent:{_ID}:commission_frozen", _FLOORED),
    _kind("agent_withdrawing", rf"agent:{_ID}:withdrawing", _FLOORED),
    _kind("card_wallet", rf"wallet:{_ICCID}", _FLOORED),
    _kind("enterprise_wallet", rf"enterprise:{_ID}:wallet", _FLOORED),
    _kind("enterprise_alipay", rf"enterprise:{_ID}:alipay", Floor.NONE),  # outside money (G3)
    _kind("order_escrow", rf"order:{_ID}:escrow", _FLOORED),
    _kind("supplier_fund", rf"supplier:{_ID}:fund", _FLOORED),  # refunds may overdraw (G3-35)
    _kind("factory_settlement", rf"factory:{_ID}:settlement", Floor.NONE),  # outside money
)


def account_kind(key: str) -> AccountKind:
    """The kind of account `key` names; InvalidAccount if it follows no pattern."""
    for kind in KINDS:
        if kind.pattern.fullmatch(key):
            return kind
    raise InvalidAccount(key)


def is_account(key: str) -> bool:
    """Whether `key` is a valid ledger account key."""
    return any(kind.pattern.fullmatch(key) for kind in KINDS)


def _checked(key: str) -> str:
    account_kind(key)
    return key


REVENUE = "platform:revenue"
PAYMENT_CHANNEL = "external:payment_channel"


def agent_available(agent_id: str) -> str:
    """What the agent may spend or withdraw."""
    return _checked(f"agent:{agent_id}:available")


def agent_commission_frozen(agent_id: str) -> str:
    """Commission earned but frozen until release (SM-H-COMM)."""
    return _checked(f"agent:{agent_id}:commission_frozen")


def agent_withdrawing(agent_id: str) -> str:
    """Money on its way out in a withdrawal (SM-G2-WITHDRAWAL)."""
    return _checked(f"agent:{agent_id}:withdrawing")


def card_wallet(iccid: str) -> str:
    """The end user's wallet bound to a card (G2-12)."""
    return _checked(f"wallet:{iccid}")


def enterprise_wallet(enterprise_id: str) -> str:
    return _checked(f"enterprise:{enterprise_id}:wallet")


def enterprise_alipay(enterprise_id: str) -> str:
    """The enterprise's Alipay account, where wholesale deductions come from (G3-30)."""
    return _checked(f"enterprise:{enterprise_id}:alipay")


def order_escrow(order_id: str) -> str:
    """What a paid order holds until it completes or is refunded (G2-24)."""
    return _checked(f"order:{order_id}:escrow")


def supplier_fund(supplier_id: str) -> str:
    return _checked(f"supplier:{supplier_id}:fund")


def factory_settlement(factory_id: str) -> str:
    """Number-card settlement money from a factory (H, number cards)."""
    return _checked(f"factory:{factory_id}:settlement")
