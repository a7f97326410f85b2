"""The what-if answer of a rule version (api/routers/commission_whatif.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class AgentFiguresPublic(BaseModel):
    records: int
    amount_fen: int


class WhatIfPublic(BaseModel):
    rule_id: str
    version: int
    start: datetime
    end: datetime
    cards: int
    would_pay: dict[str, AgentFiguresPublic]
    did_pay: dict[str, AgentFiguresPublic]
    by_state: dict[str, int]
