"""Refusals of the commission facts (card attribution)."""

from __future__ import annotations

from domain.refusals import Refusal


class PromotionLinkInactive(Refusal):
    """A card attributed through a promotion code that is unknown or revoked (G1-16)."""

    code = "promotion_link_inactive"
    message_zh = "推广链接不存在或已失效"
    message_en = "The promotion link does not exist or has been revoked"
    field = "promotion_code"


class MonthRangeInvalid(Refusal):
    """A report whose `to` month is before its `from` month, or spans too many months."""

    code = "invalid_month_range"
    message_zh = "月份范围无效"
    message_en = "The month range is invalid"
    field = "to"
