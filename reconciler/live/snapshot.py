"""A compact snapshot of live PIM state, its fingerprint, and what moved between two snapshots.

A saved plan keeps the snapshot of the state it was made from, so that `apply --plan` can say
*what* changed since review (per group: assignments added, removed or changed live, policy
rules changed) rather than only that a fingerprint differs. The comparison is deepdiff's; the
wording is ours.

Snapshot (JSON): `{"groups": {group id: {"schedules": {key: row}, "policies": {access: {rule
id: {field: value}}}}}, "names": {id: display name}}`. A row key is `access kind principal-id`,
with ` activated` / ` inherited` appended for rows the reconciler never manages; a row is
`{"id", "start", "end", "status"}` (UTC text, `end` null = permanent). The fingerprint is the
SHA-256 of `groups` only: a renamed principal does not make a plan stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.desired.policy import field_to_json
from reconciler.durations import format_instant
from reconciler.live.model import AssignmentType, GroupPolicy, LiveSchedule, MemberType

Snapshot = dict[str, Any]


class Fingerprint(str):
    """The live-state fingerprint (hex SHA-256), carrying the snapshot it digests (None when
    it was made without one, e.g. read from an older plan file). Compares as its text."""

    snapshot: Snapshot | None

    def __new__(cls, digest: str, snapshot: Snapshot | None = None) -> Fingerprint:
        obj = super().__new__(cls, digest)
        obj.snapshot = snapshot
        return obj


def digest(groups: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(groups, sort_keys=True).encode()).hexdigest()


def _when(value: Any) -> str | None:
    return format_instant(value) if value is not None else None


def _row_key(row: LiveSchedule) -> str:
    key = f"{row.access} {row.kind} {row.principal_id}"
    if row.assignment_type is AssignmentType.ACTIVATED:
        key += " activated"
    if row.member_type is MemberType.GROUP:
        key += " inherited"
    return key


def take(rows: Iterable[LiveSchedule], policies: Iterable[GroupPolicy] = (),
         names: Mapping[str, str] | None = None) -> Fingerprint:
    """The snapshot of `rows` and the managed fields of every rule of `policies`, as a
    `Fingerprint`. `names` (id -> display name) names groups and principals in messages."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}

    def group(gid: str) -> dict[str, dict[str, Any]]:
        return groups.setdefault(gid, {"schedules": {}, "policies": {}})

    for row in sorted(rows, key=lambda r: (r.group_id, _row_key(r), r.id)):
        schedules = group(row.group_id)["schedules"]
        key, n = _row_key(row), 1
        while key in schedules:  # the same principal inherited twice, say
            n += 1
            key = f"{_row_key(row)} #{n}"
        schedules[key] = {"id": row.id, "start": _when(row.start), "end": _when(row.end),
                          "status": row.status}
    for pol in policies:
        group(pol.group_id)["policies"][str(pol.access)] = {
            rule: {name: field_to_json(value) for name, value in sorted(fields.items())}
            for rule, fields in sorted(pol.settings.items())
        }
    snapshot = {"groups": groups, "names": dict(sorted((names or {}).items()))}
    return Fingerprint(digest(groups), snapshot)


def consistent(fingerprint: str, snapshot: Any) -> bool:
    """Whether `snapshot` (from a plan file) is what `fingerprint` digests."""
    return (isinstance(snapshot, dict) and isinstance(snapshot.get("groups"), dict)
            and isinstance(snapshot.get("names", {}), dict)
            and digest(snapshot["groups"]) == fingerprint)


def moved(saved: Snapshot, fresh: Snapshot, *, limit: int = 8) -> list[str]:
    """One line per thing that moved from `saved` to `fresh`, grouped by group: an
    assignment added, removed or changed live, a policy rule changed. At most `limit` lines,
    then a count of the rest."""
    from deepdiff import DeepDiff

    before, after = saved.get("groups") or {}, fresh.get("groups") or {}
    names = {**(saved.get("names") or {}), **(fresh.get("names") or {})}
    # threshold_to_diff_deeper=0: always diff key by key; by default DeepDiff (>= 8) reports
    # a whole mapping changed when under a third of its keys are shared (a shard's snapshot
    # against a whole plan's), and the line would name no group, row or rule
    diff = DeepDiff(before, after, view="tree", ignore_order=True, threshold_to_diff_deeper=0)
    touched: dict[tuple[str, ...], None] = {}
    for levels in diff.values():
        for level in levels:
            path = [str(p) for p in level.path(output_format="list")]
            touched[tuple(path[:3] if len(path) > 1 and path[1] == "schedules"
                          else path[:4])] = None
    lines = [_line(where, before, after, names) for where in sorted(touched)]
    if len(lines) > limit:
        lines = [*lines[:limit], f"and {len(lines) - limit} more"]
    return lines


def _name(names: Mapping[str, str], ident: str) -> str:
    return names.get(ident) or ident


def _get(tree: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _line(where: tuple[str, ...], before: Mapping[str, Any], after: Mapping[str, Any],
          names: Mapping[str, str]) -> str:
    group = _name(names, where[0])
    old, new = _get(before, where), _get(after, where)
    if len(where) == 1:
        return f"{group}: {'no longer read' if new is None else 'read for the first time'}"
    if where[1] == "schedules" and len(where) == 3:
        access, kind, principal, *rest = where[2].split(" ")
        what = " ".join([access, kind, _name(names, principal), *rest])
        if old is None:
            return f"{group}: {what} added live ({_life(new)})"
        if new is None:
            return f"{group}: {what} removed live (was {_life(old)})"
        fields = [f"{k} {_text(old.get(k), k, names)} -> {_text(new.get(k), k, names)}"
                  for k in ("start", "end", "status", "id") if old.get(k) != new.get(k)]
        return f"{group}: {what} changed live: {', '.join(fields)}"
    if len(where) == 2:  # not made by `take` (both keys are always there)
        return f"{group}: {where[1]} changed"
    access = where[2]
    if len(where) == 3:
        return f"{group}: {access} policy {'no longer read' if new is None else 'read now'}"
    rule = where[3]
    if old is None or new is None:
        return f"{group}: {access} policy rule {rule} {'read now' if old is None else 'gone'}"
    fields = [f"{k} {_text(old.get(k), k, names)} -> {_text(new.get(k), k, names)}"
              for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return f"{group}: {access} policy rule {rule} changed: {', '.join(fields)}"


def _life(row: Mapping[str, Any]) -> str:
    return f"until {row['end']}" if row.get("end") else "permanent"


def _text(value: Any, field: str, names: Mapping[str, str]) -> str:
    if value is None:
        return "permanent" if field == "end" else "none"
    if isinstance(value, list):
        items = [_name(names, str(v["id"])) if isinstance(v, dict) and "id" in v else str(v)
                 for v in value]
        return "[" + ", ".join(items) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
