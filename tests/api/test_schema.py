"""The OpenAPI schema: generated without warnings, served with local docs, and honoured by the API.

The schemathesis run sends generated requests for every operation through the
real WSGI application and database and checks that none is answered with a 500
and that every response (status, content type, body) matches the schema.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from itertools import product

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Valid requests, and requests the schema says are invalid (these must be refused, not crash).
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
COMPONENTS = {
    "Account",
    "AuditEvent",
    "Connection",
    "ConnectionCreateRequest",
    "Error",
    "Holding",
    "PatchedTransactionRequest",
    "SyncAccountsRequest",
    "SyncHoldingsRequest",
    "SyncResult",
    "SyncRun",
    "SyncTransactionsRequest",
    "Transaction",
}


def test_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "openapi: 3" in target.read_text()


def test_schema_endpoint_documents_every_operation_and_error(user):
    client = APIClient()
    client.force_authenticate(user)
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert set(schema["components"]["schemas"]) >= COMPONENTS
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    paths = schema["paths"]
    for path in (
        "/api/connections/{id}/sync-accounts/",
        "/api/connections/{id}/sync-transactions/",
        "/api/accounts/{id}/sync-holdings/",
    ):
        responses = paths[path]["post"]["responses"]
        assert {"200", "400", "401", "404", "409", "429", "502", "503"} <= set(responses)
        assert responses["503"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"
    assert set(paths["/api/transactions/{id}/"]) == {"get", "patch"}
    assert set(schema["components"]["schemas"]["PatchedTransactionRequest"]["properties"]) == {"category", "notes"}
    # No response shape can carry credentials.
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("Request"):
            assert "credentials" not in component.get("properties", {}), name


def test_docs_serve_swagger_ui_from_local_static_files(user):
    client = APIClient()
    client.force_login(user)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    # No asset from elsewhere (a CDN): every src and href is a path on this site. (Searching the page
    # for the letters "cdn" also matched the random CSRF token now and then.)
    external = re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", html, flags=re.IGNORECASE)
    assert external == []
    assert "cdn.jsdelivr" not in html.lower() and "unpkg.com" not in html.lower()
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_docs_require_login_and_send_anonymous_visitors_to_it(db):
    # Issue 18: a login link rather than a bare 401; the schema itself stays for logged-in callers.
    response = APIClient().get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"] == "/api/auth/login/?next=/api/docs/"
    assert APIClient().get("/api/schema/").status_code in (401, 403)


def test_operations_have_readable_ids_summaries_and_error_examples(user):
    client = APIClient()
    client.force_authenticate(user)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operations = {
        op["operationId"]: op
        for path in schema["paths"].values()
        for method, op in path.items()
        if method != "parameters"
    }
    assert {
        "listConnections",
        "getConnection",
        "createConnection",
        "disconnectConnection",
        "syncConnection",
        "syncConnectionAccounts",
        "syncConnectionTransactions",
        "importConnectionStatement",
        "listTransactions",
        "updateTransaction",
        "syncAccountHoldings",
        "getAccountBalances",
        "getNetWorth",
        "listSyncRuns",
        "listAuditEvents",
    } <= set(operations)
    for op_id, op in operations.items():
        assert op.get("summary") and op.get("description"), op_id
        assert "selector" not in op["description"] and "sync." not in op["description"], op_id
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"].get("examples"), (op_id, status)
    assert "sync.results" not in str(schema["components"]["schemas"]["SyncResult"])


@contextmanager
def keeping_the_test_connection():
    """Stop Django from closing the test's database connection (and transaction) after each request.

    Django's test client does the same around each of its requests; the WSGI
    application called directly does not.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema():
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(raw)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    api_schema, settings_override, user, synced_connection
):
    api_schema.app = get_wsgi_application()
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
    real_ids = {
        "connections": str(synced_connection.pk),
        "accounts": str(synced_connection.accounts.get(type="investment").pk),
        "transactions": str(synced_connection.accounts.first().transactions.first().pk),
    }
    checked = 0
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # Disconnecting comes last, so the sync actions run on an active connection.
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
        resource = operation.path.split("/")[2]
        fixed = {"id": real_ids[resource]} if "{id}" in operation.path and resource in real_ids else None
        for mode, path_parameters in product(MODES, (None, fixed) if fixed else (None,)):
            if mode is GenerationMode.NEGATIVE and path_parameters:
                continue  # with the id fixed, some operations have nothing left to make invalid
            strategy = operation.as_strategy(mode, path_parameters=path_parameters)

            @settings(
                max_examples=6,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def exercise(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            with keeping_the_test_connection():
                exercise()
            checked += 1
    assert checked >= 40


@pytest.fixture
def settings_override(settings):
    # Generated requests hit the sync actions many times: the throttle is not under test here.
    settings.FINSYNC_SYNC_THROTTLE_RATE = "100000/minute"
    return settings
