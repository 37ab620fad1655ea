"""Connecting safely: private provider hosts refused (SSRF), bad credential input as 400, throttling, audit.

The SSRF cases keep a listening socket on the loopback port the URLs name and
check afterwards that nothing connected to it: a refused host is never contacted.
"""

from __future__ import annotations

import base64
import logging
import socket
from contextlib import ExitStack

import pytest
from django.core.management import CommandError, call_command

from sync.models import AuditEvent, Connection, SyncRun
from tests.api.test_simplefin import fake, server  # noqa: F401 - fixtures

PASSWORD = "pw-Sekrit-4711"


class Listener:
    """Listening TCP sockets on one port of 127.0.0.1 (and ::1 when the machine has IPv6 loopback)."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        first.bind(("127.0.0.1", 0))
        self.port = first.getsockname()[1]
        self.sockets.append(first)
        try:
            second = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            second.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            second.bind(("::1", self.port))
            self.sockets.append(second)
        except OSError:
            pass
        for sock in self.sockets:
            sock.listen(8)
            sock.setblocking(False)

    def accepted(self) -> int:
        count = 0
        for sock in self.sockets:
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
        return count

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def listener():
    with ExitStack() as stack:
        listen = Listener()
        stack.callback(listen.close)
        yield listen


@pytest.fixture
def restricted(settings):
    """The production policy: only public provider hosts (the suite's default lifts it for its loopback fakes)."""
    settings.FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS = False
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = True  # the listener speaks plain http; the scheme is not what is tested
    settings.FINSYNC_HTTP_CONNECT_TIMEOUT = 1.0
    settings.FINSYNC_HTTP_MAX_RETRIES = 0


# Hosts naming the listener's loopback port: were any of them contacted, the listener would see it.
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "localhost",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "0.0.0.0",  # noqa: S104 - a URL host, nothing binds to it
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::]",
]
# Other refused classes (nothing listens there; nothing may be sent either).
OTHER_PRIVATE = [
    "10.1.2.3",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.10",
    "198.51.100.7",
    "203.0.113.9",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fe80::1]",
    "[ff02::1]",
    "[2001:db8::1]",
    "[::ffff:10.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
]
HOSTS = LOOPBACK_SPELLINGS + OTHER_PRIVATE


def access_url(host: str, port: int) -> str:
    return f"http://user:{PASSWORD}@{host}:{port}/simplefin"


def setup_token(host: str, port: int) -> str:
    return base64.b64encode(f"http://{host}:{port}/claim/abc".encode()).decode()


def assert_refused_and_audited(response, field: str, source: str = "api") -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert "private address" in body["fields"][field][0]
    assert PASSWORD not in response.content.decode()
    assert not Connection.objects.exists()
    event = AuditEvent.objects.get(event="connection.connect_failed")
    assert (event.source, event.payload["provider"], event.payload["code"]) == (source, "simplefin", "validation_error")
    assert PASSWORD not in str(event.payload)


@pytest.mark.parametrize("host", HOSTS)
def test_api_refuses_an_access_url_on_a_private_host_without_contacting_it(alice, restricted, listener, host):
    response = alice.post(
        "/api/connections/",
        {"provider": "simplefin", "credentials": {"access_url": access_url(host, listener.port)}},
        format="json",
    )
    assert_refused_and_audited(response, "credentials.access_url")
    assert listener.accepted() == 0


@pytest.mark.parametrize("host", HOSTS)
def test_api_refuses_a_setup_token_whose_claim_url_is_private(alice, restricted, listener, host):
    response = alice.post(
        "/api/connections/",
        {"provider": "simplefin", "credentials": {"setup_token": setup_token(host, listener.port)}},
        format="json",
    )
    assert_refused_and_audited(response, "credentials.setup_token")
    assert listener.accepted() == 0


def test_refused_closed_and_silent_private_hosts_get_the_same_answer(alice, restricted, listener):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    answers = set()
    for port in (listener.port, closed_port):
        response = alice.post(
            "/api/connections/",
            {"provider": "simplefin", "credentials": {"access_url": access_url("127.0.0.1", port)}},
            format="json",
        )
        answers.add((response.status_code, response.content))
    answers.add(
        (
            (
                r := alice.post(
                    "/api/connections/",
                    {"provider": "simplefin", "credentials": {"access_url": access_url("10.255.255.1", 81)}},
                    format="json",
                )
            ).status_code,
            r.content,
        )
    )
    assert len(answers) == 1
    assert listener.accepted() == 0


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "0x7f000001", "[::ffff:127.0.0.1]", "10.0.0.1", "[fe80::1]"]
)
def test_cli_refuses_private_hosts_with_exit_2(user, restricted, listener, host):
    for option, value in (
        ("--access-url", access_url(host, listener.port)),
        ("--setup-token", setup_token(host, listener.port)),
    ):
        with pytest.raises(CommandError) as caught:
            call_command("connect", "simplefin", "--user", user.username, option, value)
        assert caught.value.returncode == 2
        assert "private address" in str(caught.value)
        assert option in str(caught.value)
        assert PASSWORD not in str(caught.value)
    assert listener.accepted() == 0
    assert not Connection.objects.exists()
    assert AuditEvent.objects.filter(event="connection.connect_failed", source="cli").count() == 2


def test_the_opt_in_setting_lets_loopback_fakes_work(alice, settings, fake, server):  # noqa: F811
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = True
    settings.FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS = True
    response = alice.post(
        "/api/connections/",
        {"provider": "simplefin", "credentials": {"setup_token": fake.setup_token(server.url)}},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_a_stored_url_that_now_leads_to_a_private_host_fails_the_sync(alice, settings, fake, server):  # noqa: F811
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = True
    settings.FINSYNC_HTTP_MAX_RETRIES = 0
    settings.FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS = True  # connected while the fake was allowed
    created = alice.post(
        "/api/connections/",
        {"provider": "simplefin", "credentials": {"setup_token": fake.setup_token(server.url)}},
        format="json",
    )
    assert created.status_code == 201
    connection_id = created.json()["id"]
    fake.requests.clear()
    settings.FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS = False  # now its host counts as what it is: loopback

    response = alice.post(f"/api/connections/{connection_id}/sync-accounts/", {}, format="json")

    assert response.status_code == 502, response.content
    body = response.json()
    assert body["code"] == "provider_unavailable"
    assert "private address" in body["message"]
    assert fake.requests == []
    run = SyncRun.objects.get(pk=body["sync_run_id"])
    assert (run.status, run.reason_code) == ("failed", "provider_unavailable")
    assert "private address" in run.message
    events = list(AuditEvent.objects.filter(connection_id=connection_id).values_list("event", flat=True))
    assert "sync.accounts.failed" in events
    assert Connection.objects.get(pk=connection_id).last_error_code == "provider_unavailable"


# --- bad credentials input: a 400 naming the field, never a 500, never the secret ---------------------------


BAD_CREDENTIALS = [
    ("simplefin", {"access_url": f"https://u:{PASSWORD}@bank.example:99999/x"}, "credentials.access_url"),
    ("simplefin", {"access_url": f"https://u:{PASSWORD}@bank.example:abc/x"}, "credentials.access_url"),
    ("simplefin", {"access_url": f"https://u:{PASSWORD}@bank.example:0/x"}, "credentials.access_url"),
    ("simplefin", {"access_url": f"http://u:{PASSWORD}@[::1"}, "credentials.access_url"),
    ("simplefin", {"access_url": f"https://u:{PASSWORD}@bank example/x"}, "credentials.access_url"),
    ("simplefin", {"access_url": 5}, "credentials.access_url"),
    ("simplefin", {"access_url": [f"https://u:{PASSWORD}@bank.example/x"]}, "credentials.access_url"),
    ("simplefin", {"access_url": {"url": PASSWORD}}, "credentials.access_url"),
    ("simplefin", {"access_url": f"https://u:{PASSWORD}@bank.example/" + "x" * 3000}, "credentials.access_url"),
    ("simplefin", {"setup_token": 12345}, "credentials.setup_token"),
    ("simplefin", {"setup_token": True}, "credentials.setup_token"),
    ("simplefin", {"setup_token": "A" * 5000}, "credentials.setup_token"),
    ("simplefin", {"password": PASSWORD}, "credentials.password"),
    ("plaid", {"access_token": 123456789}, "credentials.access_token"),
    ("plaid", {"access_token": 1.5}, "credentials.access_token"),
    ("plaid", {"access_token": "access-" + "x" * 600}, "credentials.access_token"),
    ("demo", {"seed": [1]}, "credentials.seed"),
]


@pytest.mark.parametrize(("provider", "credentials", "field"), BAD_CREDENTIALS)
def test_bad_credentials_are_400_naming_the_field(alice, settings, caplog, provider, credentials, field):
    settings.DEBUG = True  # a 500 would print the request's locals
    caplog.set_level(logging.DEBUG)
    response = alice.post("/api/connections/", {"provider": provider, "credentials": credentials}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["fields"], body
    assert PASSWORD not in response.content.decode()
    assert PASSWORD not in caplog.text
    event = AuditEvent.objects.get(event="connection.connect_failed")
    assert field in event.payload["fields"]
    assert PASSWORD not in str(event.payload)
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        f"https://u:{PASSWORD}@bank.example:99999/x",
        f"https://u:{PASSWORD}@bank.example:abc/x",
        f"http://u:{PASSWORD}@[::1",
        f"https://u:{PASSWORD}@bank.example/" + "x" * 3000,
    ],
)
def test_cli_bad_access_url_is_exit_2_without_the_secret(user, url):
    with pytest.raises(CommandError) as caught:
        call_command("connect", "simplefin", "--user", user.username, "--access-url", url)
    assert caught.value.returncode == 2
    assert "--access-url" in str(caught.value)
    assert PASSWORD not in str(caught.value)


# --- throttling and audit ----------------------------------------------------------------------------------


def test_connects_are_throttled_per_user_with_retry_after(alice, bob, settings):
    settings.FINSYNC_CONNECT_THROTTLE_RATE = "2/hour"
    assert alice.post("/api/connections/", {"provider": "demo"}, format="json").status_code == 201
    bad = alice.post("/api/connections/", {"provider": "demo", "credentials": {"seed": "x"}}, format="json")
    assert bad.status_code == 400  # a failed attempt counts too
    third = alice.post("/api/connections/", {"provider": "demo"}, format="json")
    assert third.status_code == 429
    assert third.json()["code"] == "throttled"
    assert 0 < int(third["Retry-After"]) <= 3600
    assert Connection.objects.count() == 1
    # Another user's allowance is their own; reads are not throttled.
    assert bob.post("/api/connections/", {"provider": "demo"}, format="json").status_code == 201
    assert alice.get("/api/connections/").status_code == 200


def test_the_default_connect_rate_is_20_per_hour(alice, settings):
    del settings.FINSYNC_CONNECT_THROTTLE_RATE
    statuses = [
        alice.post("/api/connections/", {"provider": "demo", "credentials": {"seed": "x"}}, format="json").status_code
        for _ in range(21)
    ]
    assert statuses == [400] * 20 + [429]


def test_every_connect_attempt_is_audited(alice, user):
    ok = alice.post("/api/connections/", {"provider": "demo"}, format="json")
    assert ok.status_code == 201
    alice.post("/api/connections/", {"provider": "demo", "credentials": {"accounts": "many"}}, format="json")
    alice.post("/api/connections/", {"provider": "nope"}, format="json")
    created = AuditEvent.objects.get(event="connection.created")
    assert (str(created.connection_id), created.source, created.actor) == (ok.json()["id"], "api", user)
    failed = AuditEvent.objects.get(event="connection.connect_failed")
    assert (failed.connection_id, failed.source, failed.actor, failed.actor_label) == (None, "api", user, "alice")
    assert failed.payload["provider"] == "demo"
    assert failed.payload["code"] == "validation_error"
    assert failed.payload["fields"] == ["credentials.accounts"]
    assert failed.correlation_id is not None
    # An unknown provider is rejected by the request's parsing, before any connect attempt.


# --- demo bounds ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "field"),
    [
        ({"accounts": 11}, "credentials.accounts"),
        ({"accounts": 10, "transactions_per_account": 2001}, "credentials.transactions_per_account"),
        ({"accounts": 1, "transactions_per_account": 20_001}, "credentials.transactions_per_account"),
        ({"transactions_per_account": 10_000_000}, "credentials.transactions_per_account"),
    ],
)
def test_api_demo_connections_are_bounded(alice, credentials, field):
    response = alice.post("/api/connections/", {"provider": "demo", "credentials": credentials}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]
    assert not Connection.objects.exists()


def test_api_demo_bounds_follow_the_settings_and_allow_the_maximum(alice, settings):
    at_cap = {"accounts": 10, "transactions_per_account": 2000}
    assert (
        alice.post("/api/connections/", {"provider": "demo", "credentials": at_cap}, format="json").status_code == 201
    )
    settings.FINSYNC_DEMO_MAX_ACCOUNTS = 2
    settings.FINSYNC_DEMO_MAX_TRANSACTIONS = 100
    for credentials in (
        {"accounts": 3, "transactions_per_account": 1},
        {"accounts": 2, "transactions_per_account": 51},
    ):
        response = alice.post("/api/connections/", {"provider": "demo", "credentials": credentials}, format="json")
        assert response.status_code == 400


def test_cli_demo_keeps_the_wide_bounds(user):
    call_command("connect", "demo", "--user", user.username, "--accounts", "50", "--transactions-per-account", "100000")
    connection = Connection.objects.get()
    assert (connection.config["accounts"], connection.config["transactions_per_account"]) == (50, 100_000)
