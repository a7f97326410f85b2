"""Number-card settlement batches and lines as the API shows them (H-31 … H-36)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SettlementBatchPublic(BaseModel):
    """A batch: its header, the import's counts, Σ agent commissions at import, and the
    platform's retained profit now (total − agent commissions not invalid/rejected/reversed)."""

    batch_id: str
    factory_id: str
    period: str
    total_fen: int
    lines: int
    matched: int
    unmatched: int
    agent_commission_fen: int
    retained_profit_fen: int
    negative_margin_lines: int
    task_id: str | None
    imported_by: str
    imported_at: datetime


class SettlementLinePublic(BaseModel):
    """A line: matched (agent, rule version, commission, its record and state) or unmatched
    (platform profit); `negative_margin` when the commission exceeds the line."""

    line_no: int
    iccid: str
    amount_fen: int
    status: str
    agent_id: str | None
    rule_id: str | None
    rule_version: int | None
    commission_fen: int | None
    record_id: str | None
    record_state: str | None
    negative_margin: bool
    retained_profit_fen: int


class SettlementDetail(SettlementBatchPublic):
    line_items: list[SettlementLinePublic]
