"""Commissions as operations watch them: the SQL behind the commission panels of the Grafana
"money" dashboard (dashboards/build.py). `{start}`/`{end}` are the placeholders of
`store.series`; ages are measured on the platform clock (`cp_now()`), as the H-13 timer that
unfreezes records reads it (C-09). Amounts stay integer fen; panels divide by 100 for 元."""

from __future__ import annotations

# Commission records in each state: how many and how much.
BY_STATE = """
SELECT state, count(*) AS records, coalesce(sum(amount_fen), 0) / 100.0 AS yuan
FROM commission_records GROUP BY state ORDER BY state"""
# Unfreeze approvals waiting for platform finance, and how long the oldest has waited.
APPROVALS_PENDING = """
SELECT count(*) AS pending,
       coalesce(round(extract(epoch FROM cp_now() - min(created_at)) / 3600), 0)::bigint
           AS oldest_hours
FROM commission_approvals WHERE state = 'pending'"""
# Frozen records more than 60 s past their due instant: 0, or the H-13 timer is late (C-09).
OVERDUE = """
SELECT count(*) AS overdue FROM commission_records
WHERE state = 'frozen' AND unfreeze_due_at < cp_now() - interval '60 seconds'"""
# Reversals per day: from frozen money (returned) and from paid money (clawed back), in 元.
REVERSALS_DAILY = """
SELECT date_trunc('day', created_at) AS time,
       CASE WHEN transfer_id LIKE '%:clawback' THEN 'clawback' ELSE 'returned' END
           AS metric,
       sum(amount) / 100.0 AS yuan
FROM ledger_transfers
WHERE fee_type = 'commission' AND transfer_id LIKE 'commission:%'
  AND (transfer_id LIKE '%:clawback' OR transfer_id LIKE '%:return')
  AND created_at >= {start} AND created_at < {end}
GROUP BY 1, 2 ORDER BY 1, 2"""
