"""The UI in a real browser: Debian's headless Chromium driven by Playwright, against live API and UI processes.

Signs in, opens every page, uploads a CSV on Batch scoring and downloads the result,
checks that each page shows its title and no exception box, and saves a full-page
screenshot of each page to reports/screenshots/ for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from browser_support import launch_browser, require_browser, screenshot
from ui_support import PASSWORD, World, ui_process

from attrition.data.generator import generate_workforce
from attrition.schema import ID_COLUMN, TARGET

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

#: (navigation label, the page's title, a text the page shows when its data loaded)
PAGES = (
    ("Workforce overview", "Workforce overview", "Headcount"),
    ("Employee risk", "Employee risk", "Employee"),
    ("Batch scoring", "Batch scoring", "CSV of employees"),
    ("Prediction log", "Prediction log", "prediction"),
    ("Model", "Model", "ROC"),
    ("Drift", "Drift", "OverTime"),
    ("Admin", "Admin", "Create user"),
)
WAIT_MS = 60_000


def _settle(page: Page) -> None:
    """Wait until Streamlit has finished running the page's script (its status widget is gone)."""
    page.wait_for_load_state("networkidle")
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=WAIT_MS)
    page.wait_for_timeout(500)  # charts draw after the script run ends


def _full_page(page: Page, name: str) -> None:
    """Screenshot the whole page: Streamlit scrolls inside its main block, so grow the window to fit it."""
    height = page.evaluate(
        '() => Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"], [data-testid="stMainBlockContainer"]\')]'
        ".map(e => e.scrollHeight), window.innerHeight)"
    )
    page.set_viewport_size({"width": 1440, "height": min(int(height) + 40, 12_000)})
    page.wait_for_timeout(500)
    screenshot(page, name)
    page.set_viewport_size({"width": 1440, "height": 900})


def _no_exception(page: Page, where: str) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, f"{where}: {boxes.first.inner_text()[:500]}"


def _sign_in(page: Page, url: str) -> None:
    page.goto(url, wait_until="networkidle")
    page.get_by_role("textbox", name="User name").fill(World.user("admin"))
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    screenshot(page, "00_sign_in")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for(timeout=WAIT_MS)
    _settle(page)


def _open(page: Page, label: str, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=label, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=WAIT_MS)
    _settle(page)


def _upload_and_download(page: Page, csv: Path, tmp_path: Path) -> pd.DataFrame:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
    page.get_by_text(csv.name).wait_for(timeout=WAIT_MS)
    page.get_by_role("button", name="Score this file").click()
    button = page.get_by_role("button", name="Download scored rows (CSV)")
    button.wait_for(timeout=180_000)
    _settle(page)
    with page.expect_download(timeout=WAIT_MS) as info:
        button.click()
    target = tmp_path / "downloaded.csv"
    info.value.save_as(target)
    return pd.read_csv(io.StringIO(target.read_text(encoding="utf-8")))


def test_every_page_in_a_real_browser(ui_world: World, tmp_path: Path) -> None:
    require_browser()
    records = generate_workforce(120, seed=21, snapshot_date=dt.date(2026, 10, 31)).drop(columns=[TARGET])
    csv = tmp_path / "hris_export.csv"
    records.to_csv(csv, index=False)
    with ui_process(ui_world.api_url, tmp_path) as url, launch_browser() as page:
        _sign_in(page, url)
        for number, (label, title, loaded) in enumerate(PAGES, start=1):
            _open(page, label, title)
            if label == "Batch scoring":
                scored = _upload_and_download(page, csv, tmp_path)
                assert len(scored) == len(records)
                assert set(scored[ID_COLUMN]) == set(records[ID_COLUMN])
                assert {"probability", "risk_band"} <= set(scored.columns)
            main = page.locator('[data-testid="stMain"]')
            assert loaded in main.inner_text(), f"{label}: {loaded!r} not shown"
            _no_exception(page, label)
            _full_page(page, f"{number:02d}_{label.lower().replace(' ', '_')}")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("textbox", name="User name").wait_for(timeout=WAIT_MS)
        assert "Workforce" not in page.locator('[data-testid="stMain"]').inner_text()
