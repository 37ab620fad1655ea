"""The console as people see it, in a real browser: the dashboard, the account chart, lists that fit
at 1366 px, the add-connection flow, a skip's own style and the disconnect button.

As in test_browser.py, the database is prepared before the browser starts and checked after it closes.
"""

from __future__ import annotations

import pytest

from sync.models import Account, Connection
from sync.services.connection_sync import sync_connection
from tests.admin import test_browser
from tests.admin.helpers import change_url
from tests.admin.test_browser import LAUNCH_ARGS, PASSWORD, _shot
from tests.factories import ConnectionFactory

chromium_path = test_browser.chromium_path  # the fixture: Debian's Chromium, or a skip saying why

CHANGELISTS = ("transaction", "holding", "syncrun", "account", "connection", "auditevent")


def _login(page, url, user):
    page.goto(url)
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def _browser(p, chromium_path):
    return p.chromium.launch(executable_path=chromium_path, headless=True, args=LAUNCH_ARGS)


@pytest.fixture
def operators_bank(operator):
    """The operator's own demo connection, synced: the dashboard's net worth is the viewer's own."""
    connection = ConnectionFactory(owner=operator, name="Operator bank", config={})
    outcomes = sync_connection(connection_id=connection.pk, user_id=operator.pk, source="cli")
    assert not any(o.failed for o in outcomes)
    return connection


@pytest.mark.browser
def test_dashboard_account_chart_and_lists_fit(chromium_path, live_server, transactional_db, operator, operators_bank):
    from playwright.sync_api import expect, sync_playwright

    ConnectionFactory(owner=operator, name="Never synced bank", config={})
    checking = Account.objects.get(connection=operators_bank, subtype="checking")
    with sync_playwright() as p:
        browser = _browser(p, chromium_path)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(15_000)
            _login(page, live_server.url + "/admin/", operator)
            net_worth = page.locator("#net-worth svg.balance-chart")
            expect(net_worth).to_be_visible()
            assert page.locator("#net-worth svg .grid").count() >= 3  # gridlines at round amounts
            assert page.locator("#net-worth svg text.axis").count() >= 6  # amounts and dates
            expect(page.locator("#attention")).to_contain_text("Never synced bank")
            expect(page.locator("#recent-syncs .run-status-succeeded").first).to_be_visible()
            # The chart follows its panel's width.
            chart_w = net_worth.bounding_box()["width"]
            panel_w = page.locator("#net-worth").bounding_box()["width"]
            assert chart_w > 0.9 * panel_w - 20, (chart_w, panel_w)
            _shot(page, "dashboard-1366")

            page.goto(live_server.url + change_url("account", checking.pk) + "?range=30d")
            chart = page.locator(".sync-history svg.balance-chart")
            expect(chart).to_be_visible()
            assert 20 <= chart.locator("circle").count() <= 30  # a point a day, back to the first transaction
            assert "USD" in chart.locator("text.axis").first.text_content()
            expect(page.locator("#balance-ranges a.selected")).to_have_text("30 days")
            page.get_by_role("link", name="All", exact=True).click()
            expect(page.locator("#balance-ranges a.selected")).to_have_text("All")
            _shot(page, "account-1366")

            for model in CHANGELISTS:
                page.goto(f"{live_server.url}/admin/sync/{model}/")
                results = page.locator("#changelist .results")
                expect(results).to_be_visible()
                scroll, client = results.evaluate("e => [e.scrollWidth, e.clientWidth]")
                assert scroll <= client, f"{model}: the list scrolls sideways ({scroll} > {client})"
                assert page.evaluate("document.documentElement.scrollWidth") <= 1366

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            _login(phone, live_server.url + "/admin/", operator)
            expect(phone.locator("#net-worth svg.balance-chart")).to_be_visible()
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            _shot(phone, "dashboard-390")
        finally:
            browser.close()


@pytest.mark.browser
def test_add_connection_then_sync_skip_and_disconnect(chromium_path, live_server, transactional_db, operator, user):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = _browser(p, chromium_path)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(15_000)
            _login(page, live_server.url + "/admin/sync/connection/add/", operator)
            choices = page.locator("#provider-choices")
            expect(choices).to_contain_text("Synthetic checking, credit card")
            expect(choices).to_contain_text("Needs Setup token or Access URL")  # SimpleFIN, in plain words
            page.get_by_role("link", name="Demo bank (synthetic data)").click()
            expect(page.locator("input[type=password]")).to_have_count(0)  # the demo has no secrets
            page.fill("#id_name", "Browser bank")
            page.select_option("#id_owner", str(user.pk))
            page.fill("#id_connect_accounts", "lots")
            page.click("input[name=_save]")
            expect(page.locator(".errorlist")).to_be_visible()  # under its field
            page.fill("#id_connect_accounts", "")
            page.click("input[name=_save]")

            # Landed on the new connection's page, its first sync one click away.
            messages = page.locator("ul.messagelist")
            expect(messages.locator("li.success")).to_contain_text("connected; run its first sync")
            page.get_by_role("button", name="Sync accounts").click()
            expect(messages.locator("li.success").first).to_contain_text("Synced 3 accounts: 3 created")
            page.get_by_role("button", name="Sync accounts").click()
            skip = messages.locator("li.warning.skipped").first
            expect(skip).to_contain_text("Skipped accounts: synced less than a minute ago")
            assert messages.locator("li.success").count() == 0
            style = skip.evaluate("e => getComputedStyle(e).borderLeftStyle")
            assert style == "solid"  # its own look, not the success green
            _shot(page, "skip-1366")

            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Disconnect").click()
            expect(messages).to_contain_text("disconnected (its data and history are kept)")
            expect(page.locator(".field-status")).to_contain_text("Disconnected")
        finally:
            browser.close()

    connection = Connection.objects.get(name="Browser bank")
    assert connection.owner == user and connection.status == Connection.Status.DISCONNECTED
    assert Account.objects.filter(connection=connection).count() == 3
