"""A product's providers (I-25 … I-28, SM-I-PRODUCT-PROVIDERS): the pure rules.

`provider_problems` checks the list a vendor saves as a whole: every weight an integer 1–100,
every max load an integer 0–2000 (I-27, in the seed's words), providers the vendor may use (itself
or a provider linked by platform operations, I-02, I-03), each once. A row without a weight or a
max load gets the defaults of the selection dialog, 10 and 1000.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

DEFAULT_WEIGHT: Final = 10
DEFAULT_MAX_LOAD: Final = 1000
MAX_LOAD: Final = 2000
# I-27's messages, byte for byte.
RANGE: Final = ("权重取值范围为1-100，最大持单量取值范围为0-2000",
                "Weight ranges 1–100, max load 0–2000")
INTEGER: Final = ("文本框只支持整数，不支持小数", "Only integers are accepted, not decimals")
OVER: Final = ("最大持单量不得超过 2000", "Max load must not exceed 2000")
UNLINKED: Final = ("该服务商未与厂商建立服务关系，请联系平台运营配置",
                   "The provider is not linked to the vendor: ask platform operations")
TWICE: Final = ("服务商重复", "The provider is listed twice")
# I-25's provider status.
UNCONFIGURED: Final = "未配置"
CONFIGURED: Final = "已配置"


@dataclass(frozen=True)
class Problem:
    """One refused value of the list: row index, field, code, messages."""

    index: int
    field: str
    code: str
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class ProviderRow:
    provider_id: str
    weight: int
    max_load: int


def _number(value: Any, low: int, high: int, field: str, index: int) -> Problem | int:
    """An integer from a JSON number or the text of a box, or why not."""
    if isinstance(value, bool):
        return Problem(index, field, "provider_range", *RANGE)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return Problem(index, field, "provider_range", *RANGE)
    if not number.is_finite():
        return Problem(index, field, "provider_range", *RANGE)
    if number != number.to_integral_value():
        return Problem(index, field, "provider_integer", *INTEGER)
    if field == "max_load" and number > MAX_LOAD:
        return Problem(index, field, "provider_max_load_exceeded", *OVER)
    if not low <= number <= high:
        return Problem(index, field, "provider_range", *RANGE)
    return int(number)


def provider_problems(rows: Sequence[Mapping[str, Any]], allowed: Collection[str]
                      ) -> tuple[list[ProviderRow], list[Problem]]:
    """The rows as saved (defaults filled), and every problem of the list (I-27)."""
    saved: list[ProviderRow] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        provider = str(row.get("provider_id") or "")
        if provider not in allowed:
            problems.append(Problem(i, "provider_id", "provider_not_linked", *UNLINKED))
        elif provider in seen:
            problems.append(Problem(i, "provider_id", "provider_twice", *TWICE))
        seen.add(provider)
        raw_weight, raw_load = row.get("weight"), row.get("max_load")
        weight = _number(DEFAULT_WEIGHT if raw_weight in (None, "") else raw_weight,
                         1, 100, "weight", i)
        load = _number(DEFAULT_MAX_LOAD if raw_load in (None, "") else raw_load,
                       0, MAX_LOAD, "max_load", i)
        problems += [p for p in (weight, load) if isinstance(p, Problem)]
        if isinstance(weight, int) and isinstance(load, int):
            saved.append(ProviderRow(provider, weight, load))
    return saved, problems


def provider_status(configured: int) -> str:
    """I-25: 已配置 with at least one provider, else 未配置."""
    return CONFIGURED if configured > 0 else UNCONFIGURED
