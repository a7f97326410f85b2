"""The README's "A first session", run as written against a real `cardpulse up`.

The section's fenced blocks (shell, Python, shell) are read from README.md and run in order:
the shell blocks with bash, the Python block with this venv's python. Two things only are
substituted, so that they reach this test's `up` rather than a default one:
- the API address: `localhost:8000` and `127.0.0.1:8000` become this `up`'s host and port;
- the state dir: `.cardpulse/` becomes this `up`'s state dir (where its admin token is).
The last block (the card's view) is run again until the worker has counted the push.

The README dates its push by the machine's clock, as a reader runs it, and the card's view
shows the current cycle only: the session must not straddle the end of a month, so it waits
for the next month when less than a minute of this one is left.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.dates import wait_out_month_end
from tests.support.stack import Up, launch, stop, wait_up
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def delivery_walkthrough() -> str:
    """The script of the README's "A service from template to completion on `make run`"."""
    text = README.read_text()
    head = "\n### A service from template to completion on `make run`\n"
    section = re.split(r"\n#{2,3} ", text.split(head, 1)[1])[0]
    found = FENCE.search(section)  # the script is the section's first block
    assert found is not None and found[1] == "sh"
    return found[2]


def first_session() -> list[tuple[str, str]]:
    """(language, code) of each fenced block of the README's "A first session"."""
    text = README.read_text()
    section = text.split("\n## A first session\n", 1)[1].split("\n## ", 1)[0]
    return [(found[1], found[2]) for found in FENCE.finditer(section)]


def money_walkthrough() -> str:
    """The script of the README's "Both flows on `make run`" (in "Money")."""
    text = README.read_text()
    section = re.split(r"\n#{2,3} ", text.split("\n### Both flows on `make run`\n", 1)[1])[0]
    found = FENCE.search(section)  # the script is the section's first block
    assert found is not None and found[1] == "sh"
    return found[2]


def commission_walkthrough() -> str:
    """The script of the README's "Every kind on `make run`" (in "Commission")."""
    text = README.read_text()
    section = re.split(r"\n#{2,3} ", text.split("\n### Every kind on `make run`\n", 1)[1])[0]
    found = FENCE.search(section)  # the script is the section's first block
    assert found is not None and found[1] == "sh"
    return found[2]


def for_this_up(code: str, up: Up) -> str:
    """The block with the README's default addresses (the API's, the simulator's) and state
    dir replaced by this `up`'s."""
    address = up.api.removeprefix("http://")
    code = code.replace("localhost:8000", address).replace("127.0.0.1:8000", address)
    code = code.replace("127.0.0.1:8100", up.sim.removeprefix("http://"))
    return code.replace(".cardpulse/", f"{up.state_dir}/")


def run_block(language: str, code: str, cwd: Path, timeout: float = 120) -> str:
    argv = ["bash", "-euo", "pipefail", "-c", code] if language == "sh" else [
        sys.executable, "-c", code]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPULSE_")}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, (code, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = launch(tmp_path / "state")
    try:
        wait_up(running)
        yield running
    finally:
        if running.proc.poll() is None:
            stop(running)


def test_the_readme_first_session_works_as_written(up: Up, tmp_path: Path) -> None:
    blocks = first_session()
    assert [language for language, _ in blocks] == ["sh", "python", "sh"], blocks
    setup, push, view = (for_this_up(code, up) for _, code in blocks)
    for (_, code), ours in zip(blocks, (setup, push, view), strict=True):
        assert ours != code and "8000" not in ours and ".cardpulse" not in ours, ours
    pushed = sum(int(n) for n in re.findall(r'"bytes": (\d+)', push))
    iccid = re.findall(r'"iccid": "(\d+)"', push)[0]

    wait_out_month_end(60)  # the push and the view of the current cycle in one month
    answers = run_block("sh", setup, tmp_path)
    assert "detail" not in answers, answers  # every error answer (401, 404, 422) has one
    token = (up.state_dir / "admin-token").read_text().strip()
    card = httpx.get(f"{up.api}/v1/cards/{iccid}", headers={"Authorization": f"Bearer {token}"})
    assert card.status_code == 200, card.text

    answer = run_block("python", push, tmp_path)
    assert answer.startswith("202 "), answer

    def shown() -> dict[str, object]:
        seen: dict[str, object] = json.loads(run_block("sh", view, tmp_path))
        return seen

    eventually(lambda: shown()["cycle_usage_bytes"] == pushed, timeout=30,
               what=f"the card's view showing {pushed} bytes", show=shown)


@pytest.mark.req("G2-02", "G2-03", "G2-14", "G2-25")
def test_the_readme_money_walkthrough_works_as_written(up: Up, tmp_path: Path) -> None:
    code = money_walkthrough()
    ours = for_this_up(code, up)
    assert ours != code and "8000" not in ours and "8100" not in ours, ours
    output = run_block("sh", ours, tmp_path)
    assert "detail" not in output, output  # every error answer has one
    balances = re.findall(r'"balance_fen":(-?\d+)', output)
    assert balances == ["3000", "3000"], output  # Flow 1: +3000; Flow 2: +6000 − 6000
    statement = json.loads(output.splitlines()[-2])
    assert [line["amount_fen"] for line in statement["lines"]] == [3000, 6000, -6000], output
    assert statement["closing_fen"] == 3000
    assert json.loads(output.splitlines()[-1])["package_count"] == 2


KINDS = ("per_order", "one_time", "long_term", "combined", "number_card_settlement")


@pytest.mark.req("H-08", "H-10", "H-13", "H-19", "H-22", "H-25", "H-31", "H-33",
                 "SM-H-APPROVAL")
def test_the_readme_commission_walkthrough_works_as_written(up: Up, tmp_path: Path) -> None:
    """The Money script, then the Commission one in the same directory (its people's cookie
    jars, its market): one commission of each kind ends `available` in east's wallet."""
    code = commission_walkthrough()
    ours = for_this_up(code, up)
    assert ours != code and "8000" not in ours and "8100" not in ours, ours
    wait_out_month_end(300)  # the summary is of the current month (Asia/Shanghai)
    run_block("sh", for_this_up(money_walkthrough(), up), tmp_path)
    output = run_block("sh", ours, tmp_path, timeout=600)
    # the only error answer: the online first purchase refused (G2-11)
    assert output.count('"detail"') == 1 and "first_purchase_wallet_only" in output, output
    summary = json.loads(output.splitlines()[-2])
    available = {k["kind"]: next(s for s in k["by_state"] if s["state"] == "available")
                 for k in summary["by_kind"] if k["kind"] != "price_difference"}
    assert {kind: (row["records"], row["amount_fen"]) for kind, row in available.items()} == {
        "per_order": (3, 900), "one_time": (2, 1300), "long_term": (2, 700),
        "number_card": (1, 2000)}, summary
    assert [s for s in summary["by_state"] if s["records"] and s["state"] != "available"
            ] == [], summary
    assert json.loads(output.splitlines()[-1])["balance_fen"] == 4900, output
    headers = {"Authorization": f"Bearer {up.token()}"}
    for kind in KINDS:  # each rule kind's records (a combined rule's parts too), all paid
        found = httpx.get(f"{up.api}/v1/commissions", headers=headers,
                          params={"agent_id": "east", "kind": kind}).json()["items"]
        assert found and {r["state"] for r in found} == {"available"}, (kind, found)
        assert {r["rule_kind"] for r in found} <= {kind, "combined"}, found


@pytest.mark.req("I-01", "I-16", "I-17", "I-19", "I-21", "I-31", "I-50", "I-51", "I-53")
def test_the_readme_delivery_walkthrough_works_as_written(up: Up, tmp_path: Path) -> None:
    """A template published, a service bought, its project followed to completion — with one
    rejection on the way — on a fresh `up`, as the README says."""
    code = delivery_walkthrough()
    ours = for_this_up(code, up)
    assert ours != code and ":8000" not in ours, ours
    output = run_block("sh", ours, tmp_path, timeout=300)
    assert "detail" not in output, output  # no error answer on the way
    lines = output.splitlines()
    assert lines[:3] == ["published", "已配置", "completed"], output
    log = [line.split(" | ")[:2] for line in lines[3:]]
    assert log[0] == ["系统", "项目开始"] and ["zhang", "方案确认 未通过"] in log, output
    assert log[-2:] == [["zhang", "项目验收已完成"], ["zhang", "提交评价"]], output
    assert ["李设计", "设计稿已完成"] in log and log.count(["系统", "进入设计稿"]) == 2, output
