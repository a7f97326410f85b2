"""What pricing refuses (C-06): seed and proposed messages exactly as specs/business.md §1
gives them. A refusal naming a field answers 422, the others 409 (`api/errors.py`)."""

from __future__ import annotations

from domain.refusals import Refusal


class CostBelowPurchase(Refusal):
    """G1-06: the platform's cost price for an agent below the package's purchase price."""

    code = "cost_below_purchase"
    message_zh = "成本价不能低于进货价"
    message_en = "Cost price must not be lower than the purchase price"
    field = "amount_fen"


class PriceBelowCost(Refusal):
    """G1-07 / G1-11: a sale price (downstream cost or retail) below the seller's own cost."""

    code = "price_below_cost"
    message_zh = "销售价格不能低于成本价"
    message_en = "Sale price must not be lower than the cost price"
    field = "amount_fen"


class MarkupCapExceeded(Refusal):
    """G1-10: a sale price above twice the seller's own cost price."""

    code = "markup_cap_exceeded"
    message_zh = "代理的销售价格不能大于成本价的两倍"
    message_en = "An agent's sale price must not exceed twice its cost price"
    field = "amount_fen"


class NoOwnCost(Refusal):
    """G1-08: an agent sells (retail, or to its downstream) only what it has a cost price for."""

    code = "no_cost_price"
    message_zh = "该代理没有此套餐的成本价，不能销售"  # (proposed)
    message_en = "The agent has no cost price for this package and cannot sell it"
    field = "package_id"


class FactoryPriced(Refusal):
    """G1-15: number cards are priced by the factory; no agent sets or marks up their price."""

    code = "factory_priced"
    message_zh = "号卡由厂家定价，不能设置价格"  # (proposed)
    message_en = "Number cards are priced by the factory; their price cannot be set"
    field = "package_id"


class PriceUnavailable(Refusal):
    """G1-08 / G1-12: a price of the chain is missing or invalid: not for sale through this
    agent now."""

    code = "price_unavailable"
    message_zh = "该套餐暂不可售"
    message_en = "This package is temporarily not for sale"


class AgentDisabled(Refusal):
    """G1-20: the agent, or one of its upstream agents, is disabled: no new sales."""

    code = "agent_disabled"
    message_zh = "该代理商已停用，暂不可售"  # (proposed)
    message_en = "The agent (or an upstream agent) is disabled: no new sales"


class LineNotAllowed(Refusal):
    """G1-19: the agent (or an upstream agent) may not sell this business line."""

    code = "business_line_not_allowed"
    message_zh = "该代理商不可销售此业务线"  # (proposed)
    message_en = "The agent may not sell this business line"


class CyclicMove(Refusal):
    """G1-21: an agent cannot move below itself or its own downstream."""

    code = "agent_cycle"
    message_zh = "不能将代理商移动到其自身或其下游代理之下"  # (proposed)
    message_en = "An agent cannot move below itself or its own downstream"
    field = "parent_id"


class LinesBeyondParent(Refusal):
    """G1-19: a downstream agent sells only business lines its parent may sell."""

    code = "business_lines_beyond_parent"
    message_zh = "下游代理的业务线不能超出上级代理"  # (proposed)
    message_en = "A downstream agent's business lines must be among its parent's"
    field = "business_lines"


class PeriodConflict(Refusal):
    """A price version must start now or later: the past is never rewritten."""

    code = "price_period_in_past"
    message_zh = "价格生效时间不能早于当前时间"  # (proposed)
    message_en = "A price cannot take effect in the past"
    field = "valid_from"


class PriceEnded(Refusal):
    """Deleting a version whose period has ended would rewrite history."""

    code = "price_ended"
    message_zh = "已失效的历史价格不能删除"  # (proposed)
    message_en = "A price whose period has ended cannot be deleted"


class IdempotencyConflict(Refusal):
    """C-05: the Idempotency-Key was used before for a different request."""

    code = "idempotency_conflict"
    message_zh = "幂等键已用于其他请求"  # (proposed)
    message_en = "The Idempotency-Key was already used for a different request"


class NotPromotable(Refusal):
    """G1-16: only listed number cards are promoted by link or card board."""

    code = "not_promotable"
    message_zh = "只有已上架的号卡可以通过推广链接或卡板推广"  # (proposed)
    message_en = "Only listed number cards are promoted by link or card board"
    field = "package_id"


class PeriodEmpty(Refusal):
    """A price's period ends after it begins."""

    code = "price_period_empty"
    message_zh = "价格失效时间必须晚于生效时间"  # (proposed)
    message_en = "A price must end after it takes effect"
    field = "valid_to"
