"""Checks and conversions of tenant-file values (docs/emulator.md), shared by the fixture
loader and the application loader so every malformed value is one `ValueError` naming where
it is (`users[3]`, `applications[0].passwordCredentials[1]`; list positions count from 0).

A YAML file can hold what JSON cannot: PyYAML reads an unquoted `2026-12-01T12:00:00Z` as a
`datetime` and `2026-12-01` as a `date`. Values the emulator serves as written go through
`served`, which writes instants as Graph's ISO 8601 UTC strings (`2026-12-01T12:00:00Z`) and
refuses what no JSON answer can hold.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from reconciler.emulator.timefmt import format_plain_time, parse_time


def served(value: Any, where: str) -> Any:
    """`value` made JSON-safe for an answer: a `datetime` (naive = UTC) becomes the ISO 8601
    UTC string `YYYY-MM-DDTHH:MM:SSZ` (fractions only when present), a `date` `YYYY-MM-DD`,
    inside mappings and lists too (keys included). Raises `ValueError` naming `where` for
    anything else that is not JSON (a set, bytes, a non-finite number)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not a JSON number")
        return value
    if isinstance(value, datetime):
        return format_plain_time(parse_time(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(served(k, where)): served(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [served(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{where}: {value!r} cannot be served as JSON")


def text(value: Any, where: str) -> str | None:
    """An optional string value: `None` stays `None`; a string as is; an integer, a YAML
    timestamp or date as written (see `served`). Raises `ValueError` for a list, mapping,
    boolean or other value."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, datetime, date)) and not isinstance(value, bool):
        return str(served(value, where))
    raise ValueError(f"{where} must be a string, not {value!r}")


def required(entry: dict[str, Any], key: str, where: str) -> Any:
    """`entry[key]`; raises `ValueError` `"{where}: missing {key}"` when it is absent, null or
    an empty string."""
    value = entry.get(key)
    if value is None or value == "":
        raise ValueError(f"{where}: missing {key}")
    return value


def required_text(entry: dict[str, Any], key: str, where: str) -> str:
    """`required`, then `text`: a non-empty string."""
    value = text(required(entry, key, where), f"{where}.{key}")
    assert value is not None
    return value


def string_list(value: Any, where: str) -> list[str]:
    """A list of strings (`None` = `[]`). Raises `ValueError` for a single string (which would
    otherwise be read as its characters), a mapping, or an item that is not a string."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list of strings, not {value!r}")
    out = []
    for i, item in enumerate(value):
        item_text = text(item, f"{where}[{i}]")
        if item_text is None:
            raise ValueError(f"{where}[{i}] must be a string, not null")
        out.append(item_text)
    return out


def mapping_list(value: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """(`where[i]`, entry) of a list of mappings (`None` = `[]`). Raises `ValueError` when
    `value` is not a list or an entry is not a mapping."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list of mappings, not {value!r}")
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ValueError(f"{where}[{i}] must be a mapping, not {entry!r}")
        out.append((f"{where}[{i}]", entry))
    return out


def mapping(value: Any, where: str) -> dict[str, Any]:
    """A mapping (`None` = `{}`). Raises `ValueError` for anything else."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping, not {value!r}")
    return value


def served_mapping(value: Any, where: str) -> dict[str, Any] | None:
    """An optional mapping served as written: `None` stays `None`, else `mapping` then
    `served`. Raises `ValueError` naming `where` for a value that is not a mapping or holds
    what JSON cannot."""
    if value is None:
        return None
    return served(mapping(value, where), where)
