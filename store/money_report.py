"""The monthly money report (G2-06) summed from the LEDGER: the package orders whose
settlement — the platform's `cost` leg into `platform:revenue` (G2-24) — was posted in the
month and not reversed since (a refunded order leaves the report), grouped by business line,
package and flow. Per order: receipts are what its escrow received (fee types `retail` in
Flow 1, `cost` in Flow 2), price differences what it paid agents (`price_difference`),
commissions the `commission` transfers tagged with it that reached the agent's available
balance (paid at once, or released after the freeze) net of clawbacks, and — apart — those
still frozen (SM-H-COMM: a frozen commission is not yet paid; it left platform revenue and
returns there if invalidated, rejected or reversed); the purchase price is the one the order
snapshotted (G1-13).
Figures: `domain.orders.report`."""

from __future__ import annotations

from datetime import datetime

from psycopg.rows import class_row

from domain.ledger import REVENUE
from domain.orders.report import ReportLine
from store.db import Conn

_REPORT = """
WITH settled AS (
    SELECT s.order_id FROM ledger_transfers s
    WHERE s.fee_type = 'cost' AND s.credit_account = %(revenue)s AND s.reverses IS NULL
      AND s.order_id IS NOT NULL
      AND s.created_at >= %(start)s AND s.created_at < %(end)s
      AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.reverses = s.transfer_id)
), money AS (
    SELECT t.order_id,
        coalesce(sum(t.amount) FILTER (
            WHERE t.credit_account = 'order:' || t.order_id || ':escrow'
              AND t.fee_type IN ('retail', 'cost') AND t.reverses IS NULL), 0) AS receipts,
        coalesce(sum(t.amount) FILTER (
            WHERE t.fee_type = 'price_difference' AND t.reverses IS NULL), 0) AS differences,
        coalesce(sum(CASE WHEN t.credit_account LIKE 'agent:%%:available' THEN t.amount
                          ELSE -t.amount END)
            FILTER (WHERE t.fee_type = 'commission' AND t.state = 'posted'
                    AND 'agent:%%:available' IN (t.debit_account, t.credit_account)), 0)
            AS commissions,
        coalesce(sum(CASE WHEN t.credit_account LIKE 'agent:%%:commission_frozen' THEN t.amount
                          ELSE -t.amount END)
            FILTER (WHERE t.fee_type = 'commission' AND t.state = 'posted'
                    AND (t.credit_account LIKE 'agent:%%:commission_frozen'
                         OR t.debit_account LIKE 'agent:%%:commission_frozen')), 0) AS frozen
    FROM ledger_transfers t JOIN settled USING (order_id)
    GROUP BY t.order_id
)
SELECT k.business_line, o.package_id, k.name AS package_name,
    CASE WHEN o.method = 'agent_wallet' THEN 'flow_2' ELSE 'flow_1' END AS flow,
    count(*)::int AS orders, sum(m.receipts)::bigint AS receipts_fen,
    sum(m.differences)::bigint AS price_differences_fen,
    sum(m.commissions)::bigint AS commissions_fen,
    coalesce(sum((o.price_chain ->> 'purchase_price_fen')::bigint), 0)::bigint AS purchase_fen,
    sum(m.frozen)::bigint AS commissions_frozen_fen
FROM money m JOIN orders o USING (order_id) JOIN packages k ON k.package_id = o.package_id
WHERE o.kind = 'package'
GROUP BY k.business_line, o.package_id, k.name, 4
ORDER BY k.business_line, o.package_id, 4
"""


async def money_report(conn: Conn, start: datetime, end: datetime) -> list[ReportLine]:
    """The lines of the report for the orders settled in [start, end)."""
    async with conn.cursor(row_factory=class_row(ReportLine)) as cur:
        await cur.execute(_REPORT, {"revenue": REVENUE, "start": start, "end": end})
        return await cur.fetchall()
