"""A real headless browser for the UI tests: Playwright driving Debian's Chromium.

``scripts/system-deps.sh`` installs ``/usr/bin/chromium``; Playwright launches it by path, so
no ``playwright install`` download is needed. Without the browser the test is skipped, except
where ``ATTRITION_REQUIRE_BROWSER`` is set (CI: ``.ci/run``): there it fails, so the browser
test can never be skipped silently.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_ENV = "ATTRITION_REQUIRE_BROWSER"
# Headless without a GPU, a sandbox (root in containers) or Chrome's own network chatter.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
#: Where the browser tests save their screenshots (git-ignored with the rest of reports/).
SCREENSHOTS = Path(__file__).resolve().parents[1] / "reports" / "screenshots"


def require_browser() -> None:
    """Skip the test when Chromium is absent, or fail it when ``ATTRITION_REQUIRE_BROWSER`` is set."""
    if CHROMIUM.is_file():
        return
    reason = f"{CHROMIUM} is not installed (bash scripts/system-deps.sh installs it)"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}, and {REQUIRE_ENV} is set: the browser test must run here")
    pytest.skip(reason)


@contextmanager
def launch_browser() -> Iterator[Page]:
    """A page of a fresh browser (empty profile, 1440x900), closed on exit; ``page.context`` is its context."""
    require_browser()
    from playwright.sync_api import sync_playwright  # after the skip: the dev extra brings it

    with tempfile.TemporaryDirectory(prefix="attrition-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as reports/screenshots/<name>.png, for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
