"""schemas/*.json: valid 2020-12 schemas, documented, closed, and shipped in the package."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.config.schema import GROUP_SCHEMA, SETTINGS_SCHEMA, load_schema

from .helpers import ROOT

NAMES = [GROUP_SCHEMA, SETTINGS_SCHEMA]


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_resolve(schema, schema["$defs"][ref.removeprefix("#/$defs/")]), **node}
    return node


def _objects(schema: dict[str, Any], node: Any, where: str):
    """Every object-typed subschema with properties, with a readable location."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _objects(schema, item, f"{where}[{i}]")
    elif isinstance(node, dict):
        if "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _objects(schema, value, f"{where}/{key}")


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_2020_12_with_an_id(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:pim-reconciler:schema:")


@pytest.mark.parametrize("name", NAMES)
def test_every_property_is_described_and_every_object_closed(name: str) -> None:
    schema = load_schema(name)
    found = list(_objects(schema, schema, "#"))
    assert found
    for where, node in found:
        assert node.get("additionalProperties") is False, where
        for prop, sub in node["properties"].items():
            assert _resolve(schema, sub).get("description"), f"{where}/{prop}"


@pytest.mark.parametrize("name", NAMES)
def test_packaged_schema_is_the_top_level_file(name: str) -> None:
    packaged = resources.files("reconciler").joinpath("schemas", name).read_text("utf-8")
    assert packaged == (ROOT / "schemas" / name).read_text("utf-8")
    json.loads(packaged)


def test_package_schemas_is_a_link_to_the_single_copy() -> None:
    link = ROOT / "reconciler" / "schemas"
    assert link.is_symlink() and Path(link.readlink()) == Path("../schemas")


def test_examples_validate_against_the_raw_schemas() -> None:
    """The files editors check (yaml-language-server) agree with what the loader accepts."""
    from reconciler.config.yamlsafe import load_yaml_bytes

    examples = ROOT / "examples" / "assignments"
    settings = Draft202012Validator(load_schema(SETTINGS_SCHEMA))
    groups = Draft202012Validator(load_schema(GROUP_SCHEMA))
    settings.validate(load_yaml_bytes((examples / "pim-reconciler.yaml").read_bytes()).data)
    for path in sorted((examples / "groups").glob("*.yaml")):
        groups.validate(load_yaml_bytes(path.read_bytes()).data)


def test_principal_exclusivity_checked_in_code_matches_the_published_schema() -> None:
    from reconciler.config.schema import PRINCIPAL_ONE_OF

    assert load_schema(GROUP_SCHEMA)["$defs"]["entry"]["oneOf"] == PRINCIPAL_ONE_OF
