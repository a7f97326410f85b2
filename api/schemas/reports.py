"""The monthly money report (G2-06): integer fen (C-01), per business line, package and flow."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.agents import BusinessLine


class MoneyFigures(BaseModel):
    orders: int = Field(description="orders completed (settled) in the month, not refunded")
    receipts_fen: int = Field(description="platform receipts: retail collected (Flow 1), the "
                                          "seller's cost collected (Flow 2)")
    price_differences_fen: int = Field(description="price differences paid to agents")
    commissions_fen: int = Field(description="commissions paid to agents' balances (ledger "
                                             "fee type `commission`), net of clawbacks")
    commissions_frozen_fen: int = Field(default=0, description="commissions produced but still "
                                        "frozen or awaiting approval (not yet paid)")
    net_receipts_fen: int = Field(description="platform net receipts: receipts − price "
                                              "differences − commissions (paid and frozen)")
    purchase_fen: int = Field(description="the purchase prices of the orders (snapshotted)")
    margin_fen: int = Field(description="margin over the purchase price: net receipts − "
                                        "purchase")


class MoneyLinePublic(MoneyFigures):
    business_line: BusinessLine
    package_id: str
    package_name: str
    flow: Literal["flow_1", "flow_2"] = Field(description="flow_1: the end user paid "
                                                          "(online, wallet); flow_2: the agent")


class BusinessLineTotal(MoneyFigures):
    business_line: BusinessLine


class MoneyReport(BaseModel):
    month: str = Field(description="YYYY-MM, Asia/Shanghai month boundaries")
    timezone: str
    lines: list[MoneyLinePublic] = Field(description="per business line, package and flow")
    business_lines: list[BusinessLineTotal]
    total: MoneyFigures
