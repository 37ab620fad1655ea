"""End to end in a real browser: Playwright drives Debian's Chromium against a live server.

Playwright's sync API runs an event loop in this thread, and Django refuses ORM
calls from a thread with a running loop; so the database is prepared before
the browser starts and checked after it closes (the live server's own thread
is unaffected).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sync.models import Account, SyncRun, Transaction
from tests.admin.helpers import change_url
from tests.factories import ConnectionFactory

CHROMIUM = Path("/usr/bin/chromium")
ENSURE_CHROMIUM = Path(__file__).resolve().parents[2] / "scripts" / "ensure-chromium.sh"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"  # UserFactory's
# Set to a directory to keep screenshots of the pages while working on the templates.
SCREENSHOT_DIR = os.environ.get("FINSYNC_SCREENSHOT_DIR", "")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, installed by scripts/ensure-chromium.sh when missing; else skip, saying why."""
    if not CHROMIUM.exists() and ENSURE_CHROMIUM.exists():
        done = subprocess.run([str(ENSURE_CHROMIUM)], capture_output=True, text=True, timeout=600, check=False)
        if not CHROMIUM.exists():
            why = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
            pytest.skip(f"{CHROMIUM} is missing and {ENSURE_CHROMIUM.name} could not install it: {why}")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing and there is no {ENSURE_CHROMIUM.name} to install it")
    return str(CHROMIUM)


def _shot(page, name: str) -> None:
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_sync_everything_from_the_connection_page(chromium_path, live_server, transactional_db, operator, user):
    from playwright.sync_api import expect, sync_playwright

    connection = ConnectionFactory(owner=user, name="Alice bank", config={})
    page_url = live_server.url + change_url("connection", connection.pk)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(page_url)  # to the login page, and back here once logged in
            page.fill("#id_username", operator.username)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            expect(page.locator("#sync-panel")).to_be_visible()
            expect(page.locator("#accounts-group tbody tr.has_original")).to_have_count(0)

            page.get_by_role("button", name="Sync everything").click()
            messages = page.locator("ul.messagelist")
            expect(messages.locator("li.success").first).to_contain_text(
                "Alice bank (demo): Synced 3 accounts: 3 created"
            )
            expect(messages).to_contain_text("Synced")
            expect(messages).to_contain_text("transactions:")
            expect(messages).to_contain_text("holdings:")
            # The new rows: the connection's accounts inline now lists them.
            rows = page.locator("#accounts-group tbody tr.has_original")
            expect(rows).to_have_count(3)
            expect(rows.first).to_contain_text("Brokerage")
            _shot(page, "connection-synced")

            page.get_by_role("button", name="Sync everything").click()
            expect(messages.locator("li.warning.skipped").first).to_contain_text(
                "Alice bank (demo): Skipped accounts: synced less than a minute ago (use force to sync again)"
            )
            expect(messages.locator("li.error")).to_have_count(0)

            if SCREENSHOT_DIR:
                page.locator("#accounts-group tbody tr.has_original a.inlineviewlink").first.click()
                page.wait_for_selector("svg.balance-chart")
                _shot(page, "account")
        finally:
            browser.close()

    assert Account.objects.filter(connection=connection).count() == 3
    assert Transaction.objects.filter(account__connection=connection).exists()
    statuses = list(SyncRun.objects.filter(connection=connection, source="admin").values_list("status", flat=True))
    assert statuses.count("succeeded") == 3 and statuses.count("skipped") == 3


@pytest.mark.browser
def test_import_a_statement_from_the_connection_page(chromium_path, live_server, transactional_db, operator, user):
    from playwright.sync_api import expect, sync_playwright

    from tests.providers.ofx_helpers import CHECKING, SAMPLES, file_connection

    connection = file_connection(user, "Alice files")
    page_url = live_server.url + change_url("connection", connection.pk)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(page_url)
            page.fill("#id_username", operator.username)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            expect(page.locator("#statement-panel")).to_be_visible()

            page.set_input_files("#statement-file", str(SAMPLES / CHECKING))
            page.get_by_role("button", name="Import statement").click()
            messages = page.locator("ul.messagelist")
            expect(messages.locator("li.success").first).to_contain_text(
                "Alice files (ofx) · chase_checking.qfx: Imported 5 records: 5 created"
            )
            expect(page.locator("#accounts-group tbody tr.has_original")).to_have_count(1)
            _shot(page, "statement-imported")

            page.set_input_files("#statement-file", str(SAMPLES / CHECKING))
            page.get_by_role("button", name="Import statement").click()
            expect(messages.locator("li.warning.skipped").first).to_contain_text(
                "Skipped statement: this file (chase_checking.qfx)"
            )
        finally:
            browser.close()

    assert Transaction.objects.filter(account__connection=connection).count() == 4
    statuses = sorted(SyncRun.objects.filter(connection=connection, source="admin").values_list("status", flat=True))
    assert statuses == ["skipped", "succeeded"]
