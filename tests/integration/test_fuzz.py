"""schemathesis against the API's own OpenAPI schema, bounded (about 15 s) and deterministic:
no 5xx, and every status, body and content type as documented. `make fuzz` runs the deep,
random-seeded version against a whole `cardpulse up`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cardpulse.supervisor.children import free_port
from core.settings import Settings
from tests.support.services import settings_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
CHECKS = ("not_a_server_error,response_schema_conformance,status_code_conformance,"
          "content_type_conformance")


def test_schemathesis_finds_no_server_error(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = settings_env(settings) | {"CARDPULSE_API_PORT": str(port),
                                    "CARDPULSE_ADMIN_TOKEN": "fuzz-admin-token",
                                    "CARDPULSE_API_RATE_PER_S": "100000",
                                    "CARDPULSE_API_RATE_BURST": "100000"}
    log = (tmp_path / "api.log").open("wb")
    api = subprocess.Popen([sys.executable, "-m", "cardpulse.cli", "api"], env=env,
                           stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _ok(f"{base}/healthz"), timeout=30, what="api up")
        run = subprocess.run(
            [sys.executable, "-m", "tests.schemathesis_cli", "run", f"{base}/openapi.json",
             "--checks", CHECKS,
             "--max-examples", "15", "--phases", "examples,coverage,fuzzing",
             "--generation-deterministic", "--request-timeout", "10",
             "-H", "Authorization: Bearer fuzz-admin-token"],
            capture_output=True, text=True, timeout=600, check=False)
        assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    finally:
        api.terminate()
        api.wait(10)
        log.close()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
