"""Plaid Link in a real browser: the admin's "Add a Plaid connection" page and a Plaid connection's Reconnect.

No network: Playwright intercepts Plaid's link-initialize.js and serves a stub `window.Plaid`
whose `open()` plays the user's part in Link (succeeding with a public token the loopback Plaid
fake knows, or exiting). Everything else is real: the live server, the admin's link-token
endpoint and POST views, the connect and reconnect services, the fake Plaid over loopback.
The database is prepared before the browser starts and checked after it closes (see test_browser.py).
"""

from __future__ import annotations

import json

import pytest

from sync.models import AuditEvent, Connection
from sync.services.connection_sync import sync_connection
from tests.admin.helpers import change_url
from tests.admin.plaid_helpers import ADD_URL, LINK_SCRIPT, plaid_connection_needing_reauth
from tests.admin.test_browser import LAUNCH_ARGS, PASSWORD, chromium_path  # noqa: F401 - chromium_path: a fixture
from tests.providers.conftest import PLAID_TOKEN

PUBLIC_TOKEN = "public-sandbox-browser-0001"


def _stub(outcome: str) -> str:
    """A stand-in for link-initialize.js: `Plaid.create(...).open()` succeeds with PUBLIC_TOKEN or exits."""
    return f"""
window.plaidLinkTokens = [];
window.Plaid = {{
  create: function (config) {{
    window.plaidLinkTokens.push(config.token);
    return {{
      open: function () {{
        setTimeout(function () {{
          if ({json.dumps(outcome)} === "success") {{
            config.onSuccess({json.dumps(PUBLIC_TOKEN)}, {{institution: {{name: "Fake bank"}}, accounts: []}});
          }} else {{
            config.onExit({{error_code: "USER_CANCELLED", display_message: null}}, {{status: "requires_credentials"}});
          }}
        }}, 0);
      }},
      exit: function () {{}},
      destroy: function () {{}},
    }};
  }},
}};
"""


def _serve_link(page, outcomes: list[str]) -> list[str]:
    """Answer every request for Plaid's script with the stub of the current outcome (outcomes[-1]); no network."""
    served: list[str] = []

    def fulfil(route):
        served.append(outcomes[-1])
        route.fulfill(status=200, content_type="application/javascript", body=_stub(outcomes[-1]))

    page.route(LINK_SCRIPT, fulfil)
    return served


def _log_in(page, url: str, username: str) -> None:
    page.goto(url)  # the login page, and back to `url`
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


@pytest.mark.browser
def test_add_a_plaid_connection_through_link(chromium_path, live_server, transactional_db, operator, plaid):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    plaid.add_public_token(PUBLIC_TOKEN, plaid.items[PLAID_TOKEN])
    outcomes = ["exit"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(15_000)
            served = _serve_link(page, outcomes)
            _log_in(page, live_server.url + ADD_URL, operator.username)
            expect(page.locator("h1")).to_contain_text("Add a Plaid connection")

            # The user closes Link: said inline, nothing posted.
            page.get_by_role("button", name="Connect with Plaid").click()
            status = page.locator("#plaid-connect .plaid-link-status")
            expect(status).to_contain_text("Plaid Link was closed (USER_CANCELLED): nothing was changed.")
            expect(page.get_by_role("button", name="Connect with Plaid")).to_be_enabled()
            [link_token] = page.evaluate("window.plaidLinkTokens")  # the admin's endpoint gave Link its token
            assert link_token.startswith("link-sandbox-")

            outcomes.append("success")
            page.reload()
            page.fill("#id_name", "Linked in the browser")
            page.check("#id_investments")
            page.get_by_role("button", name="Connect with Plaid").click()
            messages = page.locator("ul.messagelist")
            expect(messages.locator("li.success")).to_contain_text("Linked in the browser (plaid): connected")
            expect(page.locator("#id_name")).to_have_value("Linked in the browser")
        finally:
            browser.close()

    assert served == ["exit", "success"]
    connection = Connection.objects.get()
    assert (connection.owner, connection.provider, connection.status) == (operator, "plaid", "active")
    assert connection.config["item_id"] == "item-1"
    assert [t["products"] for t in plaid.link_tokens] == [["transactions"], ["transactions", "investments"]]
    assert AuditEvent.objects.get(event="connection.created").source == "admin"


@pytest.mark.browser
def test_reconnect_a_plaid_connection_through_link_update_mode(
    chromium_path,  # noqa: F811
    live_server,
    transactional_db,
    operator,
    plaid,
):
    from playwright.sync_api import expect, sync_playwright

    connection = plaid_connection_needing_reauth(operator, plaid, name="Needs a login")
    Connection.objects.filter(pk=connection.pk).update(status="active")
    sync_connection(connection_id=connection.pk, user_id=operator.pk, kinds=("accounts",), source="admin")
    Connection.objects.filter(pk=connection.pk).update(status="needs_reauth")
    accounts = sorted(connection.accounts.values_list("pk", flat=True))
    assert len(accounts) == 3
    plaid.add_public_token(PUBLIC_TOKEN, plaid.items[PLAID_TOKEN])

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(15_000)
            served = _serve_link(page, ["success"])
            _log_in(page, live_server.url + change_url("connection", connection.pk), operator.username)
            panel = page.locator("#reconnect-panel")
            expect(panel).to_be_visible()
            panel.get_by_role("button", name="Reconnect").click()
            messages = page.locator("ul.messagelist")
            expect(messages.locator("li.success")).to_contain_text("Needs a login (plaid): reconnected")
            expect(page.locator("#reconnect-panel")).to_have_count(0)
        finally:
            browser.close()

    assert served == ["success"]
    [update] = plaid.link_tokens
    assert update["access_token"] == PLAID_TOKEN and "products" not in update
    reconnected = Connection.objects.get(pk=connection.pk)
    assert reconnected.status == "active"
    assert sorted(reconnected.accounts.values_list("pk", flat=True)) == accounts
    event = AuditEvent.objects.get(connection_id=connection.pk, event="connection.reconnected")
    assert event.source == "admin"
