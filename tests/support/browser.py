"""The console in a real browser: `cardpulse api` in a subprocess on a free port, Debian's
Chromium driven by Playwright, people logged in through the form, screenshots of the main pages
under build/screenshots/, and axe-core's accessibility check (vendored in tests/support/vendor)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from cardpulse.supervisor.children import free_port
from core.settings import Settings
from tests.support.api import ADMIN, ADMIN_TOKEN
from tests.support.services import settings_env
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PASSWORD = "a long new passphrase"  # noqa: S105 - what test users choose at first login
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--mute-audio"]


def chromium() -> str:
    """Debian's Chromium (installed by `make system-deps`)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("Chromium is not installed: run `make system-deps` (Debian's chromium "
                           "and fonts-noto-cjk)")
    return found


@dataclass
class Console:
    """A running API process serving the console, and an HTTP client for setting up data."""

    base: str
    process: subprocess.Popen[bytes]

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, headers=ADMIN, timeout=30)

    async def user(self, login: str, role: str, tenant: str | None = "acme") -> str:
        """A console user; returns its one-time password."""
        async with self.api() as client:
            made = await client.post("/v1/users", json={"login": login, "role": role,
                                                        "enterprise_id": tenant})
        assert made.status_code == 201, made.text
        password: str = made.json()["one_time_password"]
        return password

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_console(settings: Settings, log: Path) -> Console:
    port = free_port()
    env = settings_env(settings) | {"CARDPULSE_API_PORT": str(port),
                                    "CARDPULSE_ADMIN_TOKEN": ADMIN_TOKEN,
                                    "CARDPULSE_API_RATE_PER_S": "10000",
                                    "CARDPULSE_API_RATE_BURST": "10000"}
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "cardpulse.cli", "api"], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    console = Console(f"http://127.0.0.1:{port}", process)
    eventually(lambda: _up(console.base), timeout=30, what="the API serving the console")
    return console


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def log_in(page: Page, login: str, password: str, *, first: bool = True) -> None:
    """Log in through the form; at the first login, change the one-time password."""
    await page.goto("/console/login")
    await page.fill("#login", login)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    if first:
        await expect(page).to_have_url("/console/password")
        await page.fill("#current", password)
        await page.fill("#new", PASSWORD)
        await page.fill("#repeat", PASSWORD)
        await page.click("main button[type=submit]")
        await page.wait_for_load_state()


async def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot under build/screenshots/ (the README shows some)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now."""
    # Evaluated, not added as a <script>: the console's CSP refuses inline scripts.
    await page.evaluate("source => { (0, eval)(source); }", AXE.read_text())
    result: dict[str, Any] = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"][:5]]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]
