"""`make fuzz`: schemathesis, deep and random-seeded, against a whole `cardpulse up`.

Starts `up` in a temporary state dir on free ports (API rate limits raised, so that 429s do
not starve coverage), registers an enterprise with a pool, a card and a key, and tells
schemathesis (a config file of dictionaries) to use their ids for half of the generated ids
and a real time zone for most generated ones, so that requests reach past "not found" and
"unknown time zone"; then runs every phase (examples, coverage, fuzzing, stateful; links are
inferred) with 100 examples per operation and the four response checks as the platform
administrator, and stops `up` whatever happened. What schemathesis cannot see counts too: a
traceback in the log of any of our processes (API, workers, controls, simulator) fails the
run. The seed is printed first; pass it back to reproduce a run:

    make fuzz SEED=123        # or: .venv/bin/python -m tests.fuzz --seed 123

Exits with schemathesis's status (non-zero on any failure), or 2 when `up` did not start.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from tests.support.stack import Up, launch
from tests.support.waiting import eventually

CHECKS = ("not_a_server_error,response_schema_conformance,status_code_conformance,"
          "content_type_conformance")
PHASES = "examples,coverage,fuzzing,stateful"
ENTERPRISE, POOL, CARD = "fuzz-acme", "fuzz-pool", "89860012345678901234"
TIME_ZONES = ["Asia/Shanghai", "UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"]


def seed_data(api: str, token: str) -> dict[str, list[str]]:
    """Objects for generated requests to find; returns the ids by kind."""
    steps: list[tuple[str, str, dict[str, object]]] = [
        ("POST", "/v1/enterprises", {"enterprise_id": ENTERPRISE, "name": "Fuzz"}),
        ("POST", "/v1/pools", {"pool_id": POOL, "enterprise_id": ENTERPRISE,
                               "limit_bytes": 10**9, "per_card_limit_bytes": 10**8}),
        ("POST", "/v1/cards", {"iccid": CARD, "enterprise_id": ENTERPRISE,
                               "operator": "onelink", "pool_id": POOL}),
        ("PUT", "/v1/operators/onelink/push-secret", {"secret": secrets.token_hex(16)}),
        ("POST", f"/v1/enterprises/{ENTERPRISE}/api-keys", {"role": "enterprise_viewer"}),
    ]
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        for method, path, body in steps:
            answer = client.request(method, path, json=body)
            answer.raise_for_status()
    return {"enterprise_id": [ENTERPRISE], "pool_id": [POOL], "iccid": [CARD],
            "key_id": [answer.json()["key_id"]], "timezone": TIME_ZONES}


def config_toml(ids: dict[str, list[str]]) -> str:
    """A schemathesis config: each id (in paths and bodies) is one of `ids` half the time;
    a time zone is a real one most of the time."""
    lines = []
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]  # TOML too
    lines.append("[parameters]")
    for name in ids:
        odds = 0.8 if name == "timezone" else 0.5
        for where in ("path", "query", "body"):
            lines.append(f'"{where}.{name}" = {{ dictionary = "{name}", probability = {odds} }}')
    lines.append('"body.cards[*].pool_id" = { dictionary = "pool_id", probability = 0.5 }')
    return "\n".join(lines) + "\n"


def schemathesis_argv(api: str, token: str, seed: int, max_examples: int, config: Path
                      ) -> list[str]:
    """The schemathesis command line (through the compatibility wrapper)."""
    return [sys.executable, "-m", "tests.schemathesis_cli", "--config-file", str(config),
            "run", f"{api}/openapi.json",
            "--checks", CHECKS, "--phases", PHASES, "--max-examples", str(max_examples),
            "--seed", str(seed), "--generation-database", "none", "--request-timeout", "30",
            "--no-color", "-H", f"Authorization: Bearer {token}"]


def start(state_dir: Path, token: str, test_clock: bool = False) -> Up:
    """`cardpulse up` on free ports, ready, with rate limits that fuzzing does not hit."""
    env = {"CARDPULSE_ADMIN_TOKEN": token, "CARDPULSE_API_RATE_PER_S": "100000",
           "CARDPULSE_API_RATE_BURST": "100000",
           "CARDPULSE_TEST_CLOCK": "true" if test_clock else "false"}
    up = launch(state_dir, env)
    eventually(lambda: "CardPulse is up" in up.text() or up.proc.poll() is not None,
               timeout=180, what="`cardpulse up` ready", show=lambda: up.text()[-3000:])
    if up.proc.poll() is not None:
        raise RuntimeError(f"`cardpulse up` exited:\n{up.text()[-3000:]}")
    return up


def crashes(state_dir: Path) -> list[str]:
    """Tracebacks and critical errors in our processes' logs (the embedded PostgreSQL and Kafka
    log refusals, e.g. of a duplicate id, which are answers, not crashes)."""
    found = []
    for log in sorted((state_dir / "logs").glob("*.log")):
        if log.stem in ("postgres", "kafka"):
            continue
        lines = log.read_text(errors="replace").splitlines()
        found += [f"{log.name}:{n + 1}:\n" + "\n".join(lines[max(0, n - 1):n + 12])
                  for n, line in enumerate(lines)
                  if line.startswith("Traceback") or " CRITICAL " in line]
    return found


def stop(up: Up) -> None:
    """SIGTERM `up` (it stops what it started); kill what is left after a minute."""
    if up.proc.poll() is not None:
        return
    children = psutil.Process(up.proc.pid).children(recursive=True)
    up.proc.send_signal(signal.SIGTERM)
    try:
        up.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        up.proc.kill()
        up.proc.wait()
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="schemathesis against `cardpulse up`")
    parser.add_argument("--seed", type=int, default=None, help="reproduce a run (default: random)")
    parser.add_argument("--max-examples", type=int, default=100, help="per operation (100)")
    parser.add_argument("--test-clock", action="store_true",
                        help="let PUT /v1/admin/clock move the platform clock (off: 404)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the state dir and logs (kept anyway when the run fails)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    print(f"fuzz seed: {seed}  (reproduce: make fuzz SEED={seed})", flush=True)
    work = Path(tempfile.mkdtemp(prefix="cardpulse-fuzz-"))
    work.chmod(0o755)  # the embedded PostgreSQL runs as an unprivileged user under root
    token = secrets.token_urlsafe(24)
    started = time.monotonic()
    up: Up | None = None
    try:
        up = start(work / "state", token, args.test_clock)
        print(f"cardpulse up: {up.api} (log {up.output})", flush=True)
        config = work / "schemathesis.toml"
        config.write_text(config_toml(seed_data(up.api, token)))
        run = subprocess.run(schemathesis_argv(up.api, token, seed, args.max_examples, config),
                             check=False)
        code = run.returncode
    except (RuntimeError, AssertionError, httpx.HTTPError) as exc:
        print(f"fuzz: `cardpulse up` did not start or take the seed data: {exc}",
              file=sys.stderr)
        code = 2
    finally:
        if up is not None:
            stop(up)
    if up is not None and (found := crashes(up.state_dir)):
        print(f"fuzz: {len(found)} crash(es) in the platform's logs; the first:\n"
              + "\n\n".join(found[:3]), file=sys.stderr)
        code = code or 1
    took = time.monotonic() - started
    print(f"fuzz seed {seed}: {'passed' if code == 0 else 'FAILED'} in {took:.0f} s", flush=True)
    if code == 0 and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"fuzz: kept {work} for inspection", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
