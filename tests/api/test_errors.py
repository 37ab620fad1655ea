"""The error body everywhere, including paths no route matches, and the error flattening."""

from __future__ import annotations

import json

import pytest
from rest_framework.exceptions import ErrorDetail

from sync.api.exceptions import flatten_errors


def test_unknown_api_path_is_a_json_404(alice):
    response = alice.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}


def test_non_api_paths_keep_djangos_404_page(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_api_root_lists_the_endpoints(alice):
    body = alice.get("/api/").json()
    assert set(body) == {"connections", "accounts", "transactions", "holdings", "sync-runs", "audit-events"}


def test_not_acceptable(alice):
    response = alice.get("/api/connections/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ({"name": [ErrorDetail("too long")]}, {"name": ["too long"]}),
        ({"credentials": {"seed": ["bad"]}}, {"credentials.seed": ["bad"]}),
        ([ErrorDetail("not an object")], {"non_field_errors": ["not an object"]}),
        ("plain", {"non_field_errors": ["plain"]}),
        ({"items": [{"a": ["x"]}, {}]}, {"items.0.a": ["x"]}),
    ],
)
def test_flatten_errors(detail, expected):
    assert flatten_errors(detail) == expected


# Over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default).
OVERSIZED_CONNECTION = json.dumps({"provider": "demo", "name": "x" * 3_000_000, "credentials": {}})


def test_oversized_body_is_a_json_413(alice, user):
    response = alice.post("/api/connections/", OVERSIZED_CONNECTION, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"code": "request_too_large", "message": "The request body is too large."}
    assert not user.connections.exists()


def test_oversized_body_without_credentials_is_refused_in_the_api_shape(anonymous):
    response = anonymous.post("/api/connections/", OVERSIZED_CONNECTION, content_type="application/json")
    # Authentication comes first: the body is never read.
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_oversized_form_to_the_api_login_page_is_a_json_413(db, client):
    response = client.post(
        "/api/auth/login/", "username=alice&password=" + "x" * 3_000_000, "application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_oversized_form_elsewhere_keeps_djangos_400_page(db, client):
    response = client.post(
        "/admin/login/", "username=alice&password=" + "x" * 3_000_000, "application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
