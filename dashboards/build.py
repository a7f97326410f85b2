"""CardPulse's Grafana dashboards as code (grafana-foundation-sdk, Grafana 11 line).

Five dashboards: ops (Prometheus: pipeline health, lag, enforcement latency, operator
commands), enterprise pools and a single card (PostgreSQL/TimescaleDB, the same SQL as the API:
`store.series`), and money (orders, payments, the ledger, the outbox: `store.money_series`;
commissions: `store.commission_series`), and delivery (projects, saturation, timeouts, the
queue, the work calendar: `store.delivery.dashboard_series`).
`python -m dashboards.build` writes the JSON to `dashboards/generated/`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders.dashboard import ThresholdsConfig
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    FieldColorModeId,
    Threshold,
    ThresholdsMode,
)

from store import commission_series as commission_sql
from store import money_series as money_sql
from store import series
from store.delivery import dashboard_series as delivery_sql

PROMETHEUS = DataSourceRef(type_val="prometheus", uid="cardpulse-prometheus")
POSTGRES = DataSourceRef(type_val="grafana-postgresql-datasource", uid="cardpulse-postgres")
GENERATED = Path(__file__).parent / "generated"


class SqlQuery(cogvariants.Dataquery):
    """A raw-SQL target for Grafana's PostgreSQL data source (the SDK has no builder for it)."""

    def __init__(self, ref_id: str, raw_sql: str, fmt: str) -> None:
        self.ref_id, self.raw_sql, self.fmt = ref_id, raw_sql, fmt

    def to_json(self) -> dict[str, Any]:
        return {"refId": self.ref_id, "rawSql": self.raw_sql, "format": self.fmt,
                "rawQuery": True, "editorMode": "code",
                "datasource": {"type": POSTGRES.type_val, "uid": POSTGRES.uid}}


class Sql(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, raw_sql: str, fmt: str = "time_series", ref_id: str = "A") -> None:
        self._query = SqlQuery(ref_id, raw_sql, fmt)

    def build(self) -> cogvariants.Dataquery:
        return self._query


def promql(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id)


def prom_panel(title: str, unit: str, *targets: prometheus.Dataquery) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).datasource(PROMETHEUS).unit(unit)
             .height(8).span(12))
    for target in targets:
        panel = panel.with_target(target)
    return panel


def ops() -> dash.Dashboard:
    """Pipeline health for the people who run CardPulse."""
    board = (dash.Dashboard("CardPulse — operations").uid("cardpulse-ops")
             .tags(["cardpulse"]).refresh("10s").time("now-1h", "now").timezone("browser"))
    panels = [
        prom_panel("Usage records ingested /s", "reqps", promql(
            "sum by (outcome) (rate(cardpulse_usage_records_ingested_total[1m]))",
            "{{outcome}}")),
        prom_panel("Consumer lag (messages)", "short", promql(
            "max by (group) (cardpulse_consumer_lag_messages)", "{{group}}")),
        prom_panel("Enforcement latency", "s",
                   promql("histogram_quantile(0.5, sum by (le) "
                          "(rate(cardpulse_enforcement_latency_seconds_bucket[5m])))", "p50"),
                   promql("histogram_quantile(0.99, sum by (le) "
                          "(rate(cardpulse_enforcement_latency_seconds_bucket[5m])))", "p99",
                          "B"),
                   promql("histogram_quantile(0.99, sum by (le) "
                          "(rate(cardpulse_enforcement_decision_seconds_bucket[5m])))",
                          "p99 decision (usage → desired state)", "C")),
        prom_panel("Batch size (records, p50)", "short", promql(
            "histogram_quantile(0.5, sum by (le) (rate(cardpulse_usage_batch_records_bucket[5m])))",
            "p50")),
        prom_panel("Operator commands /s", "reqps", promql(
            "sum by (dialect, outcome) (rate(cardpulse_operator_calls_total[1m]))",
            "{{dialect}} {{outcome}}")),
        prom_panel("Operator API latency p99", "s", promql(
            "histogram_quantile(0.99, sum by (le, dialect) "
            "(rate(cardpulse_operator_call_seconds_bucket[5m])))", "{{dialect}}")),
        prom_panel("Reconciler queue and failed cards", "short",
                   promql("sum by (dialect) (cardpulse_reconciler_queue_depth)", "{{dialect}}"),
                   promql("max(cardpulse_control_failed_cards)", "failed", "B")),
        prom_panel("Dead letters /min", "short", promql(
            "sum by (source) (increase(cardpulse_dead_letters_total[1m]))", "{{source}}")),
        prom_panel("API requests /s by status", "reqps", promql(
            "sum by (status) (rate(cardpulse_api_request_duration_seconds_count[1m]))",
            "{{status}}")),
        prom_panel("Fullest pools (share of limit)", "percentunit", promql(
            "topk(10, cardpulse_pool_utilisation_ratio)", "{{pool}}")),
        # below 60 the API's /healthz warns: enter next year's holidays (POST
        # /v1/work-calendar/years/{year}) or node deadlines become unknown (I-41)
        prom_panel("Work calendar left (warn below 60 days)", "s", promql(
            "min(cardpulse_work_calendar_left_seconds)", "left")),
    ]
    for panel in panels:
        board = board.with_panel(panel)
    return board


def _textbox(name: str, label: str, default: str) -> dash.TextBoxVariable:
    return dash.TextBoxVariable(name).label(label).default_value(default)


def pools() -> dash.Dashboard:
    """One enterprise pool: usage, utilisation, top cards, stopped cards."""
    g = series.for_grafana
    return (dash.Dashboard("CardPulse — enterprise pool").uid("cardpulse-pool")
            .tags(["cardpulse"]).time("now-7d", "now").timezone("Asia/Shanghai")
            .with_variable(_textbox("pool", "Pool", "fleet"))
            .with_variable(_textbox("top", "Top N", "10"))
            .with_panel(timeseries.Panel().title("Pool usage by hour").datasource(POSTGRES)
                        .unit("bytes").span(12).height(8).with_target(Sql(g(series.POOL_HOURLY))))
            .with_panel(timeseries.Panel().title("Utilisation this cycle").datasource(POSTGRES)
                        .unit("percent").span(12).height(8)
                        .with_target(Sql(g(series.POOL_UTILISATION))))
            .with_panel(table.Panel().title("Top cards this cycle").datasource(POSTGRES)
                        .span(12).height(10).with_target(Sql(g(series.POOL_TOP_CARDS), "table")))
            .with_panel(table.Panel().title("Stopped cards").datasource(POSTGRES).span(12)
                        .height(10).with_target(Sql(g(series.POOL_STOPPED_CARDS), "table"))))


def card() -> dash.Dashboard:
    """One card's traffic, hourly and daily — works on plain PostgreSQL too."""
    g = series.for_grafana
    return (dash.Dashboard("CardPulse — card").uid("cardpulse-card").tags(["cardpulse"])
            .time("now-2d", "now").timezone("Asia/Shanghai")
            .with_variable(_textbox("iccid", "ICCID", "89860000000000000001"))
            .with_panel(timeseries.Panel().title("Traffic by hour").datasource(POSTGRES)
                        .unit("bytes").span(24).height(8).with_target(Sql(g(series.CARD_HOURLY))))
            .with_panel(timeseries.Panel().title("Traffic by day").datasource(POSTGRES)
                        .unit("bytes").span(12).height(8).with_target(Sql(g(series.CARD_DAILY))))
            .with_panel(stat.Panel().title("Usage in the period").datasource(POSTGRES)
                        .unit("bytes").span(12).height(8)
                        .with_target(Sql(g(series.CARD_DAILY)))))


def _sql_panel(kind: Any, title: str, query: str, unit: str, span: int,
               fmt: str = "time_series") -> Any:
    return (kind.Panel().title(title).datasource(POSTGRES).unit(unit).span(span).height(8)
            .with_target(Sql(series.for_grafana(query), fmt)))


def money() -> dash.Dashboard:
    """Orders moving through their states, what waits on someone, the platform's receipts,
    the payment channel's notifications, the outbox and the ledger's zero sum; commissions by
    state, pending approvals, overdue unfreezes (the H-13 timer) and reversals."""
    m = money_sql
    return (dash.Dashboard("CardPulse — money").uid("cardpulse-money").tags(["cardpulse"])
            .time("now-2d", "now").timezone("Asia/Shanghai")
            .with_panel(_sql_panel(stat, "Ledger sum (must be 0)", m.LEDGER_SUM, "none", 4,
                                   "table"))
            .with_panel(_sql_panel(stat, "Stuck in fulfilment or refund > 10 min",
                                   m.ORDERS_STUCK, "none", 5, "table"))
            .with_panel(_sql_panel(stat, "Intercepted, waiting for release", m.ORDERS_INTERCEPTED,
                                   "none", 5, "table"))
            .with_panel(_sql_panel(stat, "Withdrawals waiting", m.WITHDRAWALS_WAITING, "none",
                                   5, "table"))
            .with_panel(_sql_panel(stat, "Outbox not yet published", m.OUTBOX_BACKLOG, "none",
                                   5, "table"))
            .with_panel(_sql_panel(timeseries, "Orders created per hour", m.ORDERS_CREATED,
                                   "none", 12))
            .with_panel(_sql_panel(timeseries, "Orders finished per hour", m.ORDERS_FINISHED,
                                   "none", 12))
            .with_panel(_sql_panel(table, "Open orders by state", m.ORDERS_OPEN, "none", 12,
                                   "table"))
            .with_panel(_sql_panel(timeseries, "Platform revenue per day (元)",
                                   m.REVENUE_DAILY, "currencyCNY", 12))
            .with_panel(_sql_panel(timeseries, "Payment notifications per hour",
                                   m.NOTIFICATIONS, "none", 24))
            .with_panel(_sql_panel(table, "Commissions by state (count, 元)",
                                   commission_sql.BY_STATE, "none", 8, "table"))
            .with_panel(_sql_panel(stat, "Commission approvals pending (oldest, hours)",
                                   commission_sql.APPROVALS_PENDING, "none", 5, "table"))
            .with_panel(_sql_panel(stat, "Frozen commissions past due > 60 s (must be 0)",
                                   commission_sql.OVERDUE, "none", 5, "table"))
            .with_panel(_sql_panel(timeseries, "Commission reversals per day (元)",
                                   commission_sql.REVERSALS_DAILY, "currencyCNY", 6)))


# I-59 on Grafana: < 40 % green, 40 %–80 % blue, > 80 % red (80.01: the first share above
# 80 % with a max load ≤ 2000 is 80.05 %, so exactly 80 % stays blue).
SATURATION_STEPS = [Threshold(None, "green"), Threshold(40, "blue"), Threshold(80.01, "red")]


def delivery() -> dash.Dashboard:
    """The delivery workflow: projects by status and per day, the mean completion cycle,
    provider saturation, timed-out nodes, the queue, overdue timeout sweeps (must be 0), the
    days the work calendar still covers, and the webhook and email reminders' outcomes."""
    d = delivery_sql
    saturation = (bargauge.Panel().title("Provider saturation (%)").datasource(POSTGRES)
                  .unit("percent").min(0).max(100).span(12).height(8)
                  .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE)
                              .steps(SATURATION_STEPS))
                  .color_scheme(dash.FieldColor().mode(FieldColorModeId.THRESHOLDS))
                  .with_target(Sql(series.for_grafana(d.SATURATION), "table")))
    return (dash.Dashboard("CardPulse — delivery").uid("cardpulse-delivery")
            .tags(["cardpulse"]).time("now-30d", "now").timezone("Asia/Shanghai")
            .with_panel(_sql_panel(stat, "Overdue timeout sweeps > 60 s (must be 0)",
                                   d.OVERDUE, "none", 6, "table"))
            .with_panel(_sql_panel(stat, "Timed-out running nodes", d.TIMED_OUT, "none", 6,
                                   "table"))
            .with_panel(_sql_panel(stat, "Queue (projects, oldest minutes)", d.QUEUE, "none",
                                   6, "table"))
            .with_panel(_sql_panel(stat, "Work calendar days left", d.CALENDAR_LEFT, "d", 6,
                                   "table"))
            .with_panel(_sql_panel(table, "Projects by status", d.BY_STATUS, "none", 6,
                                   "table"))
            .with_panel(_sql_panel(stat, "Mean completion cycle, 365 days (days)", d.CYCLE,
                                   "none", 6, "table"))
            .with_panel(saturation)
            .with_panel(_sql_panel(table, "Reminders by webhook and email, 24 h", d.REMINDERS,
                                   "none", 12, "table"))
            .with_panel(_sql_panel(timeseries, "New projects per day", d.NEW_DAILY, "none",
                                   24)))


def all_dashboards() -> list[dict[str, Any]]:
    """Every dashboard as Grafana JSON (plain dicts)."""
    return [json.loads(json.dumps(board.build(), cls=JSONEncoder))
            for board in (ops(), pools(), card(), money(), delivery())]


def sql_targets(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, raw SQL) of every SQL target of a dashboard."""
    return [(p.get("title", ""), t["rawSql"]) for p in board.get("panels", [])
            for t in p.get("targets", []) if "rawSql" in t]


def promql_exprs(board: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.get("title", ""), t["expr"]) for p in board.get("panels", [])
            for t in p.get("targets", []) if "expr" in t]


def write(directory: Path = GENERATED) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for board in all_dashboards():
        path = directory / f"{board['uid']}.json"
        path.write_text(json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(path)
