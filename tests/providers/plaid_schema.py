"""Validate JSON against Plaid's published OpenAPI (2020-09-14) component schemas.

The schemas come from `schemas/plaid-openapi-subset.json`, inside the repository: the
components below and everything they reference, taken unchanged from Plaid's public spec
(plaid/plaid-openapi on GitHub) by `schemas/extract_plaid_subset.py`, whose header says
how to regenerate it. A missing file is an error, never a skip: the check must run in CI.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SUBSET = Path(__file__).resolve().parent / "schemas" / "plaid-openapi-subset.json"
URI = "urn:plaid-openapi"
RESPONSE_SCHEMAS = {
    "/accounts/get": "AccountsGetResponse",
    "/transactions/sync": "TransactionsSyncResponse",
    "/investments/holdings/get": "InvestmentsHoldingsGetResponse",
    "/investments/transactions/get": "InvestmentsTransactionsGetResponse",
    "/link/token/create": "LinkTokenCreateResponse",
    "/item/public_token/exchange": "ItemPublicTokenExchangeResponse",
    "/item/remove": "ItemRemoveResponse",
    "/webhook_verification_key/get": "WebhookVerificationKeyGetResponse",
}
# What the subset must contain (with its $ref closure): every response schema, and Plaid's error body.
ROOT_COMPONENTS = (*RESPONSE_SCHEMAS.values(), "PlaidError")


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
    spec = json.loads(SUBSET.read_text())  # FileNotFoundError when missing: a failure, not a skip
    bundle = {"components": {"schemas": _json_schema(spec["components"]["schemas"])}}
    return Registry().with_resource(URI, Resource.from_contents(bundle, default_specification=DRAFT7))


def errors(data, component: str) -> list[str]:
    """Schema violations of `data` as component `component` ([] when valid)."""
    validator = Draft7Validator({"$ref": f"{URI}#/components/schemas/{component}"}, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
