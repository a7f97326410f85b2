"""The one list of operators CardPulse speaks to, and the statuses a card can have.

Every floor names operators and statuses from here: the API's schemas, the validation of
usage, the connectors, the simulator and the settings.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Operator = Literal["onelink", "jasper", "ctcc"]
OPERATORS: Final[tuple[Operator, ...]] = get_args(Operator)

# What CardPulse wants of a card (desired) and what an operator can be asked to make it.
CardStatus = Literal["active", "stopped"]
CARD_STATUSES: Final[tuple[CardStatus, ...]] = get_args(CardStatus)

# What the operator network last reported or confirmed; `unknown` until it says.
NetworkStatus = Literal["active", "stopped", "unknown"]
NETWORK_STATUSES: Final[tuple[NetworkStatus, ...]] = get_args(NetworkStatus)

# Operators that bill by calendar month count it in Beijing time.
OPERATOR_TIMEZONE: Final = "Asia/Shanghai"


def is_operator(name: str) -> bool:
    """Whether `name` is an operator CardPulse speaks to."""
    return name in OPERATORS
