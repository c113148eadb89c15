"""Real headless Chromium for the HTML browser tests: Debian's /usr/bin/chromium driven by Playwright's
Python package with ``executable_path`` (no browser download; ``.ci/install-system-deps`` installs it).
A missing chromium fails the tests instead of skipping them, so CI cannot pass without running them."""

import shutil
import tempfile
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run .ci/install-system-deps (Debian's chromium) first")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, accept_downloads=True,
            viewport={"width": 1400, "height": 900})
        yield context
        context.close()


def open_page(browser, target: Path):
    page = browser.new_page()
    events = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: events["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.goto(target.resolve().as_uri())
    return page, events


def visible_ids(page) -> list[str]:
    return page.eval_on_selector_all(".card", "cs => cs.filter(c => !c.hidden && c.offsetParent !== null)"
                                              ".map(c => c.dataset.id)")
