"""Browser tests: Debian's Chromium driven by Playwright, against the session's embedded Argilla server."""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
# Long enough for a cold Nuxt page on a loaded machine, short enough that a broken selector fails fast.
DEFAULT_TIMEOUT_MS = 15_000


_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so the page fixture can tell whether the test body failed."""
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    return report


def _test_failed(item: pytest.Item) -> bool:
    call = item.stash.get(_reports_key, {}).get("call")
    return call is not None and call.failed


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium; Playwright's own browser download cannot work on this machine.

    Module-scoped: Playwright's sync API keeps an event loop running in the main thread while it is
    open, which would break `asyncio.run` in every test collected after the browser tests.
    """
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Browser tests need Chromium at {CHROMIUM}, which is missing or not executable. Install it "
            "with `apt-get install chromium` (Debian), or deselect these tests with `-m 'not browser'`.",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.fail(
            f"Browser tests need Playwright for Python ({err}); "
            "install the dev extra: pip install -e '.[dev]'.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _is_local(url: str) -> bool:
    """Loopback servers and files on this machine (built guides are opened as file:// pages)."""
    return (
        url.startswith("file://")
        or re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?(/|$)", url) is not None
    )


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context per test; a screenshot lands in tests/browser/artifacts/ if the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # Tests never reach the internet: the Argilla UI asks Google Fonts for its typefaces, which would
    # otherwise wait on DNS. Aborting keeps runs hermetic and the fallback fonts look the same every time.
    context.route(lambda url: not _is_local(url), lambda route: route.abort())
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        if _test_failed(request.node):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            try:
                tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
                (ARTIFACTS / f"{name}.html").write_text(tab.content(), encoding="utf-8")
            except Exception as err:  # the page may be what broke; keep the test's own failure on top
                print(f"could not save the failure screenshot: {err}")
        context.close()
