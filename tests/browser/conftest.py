"""Fixtures for the browser tests: one Chromium per session, the console served by a real
`cardpulse api` process per test (its own database), a fresh browser context per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from core.settings import Settings
from tests.support.browser import LAUNCH_ARGS, Console, chromium, start_console
from tests.support.services import WorkerProcess


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium(), args=LAUNCH_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
def console(settings: Settings, tmp_path: Path) -> Iterator[Console]:
    started = start_console(settings, tmp_path / "api.log")
    yield started
    started.stop()


@pytest.fixture
async def page(browser: Browser, console: Console) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=console.base, locale="zh-CN",
                                        timezone_id="Asia/Shanghai",
                                        viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    yield opened
    await context.close()


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A `cardpulse worker` on this test's database and topics (pushed usage is counted)."""
    process = WorkerProcess(settings, tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()
