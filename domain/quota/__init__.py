"""Quota enforcement: the stop-reason rules of cards and pools (`rules`) and one evaluation
of them that returns everything it decides (`evaluation`)."""

from domain.quota.evaluation import (
    AlertDue,
    CardInput,
    CardWrite,
    Check,
    DesiredChange,
    Evaluation,
    PoolInput,
    PoolWrite,
    evaluate,
)
from domain.quota.rules import (
    CARD_RULES,
    MANUAL,
    NOT_OPENED,
    PACKAGE_QUOTA,
    POOL_CARD_CAP,
    POOL_EXHAUSTED,
    REASON_ORDER,
    CardQuota,
    PoolQuota,
    desired_status,
    effective_reasons,
    next_check,
    pool_exhausted,
    reached,
)

__all__ = [
    "CARD_RULES", "MANUAL", "NOT_OPENED", "PACKAGE_QUOTA", "POOL_CARD_CAP", "POOL_EXHAUSTED",
    "REASON_ORDER",
    "AlertDue", "CardInput", "CardQuota", "CardWrite", "Check", "DesiredChange", "Evaluation",
    "PoolInput", "PoolQuota", "PoolWrite", "desired_status", "effective_reasons", "evaluate",
    "next_check", "pool_exhausted", "reached",
]
