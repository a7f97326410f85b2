"""Bulk registration of numbers (`POST /_sim/cards`): up to 100,000 cards a call, checked
all together and registered all or none.

Fleets register every card at once, so the body is read and checked by hand in one pass
(no model object per card): a few microseconds a card, about half a second for 100,000.
"""

from __future__ import annotations

from typing import Any, Final, get_args

import orjson

from domain.usage.validation import iccid_problem
from simulators.fleet_state import Platform, SimNetwork
from simulators.numbers import msisdn_problem

MAX_REGISTRATION: Final = 100_000  # cards per call
MAX_PROBLEMS: Final = 50  # bad items named in one refusal
FIELDS: Final = frozenset({"iccid", "msisdn", "platform"})
PLATFORMS: Final[tuple[Platform, ...]] = get_args(Platform)

Registration = tuple[str, str | None, Platform]  # (iccid, msisdn, platform)


class RegistrationError(ValueError):
    """Why a registration was refused: `problems`, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems[:MAX_PROBLEMS]


def _problem(item: Any) -> str | None:
    """Why one card of the body is not one, or None."""
    if not isinstance(item, dict):
        return "must be an object"
    if not item.keys() <= FIELDS:
        return f"unknown fields {sorted(item.keys() - FIELDS)}"
    problem = iccid_problem(item.get("iccid"))
    if problem is not None:
        return f"iccid {problem}"
    msisdn = item.get("msisdn")
    problem = msisdn_problem(msisdn) if msisdn is not None else None
    if problem is not None:
        return f"msisdn {problem}"
    return None if item.get("platform", "ct") in PLATFORMS else "platform must be ct or pb"


def _cards(body: bytes) -> list[Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RegistrationError(["body must be JSON"]) from None
    cards = parsed.get("cards") if isinstance(parsed, dict) else None
    if not isinstance(cards, list):
        raise RegistrationError(['body must be {"cards": [...]}'])
    if len(cards) > MAX_REGISTRATION:
        raise RegistrationError([f"at most {MAX_REGISTRATION:,} cards per call"])
    return cards


def _repeated(card: Registration, iccids: set[str], claimed: dict[str, str]) -> str | None:
    """Whether the card's ICCID or number came earlier in the same body."""
    iccid, msisdn, _ = card
    if iccid in iccids:
        return f"iccid {iccid} given twice"
    iccids.add(iccid)
    if msisdn is not None and claimed.setdefault(msisdn, iccid) != iccid:
        return f"msisdn {msisdn} given twice"
    return None


def parse_registration(body: bytes, net: SimNetwork) -> list[Registration]:
    """The cards of a `POST /_sim/cards` body, if every one of them can be registered.

    Raises RegistrationError naming the bad items: malformed, an ICCID or a number given
    twice, or a number another card holds and keeps.
    """
    problems: list[str] = []
    found: list[Registration] = []
    iccids: set[str] = set()
    claimed: dict[str, str] = {}
    for index, item in enumerate(_cards(body)):
        problem = _problem(item)
        if problem is None:
            card = (item["iccid"], item.get("msisdn"), item.get("platform", "ct"))
            problem = _repeated(card, iccids, claimed)
            found.append(card)
        if problem is not None:
            problems.append(f"cards[{index}]: {problem}")
    for msisdn, iccid in claimed.items():
        owner = net.numbers.conflict(iccid, msisdn)
        if owner is not None and owner not in iccids:
            problems.append(f"msisdn {msisdn} ({iccid}) already belongs to {owner}")
    if problems:
        raise RegistrationError(problems)
    return found
