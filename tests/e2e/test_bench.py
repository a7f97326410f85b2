"""`cardpulse bench` end to end with tiny numbers: every phase runs and the report is whole.

Speed is what the benchmark measures, never what a test asserts: this checks the report's
shape and the facts behind it (every record counted once, every probe card stopped)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

NAMES = {"pipeline_records_per_s", "copy_rows_per_s", "kafka_consume_records_per_s",
         "ratio_to_copy", "enforcement_latency_ms", "peak_rss_mb", "cards", "pools", "records",
         "partitions", "workers"}


def test_bench_runs_every_phase_and_ends_with_the_json_report(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")}
    run = subprocess.run(
        [sys.executable, "-m", "cardpulse.cli", "bench", "--cards", "300", "--records", "6000",
         "--pools", "3", "--partitions", "4", "--workers", "2", "--probes", "6",
         "--probe-rate", "20", "--push-size", "500", "--state-dir", str(tmp_path / "state"),
         "--json"],
        capture_output=True, text=True, timeout=300, check=False, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report.keys() >= NAMES
    assert (report["cards"], report["pools"], report["records"]) == (300, 3, 6000)
    assert (report["partitions"], report["workers"]) == (4, 2)
    for name in ("pipeline_records_per_s", "copy_rows_per_s", "kafka_consume_records_per_s"):
        assert report[name] > 0
    assert report["ratio_to_copy"] == pytest.approx(
        report["pipeline_records_per_s"] / report["copy_rows_per_s"], abs=0.002)
    latency = report["enforcement_latency_ms"]
    assert (latency["samples"], latency["missed"]) == (6, 0)
    assert latency["p50"] <= latency["p99"] <= latency["max"] and latency["max"] > 0
    assert report["peak_rss_mb"].keys() >= {"api", "worker-0", "worker-1", "controls",
                                             "simulator", "postgres", "kafka"}
    for phase in ("throughput", "enforcement"):  # every usage record writes some WAL
        wal = report["wal"][phase]
        assert wal.keys() == {"wal_bytes_per_record", "wal_records_per_record",
                              "full_page_images_per_record", "checkpoints", "autovacuums"}
        assert wal["wal_bytes_per_record"] > 100  # at least the record's own row
        # The rest can be 0 in a run this small: WAL records and full-page images are
        # reported lazily (see store.diagnostics.PgCounters), and a checkpoint or autovacuum
        # need not happen. Counts of events are whole numbers.
        assert type(wal["checkpoints"]) is int and type(wal["autovacuums"]) is int
    # the phases said what they did, on stderr
    assert "verified: every record counted exactly once" in run.stderr
    assert "6/6 probe cards stopped" in run.stderr


def test_bench_refuses_nonsense_before_starting_anything() -> None:
    run = subprocess.run([sys.executable, "-m", "cardpulse.cli", "bench", "--records", "0"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "--records must be at least 1" in run.stderr


CARDS_PAGES = {"first page", "status=stopped", "status=active", "reason=manual",
               "reason=pool_exhausted", "operator=ctcc", "pool",
               "operator=jasper&status=stopped", "ICCID prefix", "MSISDN",
               "deep page (cursor)", "stopped, deep page", "card page"}


@pytest.mark.req("CONSOLE")
def test_the_cards_page_bench_loads_the_fleet_and_times_every_page(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")}
    run = subprocess.run(
        [sys.executable, "-m", "cardpulse.cli", "bench", "--console-cards", "--cards", "2000",
         "--pools", "10", "--runs", "2", "--partitions", "4",
         "--state-dir", str(tmp_path / "state"), "--json"],
        capture_output=True, text=True, timeout=300, check=False, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert (report["cards"], report["pools"], report["runs"]) == (2000, 10, 2)
    assert report["pages_ms"].keys() == CARDS_PAGES
    for name, page in report["pages_ms"].items():
        assert 0 < page["p50"] <= page["p95"] <= page["max"], name
        assert page["runs"] == 2
    shown = {name: page["cards_shown"] for name, page in report["pages_ms"].items()}
    assert shown["first page"] == shown["status=active"] == shown["deep page (cursor)"] == 50
    assert shown["MSISDN"] == 1 and shown["card page"] == 0  # a card page lists no cards
    assert 0 < shown["ICCID prefix"] <= 50 and shown["reason=pool_exhausted"] > 0
    assert report["worst_p95_ms"] == max(p["p95"] for p in report["pages_ms"].values())
    assert "loaded 2,000 cards in 10 pools" in run.stderr


ORDERS_RATES = ("orders_created_per_s", "orders_completed_per_s",
                "orders_created_single_per_s", "orders_completed_single_per_s",
                "ledger_transfers_per_s", "ledger_transfers_spread_per_s",
                "insert_floor_rows_per_s")


@pytest.mark.req("G2-18")
def test_the_orders_bench_completes_every_order_and_reports_the_three_rates(tmp_path: Path
                                                                           ) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")}
    run = subprocess.run(
        [sys.executable, "-m", "cardpulse.cli", "bench", "--orders", "60", "--partitions", "4",
         "--workers", "1", "--state-dir", str(tmp_path / "state"), "--json"],
        capture_output=True, text=True, timeout=300, check=False, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert (report["orders"], report["cards"], report["workers"]) == (60, 60, 1)
    for name in ORDERS_RATES:
        assert report[name] > 0, name
    for phase in ("single creates", "batches of 500"):  # each phase says what it did
        assert f"60 orders ({phase}) created in" in run.stderr, run.stderr[-3000:]
    assert "60 ledger transfers in" in run.stderr
    # commission (issue 17 "Speed"): two records per order, by the consumer (the batch
    # phase) and in process (the single phase's orders, backdated rules)
    assert report["commission_records"] == 120
    for name in ("commission_evaluations_per_s", "commission_records_per_s",
                 "commission_reevaluations_per_s", "commission_median_batch_ms"):
        assert report[name] > 0, name
    assert report["commission_records_per_s"] == pytest.approx(
        report["commission_evaluations_per_s"], rel=0.01)  # half the orders, 2 records each
    assert report["commission_lag_s"] >= 0
    assert "the consumer made all 120 records" in run.stderr
    assert "commission (fresh): 60 cards, 120 completed orders, 120 records" in run.stderr
    assert "commission (again): 60 cards, 120 completed orders, 0 records" in run.stderr


def test_the_orders_bench_refuses_no_orders() -> None:
    run = subprocess.run([sys.executable, "-m", "cardpulse.cli", "bench", "--orders", "0"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "--orders must be at least 1" in run.stderr
