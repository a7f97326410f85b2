"""Pure decisions of card orders delivered through the workflow (I-63): what the operator of a
`ship_cards` node must post (the ICCIDs shipped and the logistics no.), and when an
`activate_cards` node may complete (every card active, or each card that is not listed as a
failure with its reason). Messages are *(proposed)*: §6.9 gives none."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from domain.refusals import Refusal
from domain.usage.validation import ICCID_RE

MAX_LOGISTICS_NO: Final = 64
MAX_REASON: Final = 200


class LogisticsNoRequired(Refusal):
    code = "logistics_no_required"
    message_zh = "请填写物流单号（不超过64个字符）"
    message_en = "Enter the logistics number (at most 64 characters)"
    field = "logistics_no"


class IccidsInvalid(Refusal):
    code = "iccids_invalid"
    message_zh = "ICCID 列表无效：须为不重复的 ICCID，数量与订单购卡数量一致"
    message_en = ("The ICCID list is invalid: distinct ICCIDs, as many as the order's cards")
    field = "iccids"


class IccidsNotInStock(Refusal):
    """409: an ICCID posted is not an unsold, unopened stock card of the order's product."""

    code = "iccids_not_in_stock"
    message_zh = "所填 ICCID 不是该商品的可用库存卡"
    message_en = "An ICCID given is not an available stock card of the product"


class FailuresInvalid(Refusal):
    code = "failures_invalid"
    message_zh = "失败列表无效：每项须为本订单的 ICCID 并填写原因（不超过200字）"
    message_en = ("The failure list is invalid: each entry needs an ICCID of this order and a "
                  "reason (at most 200 characters)")
    field = "failures"


class CardsNotActive(Refusal):
    """409: the operator confirms activation while cards are neither active nor listed as
    failures."""

    code = "cards_not_active"
    message_zh = "仍有卡未激活，请等待激活或为每张未激活的卡填写失败原因"
    message_en = "Some cards are not active yet: wait, or give a failure reason for each"


class NotShipped(Refusal):
    """409: an activation node entered before the cards were shipped."""

    code = "cards_not_shipped"
    message_zh = "订单尚未发货，无法激活"
    message_en = "The order's cards have not been shipped yet"


@dataclass(frozen=True)
class Shipment:
    """What a ship node records: the cards (None: the platform allocates them) and the
    logistics no."""

    iccids: list[str] | None
    logistics_no: str


@dataclass(frozen=True)
class Failure:
    iccid: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"iccid": self.iccid, "reason": self.reason}


def shipment(detail: Mapping[str, Any], quantity: int) -> Shipment:
    """The ship node's detail `{"iccids": [...], "logistics_no": "..."}` checked: a logistics
    no. of 1–64 characters; the ICCIDs, when given, distinct, well-formed and exactly the
    order's quantity (omitted or empty: the platform allocates them from stock)."""
    number = detail.get("logistics_no")
    if not isinstance(number, str) or not number.strip() or len(number.strip()) > MAX_LOGISTICS_NO:
        raise LogisticsNoRequired()
    raw = detail.get("iccids")
    if raw is None or raw == []:
        return Shipment(None, number.strip())
    if not isinstance(raw, list) or not all(isinstance(i, str) for i in raw):
        raise IccidsInvalid()
    iccids = [str(i) for i in raw]
    if (len(set(iccids)) != len(iccids) or len(iccids) != quantity
            or not all(ICCID_RE.fullmatch(i) for i in iccids)):
        raise IccidsInvalid()
    return Shipment(iccids, number.strip())


def failures(detail: Mapping[str, Any], iccids: Collection[str]) -> list[Failure]:
    """The activate node's failure list `{"failures": [{"iccid", "reason"}]}` (none: []);
    each entry names a card of the order once, with a reason of 1–200 characters."""
    raw = detail.get("failures") or []
    if not isinstance(raw, list):
        raise FailuresInvalid()
    found: list[Failure] = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            raise FailuresInvalid()
        iccid, reason = entry.get("iccid"), entry.get("reason")
        if (not isinstance(iccid, str) or iccid not in iccids or not isinstance(reason, str)
                or not reason.strip() or len(reason.strip()) > MAX_REASON):
            raise FailuresInvalid()
        found.append(Failure(iccid, reason.strip()))
    if len({f.iccid for f in found}) != len(found):
        raise FailuresInvalid()
    return found


def activation_done(iccids: Sequence[str], active: Collection[str],
                    failed: Sequence[Failure]) -> bool:
    """Whether an activate node may complete: every card of the order is active or listed
    as a failure (an order without cards has nothing to wait for)."""
    listed = {f.iccid for f in failed}
    return all(i in active or i in listed for i in iccids)


def inactive(iccids: Sequence[str], active: Collection[str]) -> list[str]:
    """The order's cards not reported active yet, in order."""
    return [i for i in iccids if i not in active]
