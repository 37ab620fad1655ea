"""Validate JSON against Plaid's published OpenAPI (2020-09-14) component schemas."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SPEC = Path("/work/shared/reference/plaid-openapi-2020-09-14.yml")
URI = "urn:plaid-openapi"
RESPONSE_SCHEMAS = {
    "/accounts/get": "AccountsGetResponse",
    "/transactions/sync": "TransactionsSyncResponse",
    "/investments/holdings/get": "InvestmentsHoldingsGetResponse",
}


def _json_schema(node):
    """OpenAPI 3.0 -> JSON Schema: `nullable: true` becomes "or null"; refs point into the bundle."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key not in ("nullable", "example")}
    if "$ref" in converted:
        converted["$ref"] = URI + converted["$ref"]
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _registry() -> Registry:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(SPEC.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    bundle = {"components": {"schemas": _json_schema(spec["components"]["schemas"])}}
    return Registry().with_resource(URI, Resource.from_contents(bundle, default_specification=DRAFT7))


def errors(data, component: str) -> list[str]:
    """Schema violations of `data` as component `component` ([] when valid)."""
    validator = Draft7Validator({"$ref": f"{URI}#/components/schemas/{component}"}, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def available() -> bool:
    return SPEC.exists()
