"""Tests in a real browser: Playwright driving Debian's Chromium (`/usr/bin/chromium`, headless; Playwright
cannot download a browser here). Import the fixtures into a test module (or a conftest):

    from tests.e2e.browser import browser_fixture, page_fixture, snap  # noqa: F401

`browser` is one Chromium for the session; `page` is a page in a fresh context (no cookies shared between
tests) that accepts the gateway's self-signed certificate. A test that fails leaves a full-page screenshot
in `$ITS_SCREENSHOTS_DIR/failures/` (default var/test-screenshots/). `await snap(page, "login")` saves a
named screenshot of the page when `ITS_SCREENSHOTS_DIR` is set (`make screenshots` → var/screenshots/), and
does nothing otherwise.

Without Chromium the browser tests fail, saying so (`make test` installs the Debian package `chromium`).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from tests.infra import ROOT

CHROMIUM = Path(os.environ.get("ITS_CHROMIUM") or "/usr/bin/chromium")
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


def screenshots_dir() -> Path | None:
    configured = os.environ.get("ITS_SCREENSHOTS_DIR")
    return Path(configured) if configured else None


def failures_dir() -> Path:
    base = screenshots_dir()
    return base / "failures" if base is not None else ROOT / "var" / "test-screenshots"


def file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:150] or "page"


async def snap(page: Page, name: str) -> Path | None:
    """A named full-page screenshot under ITS_SCREENSHOTS_DIR (`make screenshots`); None when it is unset."""
    directory = screenshots_dir()
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{file_name(name)}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(name="browser", scope="session")
async def browser_fixture() -> AsyncIterator[Browser]:
    if not await asyncio.to_thread(CHROMIUM.is_file):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make test` installs the Debian package chromium (scripts/ensure-infra.sh)"
        )
    async with async_playwright() as playwright:
        # --no-sandbox: Chromium's sandbox refuses to run as root (containers, CI).
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture(name="page")
async def page_fixture(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(10_000)
    failed_before = request.session.testsfailed
    tab = await context.new_page()
    try:
        yield tab
    finally:
        # The call's report is logged before teardown: a failure of this test has been counted already.
        if request.session.testsfailed > failed_before and not tab.is_closed():
            directory = failures_dir()
            directory.mkdir(parents=True, exist_ok=True)
            await tab.screenshot(path=str(directory / f"{file_name(request.node.nodeid)}.png"), full_page=True)
        await context.close()
