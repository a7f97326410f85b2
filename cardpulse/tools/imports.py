"""`cardpulse import KIND FILE`: upload an import file through the API, follow its task's
progress, print the result (X-05). Uses the API of the `up` on this machine by default
(--api-url), with the admin token (CARDPULSE_ADMIN_TOKEN, or the one `up` wrote) or --token."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from core.settings import Settings

Say = Callable[[str], None]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def add_arguments(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    one = verbs.add_parser("import", help="import a file (long-term verification, real-name "
                                          "results, number-card settlement) through the API")
    one.add_argument("kind", choices=["long_term_verification", "real_name",
                                      "number_card_settlement"])
    one.add_argument("file", type=Path, help="the filled template (.xlsx, or UTF-8 .csv)")
    one.add_argument("--factory", default=None, help="settlement: the factory's id")
    one.add_argument("--period", default=None, help="settlement: the period, YYYY-MM")
    one.add_argument("--total-fen", default=None, help="settlement: the total, integer fen")
    one.add_argument("--api-url", default=None, help="the API (default: this machine's up)")
    one.add_argument("--token", default=None, help="an admin or platform_operator token")
    one.add_argument("--state-dir", type=Path, default=None,
                     help="where `up` keeps the admin token (default .cardpulse)")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def upload(http: httpx.AsyncClient, kind: str, file: Path, form: dict[str, str],
                 say: Say = _say, every_s: float = 0.5) -> dict[str, Any]:
    """Upload, then poll the task until it is no longer running; the last answer's JSON."""
    media = "text/csv" if file.suffix.lower() == ".csv" else XLSX
    answer = await http.post(f"/v1/imports/{kind}", data=form,
                             files={"file": (file.name, file.read_bytes(), media)})
    body: dict[str, Any] = answer.json()
    if answer.status_code not in (200, 201):
        return {"http_status": answer.status_code, **body}
    if answer.status_code == 200:
        say(f"the same file was imported within 24 h: task {body['task_id']}")
    while body["status"] == "running":
        say(f"task {body['task_id']}: {body['rows_done']}/{body['rows_total']} rows")
        await asyncio.sleep(every_s)
        body = (await http.get(f"/v1/imports/{body['task_id']}")).json()
    return body


def _token(args: argparse.Namespace, settings: Settings) -> str:
    if args.token:
        return str(args.token)
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value()
    path = settings.state_dir / "admin-token"
    if not path.exists():
        raise SystemExit(f"cardpulse import: no token: pass --token, set CARDPULSE_ADMIN_TOKEN "
                         f"or run `cardpulse up` first (it writes {path})")
    return path.read_text().strip()


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    """Print the task as JSON; exit 0 when it is done (even with failed rows), else 1."""
    form = {name: value for name, value in (("factory_id", args.factory),
                                            ("period", args.period),
                                            ("total_fen", args.total_fen)) if value}
    base = args.api_url or f"http://{settings.host}:{settings.api_port}"

    async def go() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=base, timeout=600, headers={
                "Authorization": f"Bearer {_token(args, settings)}"}) as http:
            return await upload(http, args.kind, args.file, form)

    result = asyncio.run(go())
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if result.get("rows_failed"):
        print(f"failed rows: GET {base}{result['failures_url']}", file=sys.stderr)
    return 0 if result.get("status") == "done" else 1
