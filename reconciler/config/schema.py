"""JSON Schema validation of parsed files, with each error placed on its YAML line.

The schemas ship inside the package (`reconciler/schemas/*.json`, the same files as the
repository's top-level `schemas/`) and are read with `importlib.resources`. Messages are
rewritten for people: `errorMessage` / `patternErrorMessage` (the editor-friendly keywords
yaml-language-server also shows) where the schema gives one, otherwise a short phrase with
the key's path, e.g. `members.eligible[0].until: ...`.

Two validators per schema: a compiled one (fastjsonschema, generated Python code) answers
"valid or not" for the common case of a valid file in a fraction of the time; only a file it
refuses goes through jsonschema's `iter_errors`, whose every error becomes a problem. The
schemas use only keywords both read the same way (draft-07's subset of 2020-12; a test checks
that both agree on every file of the test corpus).
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from reconciler.config.fields import entry_principal_text
from reconciler.config.report import FileReport, path_text
from reconciler.problems import Code

GROUP_SCHEMA = "assignments.schema.json"
SETTINGS_SCHEMA = "settings.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The packaged JSON Schema `name` (e.g. "assignments.schema.json") as a dict."""
    text = resources.files("reconciler").joinpath("schemas", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


PRINCIPAL_ONE_OF = [{"required": ["principal"]}, {"required": ["principals"]}]
"""An entry's "exactly one of principal / principals": published in the schema for editors,
but enforced by `reconciler.config.groups` (same message, `schema` code) because a `oneOf`
per entry costs a third of the validation time of a large repository."""


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace local `{"$ref": "#/$defs/x", ...}` by the definition merged with its siblings.
    Same meaning (our schemas are not recursive), without a reference lookup per value:
    validation of a large repository is about twice as fast. Drops `PRINCIPAL_ONE_OF`."""
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _inline(v, defs)
        for k, v in node.items()
        if k not in ("$ref", "$defs") and not (k == "oneOf" and v == PRINCIPAL_ONE_OF)
    }
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline(defs[ref.removeprefix("#/$defs/")], defs)
        out = {**target, **out}
    return out


@cache
def validator(name: str) -> Draft202012Validator:
    """A cached 2020-12 validator for the packaged schema `name` (local refs inlined)."""
    schema = load_schema(name)
    return Draft202012Validator(_inline(schema, schema.get("$defs", {})))


@cache
def fast_validator(name: str) -> Any:
    """The compiled validator of schema `name`: a callable raising
    `fastjsonschema.JsonSchemaException` for invalid data (it never fills defaults in)."""
    schema = load_schema(name)
    inlined = _inline(schema, schema.get("$defs", {}))
    inlined["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(inlined, use_default=False, use_formats=False)


def is_valid(data: Any, name: str) -> bool:
    """Whether `data` satisfies schema `name`, by the compiled validator."""
    try:
        fast_validator(name)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'" if len(value) <= 60 else "a long text"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


_TYPE_NAMES = {
    "string": "text",
    "object": "a mapping",
    "array": "a list",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


def _message(err: ValidationError) -> str:
    schema = err.schema if isinstance(err.schema, dict) else {}
    kind = err.validator
    if kind == "pattern" and "patternErrorMessage" in schema:
        return f"'{err.instance}': {schema['patternErrorMessage']}"
    if kind == "type":
        wanted = (
            err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        )
        names = " or ".join(_TYPE_NAMES.get(w, w) for w in wanted)
        hint = ""
        if "string" in wanted and isinstance(err.instance, bool | int | float):
            hint = " (quote it if it is text)"
        return f"expected {names}, got {_describe(err.instance)}{hint}"
    if "errorMessage" in schema and kind != "additionalProperties":
        return str(schema["errorMessage"])
    if kind == "required":
        missing = [k for k in err.validator_value if k not in (err.instance or {})]
        return "missing " + ", ".join(f"'{k}'" for k in missing)
    if kind == "enum":
        allowed = ", ".join(str(v) for v in err.validator_value)
        return f"expected one of {allowed}, got {_describe(err.instance)}"
    if kind == "const":
        return f"expected {json.dumps(err.validator_value)}, got {_describe(err.instance)}"
    if kind == "minLength":
        return "must not be empty"
    if kind == "minItems":
        return "must list at least one"
    return err.message


def _unknown_keys(
    report: FileReport, err: ValidationError, path: tuple[str | int, ...], principal: str | None
) -> None:
    known = list((err.schema.get("properties") or {}).keys())
    where = f" in {path_text(path)}" if path else ""
    for key in err.instance:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; expected {', '.join(known)}"
        report.add(
            Code.SCHEMA,
            f"unknown key '{key}'{where}{hint}",
            (*path, key),
            key=True,
            principal=principal,
        )


def _principal_at(data: Any, path: tuple[str | int, ...]) -> str | None:
    """The principal(s) of the entry that `path` points into, as written."""
    found = None
    node = data
    for part in path:
        if isinstance(node, dict) and ("principal" in node or "principals" in node):
            found = entry_principal_text(node)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return found
    if isinstance(node, dict) and ("principal" in node or "principals" in node):
        found = entry_principal_text(node)
    return found


def check_schema(report: FileReport, data: Any, name: str) -> None:
    """Validate `data` against the packaged schema `name`, adding one `schema` problem per
    error at the line of the offending value (or key, for unknown keys). A valid file costs
    one run of the compiled validator; jsonschema explains the invalid ones."""
    if is_valid(data, name):
        return
    errors = sorted(
        validator(name).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]
    )
    wrong_type = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    seen: set[tuple[int | None, str]] = set()
    for err in errors:
        path = tuple(err.absolute_path)
        if path in wrong_type and err.validator != "type":
            continue  # "expected text, got a list" says it all; skip enum/pattern on top
        before = len(report.problems)
        principal = _principal_at(data, path) if len(path) >= 3 else None
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            _unknown_keys(report, err, path, principal)
        else:
            prefix = f"{path_text(path)}: " if path else ""
            report.add(Code.SCHEMA, prefix + _message(err), path, principal=principal)
        # drop exact repeats (one wrong principal can break several keywords at once)
        fresh = report.problems[before:]
        del report.problems[before:]
        for p in fresh:
            if (p.line, p.message) not in seen:
                seen.add((p.line, p.message))
                report.problems.append(p)
