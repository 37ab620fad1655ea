"""The error body everywhere, including paths no route matches, and the error flattening."""

from __future__ import annotations

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
