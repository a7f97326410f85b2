"""`cardpulse bench --settlement-lines N`: a number-card settlement of N lines imported end to
end (H-31 … H-36; the target: under 60 s for 100,000 lines).

1. start `cardpulse up` in a fresh state dir (as the other scenarios do);
2. untimed: N number cards registered, 90 % of them attributed to an agent with a
   number-card rule (store/bench_settlement.py), and the statement written as an XLSX with
   xlsxwriter (ICCID, 金额(分));
3. timed, from the upload's first byte to the task's `done`: `POST
   /v1/imports/number_card_settlement` (the API reads the workbook, validates every row and
   checks the total, answers with the task) and the task's apply in the background (match
   every line to its agent and rule; write the batch, its lines, its records (frozen) with
   their ledger transfers, audit rows and events in one transaction; judge the conditions
   once), polled on `GET /v1/imports/{task_id}`: `settlement_import_s` and
   `settlement_lines_per_s`.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import xlsxwriter

from cardpulse.tools.bench.cards_page import _database
from cardpulse.tools.bench.run import Progress, reported
from cardpulse.tools.bench.stack import BenchStack, StackOptions, start_stack
from core.clock import now
from core.settings import Settings
from store import bench_settlement

TARGET_S = 60.0
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class SettlementArgs:
    lines: int
    partitions: int
    state_dir: Path | None
    keep: bool
    as_json: bool


def _iccid(run: int, index: int) -> str:
    return f"89864{run:05d}{index:010d}"


def statement(cards: list[str]) -> tuple[bytes, int]:
    """The XLSX (text ICCIDs, numeric amounts from 1.00 to 99.99 yuan) and its total."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "constant_memory": True})
    sheet = book.add_worksheet("Sheet1")
    sheet.write_string(0, 0, "ICCID")
    sheet.write_string(0, 1, "金额(分)")
    total = 0
    for row, iccid in enumerate(cards, start=1):
        amount = 100 + (row * 7919) % 9900
        total += amount
        sheet.write_string(row, 0, iccid)
        sheet.write_number(row, 1, amount)
    book.close()
    return out.getvalue(), total


async def _setup(url: str, run: int, cards: list[str]) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await bench_settlement.setup(conn, run, cards,
                                     [c for i, c in enumerate(cards) if i % 10], now())


def _import(stack: BenchStack, run: int, content: bytes, total: int, progress: Progress
            ) -> tuple[float, dict[str, Any]]:
    """Upload the statement and wait for its task: (seconds, the finished task)."""
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    with httpx.Client(base_url=stack.api_url, timeout=600, headers=headers) as http:
        started = time.perf_counter()
        answer = http.post("/v1/imports/number_card_settlement",
                           files={"file": ("statement.xlsx", content, XLSX)},
                           data={"factory_id": f"F{run}", "period": "2026-03",
                                 "total_fen": str(total)})
        if answer.status_code != 201:
            raise RuntimeError(f"upload answered {answer.status_code}: {answer.text[:500]}")
        task_id = answer.json()["task_id"]
        while True:
            task = http.get(f"/v1/imports/{task_id}").json()
            if task["status"] != "running":
                break
            progress.show(f"importing… {time.perf_counter() - started:.0f} s")
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    if task["status"] != "done":
        raise RuntimeError(f"the import ended {task['status']}: {task.get('error')}")
    return seconds, task


def _measure(stack: BenchStack, url: str, run: int, n: int, progress: Progress
             ) -> dict[str, Any]:
    cards = [_iccid(run, i) for i in range(n)]
    progress.show(f"registering {n:,} number cards…", force=True)
    asyncio.run(_setup(url, run, cards))
    progress.show("writing the statement…", force=True)
    content, total = statement(cards)
    progress.show(f"importing {n:,} lines ({len(content) / 1e6:.1f} MB)…", force=True)
    seconds, task = _import(stack, run, content, total, progress)
    progress.done(f"{n:,} lines imported in {seconds:.1f} s")
    result = task["result"]
    return {"settlement_import_s": round(seconds, 2),
            "settlement_lines_per_s": round(n / seconds, 1),
            "settlement_matched": result["matched"], "settlement_unmatched": result["unmatched"],
            "settlement_failed_rows": task["rows_failed"], "xlsx_bytes": len(content)}


def run_settlement(settings: Settings, args: SettlementArgs) -> dict[str, Any]:
    progress = Progress()
    run = int.from_bytes(os.urandom(2), "big") % 10_000
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="cardpulse-bench-settlement-"))
    os.environ["CARDPULSE_TOPIC_PREFIX"] = f"benchsettle{run}"
    os.environ["CARDPULSE_API_RATE_PER_S"] = "100000"  # the task is polled: not the limit
    os.environ["CARDPULSE_API_RATE_BURST"] = "100000"
    progress.done(f"starting the platform in {state}")
    stack = start_stack(StackOptions(state, args.partitions, workers=1))
    try:
        measured = _measure(stack, _database(stack, settings), run, args.lines, progress)
    finally:
        stack.stop()
        if not args.keep and args.state_dir is None:
            shutil.rmtree(state, ignore_errors=True)
    return {"settlement_lines": args.lines, **measured, "target_s": TARGET_S,
            "within_target": measured["settlement_import_s"] < TARGET_S}


def render(report: dict[str, Any]) -> str:
    verdict = "within" if report["within_target"] else "ABOVE"
    return "\n".join([
        f"number-card settlement of {report['settlement_lines']:,} lines "
        f"({report['settlement_matched']:,} matched, {report['settlement_unmatched']:,} "
        "unmatched)",
        f"  validated and applied       {report['settlement_import_s']:>10,.2f} s "
        f"({verdict} the target of {report['target_s']:.0f} s)",
        f"  lines                       {report['settlement_lines_per_s']:>10,.1f}/s"])


def main(settings: Settings, args: SettlementArgs) -> int:
    return reported(lambda: run_settlement(settings, args), render, as_json=args.as_json)
