"""Extract the part of Plaid's OpenAPI description that the fake-Plaid tests validate against.

Usage (from the repository root, with Plaid's published spec downloaded from
https://github.com/plaid/plaid-openapi, file 2020-09-14.yml):

    .venv/bin/python tests/providers/schemas/extract_plaid_subset.py SPEC.yml \
        tests/providers/schemas/plaid-openapi-subset.json

It keeps the component schemas named in `tests/providers/plaid_schema.py`
(the responses of the endpoints the fake serves, and PlaidError) and every
schema they reach through `$ref`, unchanged, under a header naming the source,
its version and the day of extraction. The whole spec is 3 MB; the subset is
what the test needs, so a clean clone validates without anything outside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run as a script from anywhere

from tests.providers.plaid_schema import ROOT_COMPONENTS

REF_PREFIX = "#/components/schemas/"


def _refs(node) -> set[str]:
    """The component names `node` refers to."""
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = set()
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            if not value.startswith(REF_PREFIX):
                raise ValueError(f"unsupported $ref {value!r}")
            found.add(value.removeprefix(REF_PREFIX))
        else:
            found |= _refs(value)
    return found


def closure(schemas: dict, roots: list[str]) -> dict:
    """`roots` and every schema they reach through $ref, in the spec's order."""
    wanted, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(_refs(schemas[name]) - wanted)
    return {name: schema for name, schema in schemas.items() if name in wanted}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="Plaid's OpenAPI YAML (plaid/plaid-openapi, 2020-09-14.yml)")
    parser.add_argument("output", type=Path, help="the JSON subset to write")
    args = parser.parse_args(argv)

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(args.spec.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    schemas = closure(spec["components"]["schemas"], list(ROOT_COMPONENTS))
    subset = {
        "x-source": {
            "description": "A subset of Plaid's public OpenAPI description of its API: the component schemas "
            "the fake Plaid server's responses are validated against, and their $ref closure, unchanged.",
            "repository": "https://github.com/plaid/plaid-openapi",
            "file": "2020-09-14.yml",
            "version": spec["info"]["version"],
            "licence": "MIT (plaid/plaid-openapi)",
            "extracted": datetime.now(UTC).date().isoformat(),
            "extracted_by": "tests/providers/schemas/extract_plaid_subset.py",
            "roots": list(ROOT_COMPONENTS),
        },
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "components": {"schemas": schemas},
    }
    args.output.write_text(json.dumps(subset, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(schemas)} schemas ({', '.join(ROOT_COMPONENTS)} and their references) -> {args.output}")


if __name__ == "__main__":
    main()
