"""The money module as operations watch it: the SQL behind the Grafana "money" dashboard.

Written with the `{start}`/`{end}` placeholders of `store.series` (rendered for Grafana by
`series.for_grafana`); ages are measured on the platform clock (`cp_now()`), as the timers
that move orders are. Amounts stay integer fen in the database; the panels divide by 100 for
a 元 axis only.
"""

from __future__ import annotations

# Orders created per hour, one series per kind.
ORDERS_CREATED = """
SELECT date_trunc('hour', created_at) AS time, kind AS metric, count(*) AS orders
FROM orders WHERE created_at >= {start} AND created_at < {end}
GROUP BY 1, 2 ORDER BY 1, 2"""
# Orders that reached an end state per hour, one series per kind and end state.
ORDERS_FINISHED = """
SELECT date_trunc('hour', finished_at) AS time, kind || ' ' || state AS metric,
       count(*) AS orders
FROM orders WHERE finished_at >= {start} AND finished_at < {end}
GROUP BY 1, 2 ORDER BY 1, 2"""
# Orders still moving: how many in each state, and since when the oldest has not moved.
ORDERS_OPEN = """
SELECT kind, state, count(*) AS orders,
       round(extract(epoch FROM cp_now() - min(updated_at)) / 60)::bigint AS oldest_minutes
FROM orders WHERE finished_at IS NULL
GROUP BY kind, state ORDER BY kind, state"""
# Paid orders a price risk holds for a platform user to release (G1-18).
ORDERS_INTERCEPTED = """
SELECT count(*) AS intercepted FROM orders
WHERE intercepted AND state = 'paid'"""
# Orders in fulfilment or refund for more than 10 minutes: something upstream is slow.
ORDERS_STUCK = """
SELECT count(*) AS stuck FROM orders
WHERE state IN ('fulfilling', 'refunding') AND updated_at < cp_now() - interval '10 minutes'"""
# Withdrawals waiting for finance or for the channel's payout, in 元.
WITHDRAWALS_WAITING = """
SELECT count(*) AS withdrawals, coalesce(sum(amount_fen), 0) / 100.0 AS yuan
FROM orders WHERE kind = 'withdrawal' AND state IN ('requested', 'approved')"""
# Money the platform kept per day (credits less debits of platform:revenue), in 元.
REVENUE_DAILY = """
SELECT date_trunc('day', created_at) AS time, sum(amount) / 100.0 AS revenue_yuan
FROM ledger_entries
WHERE account = 'platform:revenue' AND created_at >= {start} AND created_at < {end}
GROUP BY 1 ORDER BY 1"""
# The payment channel's notifications per hour by what they did (applied, ignored, …).
NOTIFICATIONS = """
SELECT date_trunc('hour', received_at) AS time, outcome AS metric, count(*) AS notifications
FROM payment_notifications WHERE received_at >= {start} AND received_at < {end}
GROUP BY 1, 2 ORDER BY 1, 2"""
# Business events written but not yet on the orders topic, and the oldest one's age.
OUTBOX_BACKLOG = """
SELECT count(*) AS events,
       coalesce(round(extract(epoch FROM cp_now() - min(created_at))), 0)::bigint AS oldest_s
FROM outbox_events WHERE published_at IS NULL"""
# The ledger's own check: every account's posted balance summed is 0, always (G2-21).
LEDGER_SUM = """
SELECT coalesce(sum(amount), 0)::bigint AS ledger_sum_fen FROM ledger_entries"""
