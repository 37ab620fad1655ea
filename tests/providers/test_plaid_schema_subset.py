"""The Plaid OpenAPI subset in the repository: sourced, dated, complete for what the fake's tests validate."""

from __future__ import annotations

import json
from datetime import date

from tests.providers import plaid_schema
from tests.providers.schemas.extract_plaid_subset import _refs, closure


def test_the_subset_names_its_source_and_date():
    source = json.loads(plaid_schema.SUBSET.read_text())["x-source"]
    assert source["repository"] == "https://github.com/plaid/plaid-openapi"
    assert source["version"].startswith("2020-09-14")
    assert date.fromisoformat(source["extracted"])
    assert source["roots"] == list(plaid_schema.ROOT_COMPONENTS)


def test_the_subset_is_exactly_the_closure_of_its_roots():
    schemas = json.loads(plaid_schema.SUBSET.read_text())["components"]["schemas"]
    assert set(plaid_schema.ROOT_COMPONENTS) <= set(schemas)
    assert all(_refs(schema) <= set(schemas) for schema in schemas.values())  # every $ref resolves inside
    assert closure(schemas, list(plaid_schema.ROOT_COMPONENTS)) == schemas  # and nothing unused is carried
