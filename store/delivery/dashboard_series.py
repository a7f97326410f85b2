"""The delivery workflow as operations watch it: the SQL behind the Grafana "delivery" dashboard
(dashboards/build.py). `{start}`/`{end}` are the placeholders of `store.series`; "now" is the
platform clock (`cp_now()`), as the timeout sweep and the queue poll read it. Days are
Asia/Shanghai days, as the console's dashboard counts them (I-55)."""

from __future__ import annotations

# Projects in each status right now.
BY_STATUS = """
SELECT status, count(*) AS projects FROM dl_projects GROUP BY status ORDER BY status"""
# New projects per Asia/Shanghai day.
NEW_DAILY = """
SELECT (date_trunc('day', created_at AT TIME ZONE 'Asia/Shanghai')
        AT TIME ZONE 'Asia/Shanghai') AS time, count(*) AS projects
FROM dl_projects WHERE created_at >= {start} AND created_at < {end}
GROUP BY 1 ORDER BY 1"""
# The mean completion cycle of I-56 (days, half-up to 0.1: `round` on numeric rounds half away
# from zero) over the projects completed in the 365 days before 00:00 today.
CYCLE = """
WITH today AS (SELECT date_trunc('day', cp_now() AT TIME ZONE 'Asia/Shanghai')
                      AT TIME ZONE 'Asia/Shanghai' AS at)
SELECT round(avg(extract(epoch FROM completed_at - created_at)) / 86400, 1) AS cycle_days,
       count(*) AS projects
FROM dl_projects, today
WHERE completed_at >= today.at - interval '365 days' AND completed_at < today.at"""
# Each product's providers: live load ÷ max load in %, unrounded (with max loads ≤ 2000 the
# first share above 80 % is 80.05 %, so a red threshold at 80.01 is exact); max load 0 = 100 %.
SATURATION = """
SELECT pr.product_no || ' / ' || pp.provider_id AS provider,
       CASE WHEN pp.max_load = 0 THEN 100
            ELSE count(p.project_id) * 100.0 / pp.max_load END AS percent
FROM dl_product_providers pp
JOIN dl_products pr ON pr.product_id = pp.product_id
LEFT JOIN dl_projects p ON p.product_id = pp.product_id AND p.provider_id = pp.provider_id
                       AND p.status IN ('in_progress', 'paused')
GROUP BY pr.product_no, pp.provider_id, pp.max_load ORDER BY 1"""
# Current node runs past their deadline (flagged by the timeout sweep).
TIMED_OUT = """
SELECT count(*) AS timed_out FROM dl_node_runs
WHERE state = 'active' AND timed_out_at IS NOT NULL"""
# The queue: waiting projects and the oldest one's wait in minutes.
QUEUE = """
SELECT count(*) AS queued,
       coalesce(round(extract(epoch FROM cp_now() - min(queued_at)) / 60), 0)::bigint
           AS oldest_minutes
FROM dl_queue"""
# Runs more than 60 s past their deadline that the timeout sweep has not flagged: must be 0.
OVERDUE = """
SELECT count(*) AS overdue FROM dl_node_runs
WHERE state = 'active' AND timed_out_at IS NULL
  AND deadline_at < cp_now() - interval '60 seconds'"""
# Days the work calendar still covers after today (deadlines beyond it are unknown, I-62).
CALENDAR_LEFT = """
SELECT coalesce(max(day) - (cp_now() AT TIME ZONE 'Asia/Shanghai')::date, 0) AS days_left
FROM work_calendar"""
# Reminders sent outside the console in the last 24 h, by channel and outcome: `failed`,
# `retrying` and `no_smtp` are what to look at.
REMINDERS = """
SELECT channel, outcome, count(*) AS reminders FROM dl_notifications
WHERE channel <> 'inbox' AND created_at >= cp_now() - interval '24 hours'
GROUP BY channel, outcome ORDER BY channel, outcome"""
