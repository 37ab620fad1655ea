"""The docs' "Try it out": the example path ids reach no record, so trying it as is records nothing."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from sync.models import AuditEvent, SyncRun

pytestmark = pytest.mark.django_db


def _path_ids(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "id":
                    yield path, method, parameter


def test_every_path_id_has_a_placeholder_that_says_where_ids_come_from(user):
    client = APIClient()
    client.force_authenticate(user)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    found = list(_path_ids(schema))
    assert len({path for path, _, _ in found}) >= 10
    for path, method, parameter in found:
        (example,) = [e["value"] for e in parameter["examples"].values()]
        with pytest.raises(ValueError):
            uuid.UUID(example)  # not an id: Swagger UI's "Try it out" sends it as is
        listing = path.split("{id}")[0]
        assert f"GET {listing}" in parameter["description"], (path, method)


def test_trying_the_examples_as_is_syncs_and_records_nothing(user, demo_connection):
    client = APIClient()
    client.force_authenticate(user)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    runs, events = SyncRun.objects.count(), AuditEvent.objects.count()
    tried = 0
    for path, method, parameter in _path_ids(schema):
        (example,) = [e["value"] for e in parameter["examples"].values()]
        url = path.replace("{id}", example)
        body = schema["paths"][path][method].get("requestBody", {}).get("content", {})
        if "multipart/form-data" in body:  # a statement upload: a file, so that only the id is wrong
            data, format = {"file": SimpleUploadedFile("statement.ofx", b"OFXHEADER:100")}, "multipart"
        else:
            data, format = {}, "json"
        response = getattr(client, method)(url, data, format=format)
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["code"] == "not_found"
        tried += method == "post"
    assert tried >= 5  # the sync endpoints among them
    assert (SyncRun.objects.count(), AuditEvent.objects.count()) == (runs, events)
