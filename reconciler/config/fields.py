"""Field-level readers shared by group files and the settings file: principals, instants,
durations and lifetimes. Each returns the typed value, or None after recording a problem
(or silently, when the value has the wrong shape: the JSON Schema pass reports those).

Durations: ISO 8601 days/hours/minutes/seconds only, at least PT5M (format.md, "Semantics";
graph-pim-reference.md sections 3.1 and 6.3, via `reconciler.durations`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from reconciler.config.report import FileReport, path_text
from reconciler.config.yamlsafe import Path_
from reconciler.desired.model import Lifetime, PrincipalRef, PrincipalType
from reconciler.durations import MINIMUM_ASSIGNMENT, DurationError, parse_duration, parse_instant
from reconciler.problems import Code

GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
INSTANT = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})$"
)
DURATION = re.compile(
    r"^P(?!$)([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?"
    r"([0-9]+(\.[0-9]+)?S)?)?$"
)
LIFETIME_KEYS = ("permanent", "until", "duration")
_EXPLICIT = {
    "user": PrincipalType.USER,
    "group": PrincipalType.GROUP,
    "servicePrincipal": PrincipalType.SERVICE_PRINCIPAL,
}


def principal_text(value: Any) -> str | None:
    """The principal as the user wrote it: the string, or the name inside `{group: NAME}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        inner = next(iter(value.values()))
        return inner if isinstance(inner, str) else None
    return None


def entry_principal_text(entry: dict[str, Any]) -> str | None:
    """The principal(s) of an entry as written; several are joined with ", "."""
    if "principal" in entry:
        return principal_text(entry["principal"])
    many = entry.get("principals")
    if isinstance(many, list):
        texts = [t for t in (principal_text(v) for v in many) if t]
        return ", ".join(texts) or None
    return None


def principal_key(ref: PrincipalRef) -> tuple[str, str]:
    """Identity of a reference for duplicate detection: object ids compare alone (whatever
    type the file names), names compare case-insensitively within their type."""
    if GUID.match(ref.value):
        return ("id", ref.value.lower())
    return (str(ref.type), ref.value.casefold())


def read_principal(report: FileReport, value: Any, path: Path_) -> PrincipalRef | None:
    """`alex@contoso.example` -> user; a GUID -> id (lowercased); `{user|group|
    servicePrincipal: X}` -> that type. A bare name is `principal_ambiguous`."""
    if isinstance(value, str) and value:
        if "@" in value:
            return PrincipalRef(PrincipalType.USER, value)
        if GUID.match(value):
            return PrincipalRef(PrincipalType.ID, value.lower())
        report.add(
            Code.PRINCIPAL_AMBIGUOUS,
            f"ambiguous principal '{value}'; write {{group: {value}}} or "
            f"{{servicePrincipal: {value}}} (or {{user: {value}}})",
            path,
            principal=value,
        )
        return None
    if isinstance(value, dict) and len(value) == 1:
        ((kind, name),) = value.items()
        if kind in _EXPLICIT and isinstance(name, str) and name:
            return PrincipalRef(_EXPLICIT[kind], name.lower() if GUID.match(name) else name)
    return None


def read_instant(
    report: FileReport, value: Any, path: Path_, *, principal: str | None = None
) -> datetime | None:
    """An ISO 8601 time with a zone, as aware UTC; a calendar-invalid one is `schema`."""
    if not isinstance(value, str) or not INSTANT.match(value):
        return None  # reported by the schema pass
    try:
        return parse_instant(value)
    except ValueError:
        report.add(
            Code.SCHEMA,
            f"{path_text(path)}: '{value}' is not a valid date and time",
            path,
            principal=principal,
        )
        return None


def read_duration(
    report: FileReport, value: Any, path: Path_, *, principal: str | None = None
) -> timedelta | None:
    """An ISO 8601 duration (days/hours/minutes/seconds). Years, months or weeks give
    `duration_unit_unsupported` (with a hint in days); under PT5M gives `duration_too_short`."""
    if not isinstance(value, str) or not DURATION.match(value):
        return None  # reported by the schema pass
    try:
        delta = parse_duration(value)
    except DurationError as exc:
        code = Code.DURATION_UNIT_UNSUPPORTED if exc.unsupported_unit else Code.SCHEMA
        report.add(code, str(exc), path, principal=principal)
        return None
    if delta < MINIMUM_ASSIGNMENT:
        report.add(
            Code.DURATION_TOO_SHORT,
            f"duration {value} is shorter than PT5M, the shortest assignment PIM accepts",
            path,
            principal=principal,
        )
        return None
    return delta


def read_lifetime(
    report: FileReport, entry: dict[str, Any], path: Path_, *, principal: str | None = None
) -> tuple[Lifetime | None, bool]:
    """The lifetime an entry (or a settings default) states. Returns (lifetime, stated):
    `stated` is True when any lifetime key is present, even if it was invalid (a problem is
    then recorded and lifetime is None). More than one key is `lifetime_conflict`."""
    # in file order, so a conflict is reported at the key that came second
    present = sorted(
        (k for k in LIFETIME_KEYS if k in entry),
        key=lambda k: report.line((*path, k), key=True) or 0,
    )
    if not present:
        return None, False
    if len(present) > 1:
        report.add(
            Code.LIFETIME_CONFLICT,
            f"give only one of permanent, until or duration (found {' and '.join(present)})",
            (*path, present[1]),
            key=True,
            principal=principal,
        )
        return None, True
    key = present[0]
    value = entry[key]
    if key == "permanent":
        return (Lifetime.permanent() if value is True else None), True
    if key == "until":
        until = read_instant(report, value, (*path, key), principal=principal)
        return (Lifetime.fixed(until) if until else None), True
    delta = read_duration(report, value, (*path, key), principal=principal)
    return (Lifetime.rolling(delta, value) if delta is not None else None), True
