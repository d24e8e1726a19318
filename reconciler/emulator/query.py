"""OData query handling shared by the routes: `$filter` checks, `eq` narrowing, paging, `$expand`.

`$select` itself is `odata.select`; this module holds the parts that need a `Call` or a tenant.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator import odata
from reconciler.emulator.calls import Answer, Call
from reconciler.emulator.errors import bad_request
from reconciler.emulator.resources import (
    directory_object_json,
    group_json,
    instance_json,
    schedule_json,
)
from reconciler.emulator.tenant import Tenant


def context_url(call: Call, what: str, selected: list[str] | None = None) -> str:
    """The `@odata.context` URL of `what` (with the `$select`ed fields, as Graph writes it)."""
    suffix = f"({','.join(selected)})" if selected else ""
    return f"{call.base_url}/v1.0/$metadata#{what}{suffix}"


def page(tenant: Tenant, call: Call, rows: list[dict[str, Any]], context: str) -> Answer:
    """One page of `rows` (`$top`, `$skiptoken`, the tenant's page size) with its nextLink."""
    params = call.params
    size = tenant.page_size
    if params.get("top"):
        try:
            top = int(params["top"])
        except ValueError as exc:
            raise bad_request(f"Invalid $top value '{params['top']}'.") from exc
        if top < 0:
            raise bad_request(f"Invalid $top value '{params['top']}'.")
        if top == 0:  # no rows and no nextLink
            return Answer(200, {"@odata.context": context, "value": []})
        size = min(size, top)
    offset = odata.decode_skiptoken(params["skiptoken"]) if params.get("skiptoken") else 0
    body: dict[str, Any] = {"@odata.context": context, "value": rows[offset : offset + size]}
    if offset + size < len(rows):
        kept = [
            p
            for p in call.query.split("&")
            if p and odata.query_params(p).keys().isdisjoint({"skiptoken"})
        ]
        kept.append("$skiptoken=" + odata.encode_skiptoken(offset + size))
        body["@odata.nextLink"] = f"{call.base_url}/v1.0{call.path}?{'&'.join(kept)}"
    return Answer(200, body)


def filter_of(
    call: Call,
    allowed: set[str],
    ne_fields: frozenset[str] = frozenset(),
    in_fields: frozenset[str] = frozenset(),
) -> odata.Filter | None:
    """The call's `$filter` with field names in their canonical case, or None; 400 for a
    field outside `allowed`, for `ne` on a field outside `ne_fields` (the resource pages
    list `ne` for a few properties only, reference 1.3; Graph's directory objects take `ne`
    only as an advanced query, which the emulator does not serve: the stricter answer) and
    for `in` on a field outside `in_fields` (reference 1.7 names the directory properties)."""
    text = call.params.get("filter")
    if not text:
        return None
    tree = odata.parse_filter(text)
    lowered = {a.lower(): a for a in allowed}
    for name in odata.fields_of(tree):
        if name.lower() not in lowered:
            raise bad_request(f"Invalid filter clause: property '{name}' is not filterable here.")
    permitted = {"ne": {f.lower() for f in ne_fields}, "in": {f.lower() for f in in_fields}}
    for field, op in _comparisons(tree):
        if op in permitted and field.lower() not in permitted[op]:
            raise bad_request(
                f"Invalid filter clause: the '{op}' operator is not supported on '{field}' here."
            )
    return _normalise(tree, lowered)


def _comparisons(tree: odata.Filter) -> list[tuple[str, str]]:
    if isinstance(tree, odata.Compare):
        return [(tree.field, tree.op)]
    return _comparisons(tree.left) + _comparisons(tree.right)


def selected(call: Call, known: set[str], type_name: str) -> list[str]:
    """The `$select`ed property names; 400 `BadRequest` for one the resource does not have
    (as Graph answers: "Could not find a property named ... on type ...")."""
    names = odata.split_list(call.params.get("select"))
    lowered = {k.lower() for k in known}
    for name in names:
        if name.lower() not in lowered:
            raise bad_request(
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            )
    return names


def ordered(
    call: Call, rows: list[dict[str, Any]], known: set[str], type_name: str
) -> list[dict[str, Any]]:
    """`rows` sorted by `$orderby` (`field [asc|desc]`, comma-separated; reference 1.3 saw
    `createdDateTime desc` on requests); 400 `BadRequest` for a property the type does not
    have or a direction other than asc / desc. Stable; missing values sort first."""
    keys: list[tuple[str, bool]] = []
    lowered = {k.lower(): k for k in known}
    for part in odata.split_list(call.params.get("orderby")):
        name, _, direction = part.strip().partition(" ")
        direction = direction.strip().lower() or "asc"
        if name.lower() not in lowered:
            raise bad_request(
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            )
        if direction not in ("asc", "desc"):
            raise bad_request(f"Invalid $orderby direction '{direction}'.")
        keys.append((lowered[name.lower()], direction == "desc"))
    out = list(rows)
    for field, descending in reversed(keys):
        out.sort(
            key=lambda r, f=field: (r.get(f) is not None, str(r.get(f) or "")), reverse=descending
        )
    return out


def _normalise(tree: odata.Filter, names: dict[str, str]) -> odata.Filter:
    if isinstance(tree, odata.Compare):
        return odata.Compare(names[tree.field.lower()], tree.op, tree.value)
    return odata.Logical(tree.op, _normalise(tree.left, names), _normalise(tree.right, names))


def expand(tenant: Tenant, call: Call, row: dict[str, Any]) -> dict[str, Any]:
    """Add the `$expand`ed navigation properties (principal, group, targetSchedule) to `row`."""
    for item in odata.split_list(call.params.get("expand")):
        name = item.split("(", 1)[0].strip()
        if name == "principal":
            obj = tenant.directory_object(row["principalId"])
            row["principal"] = directory_object_json(obj) if obj else None
        elif name == "group":
            group = tenant.groups.get(row["groupId"])
            row["group"] = group_json(group) if group else None
        elif name == "targetSchedule" and "targetScheduleId" in row:
            target = tenant.schedules.get(row.get("targetScheduleId") or "")
            row["targetSchedule"] = schedule_json(target) if target else None
        elif name == "activatedUsing" and ("assignmentType" in row or "action" in row):
            # on assignment schedules and instances (and requests: null for admin actions)
            row["activatedUsing"] = _activated_using(tenant, row)
        elif name != "*":
            raise bad_request(f"Could not find a property named '{name}' to expand.")
    return row


def _activated_using(tenant: Tenant, row: dict[str, Any]) -> dict[str, Any] | None:
    """The eligibility an activation came from (reference 1.3: null unless the row is an
    activation): the direct eligibility schedule of the same group, access and principal
    (the emulator does not store the link; an activation needs one), as a schedule, or as an
    instance when `row` is one."""
    if str(row.get("assignmentType", "")).lower() != "activated":
        return None
    for schedule in tenant.schedules.values():
        if (
            schedule.kind == "eligible"
            and schedule.group_id == row.get("groupId")
            and schedule.access == str(row.get("accessId", "")).lower()
            and schedule.principal_id == row.get("principalId")
            and schedule.member_type == "direct"
        ):
            return (
                instance_json(schedule)
                if "assignmentScheduleId" in row
                else schedule_json(schedule)
            )
    return None


def string_sets(tree: odata.Filter | None) -> dict[str, tuple[str, ...]]:
    """Like `eq_strings`, with `in` lists too: {field: the values a matching row has one of}."""
    if tree is None:
        return {}
    if isinstance(tree, odata.Compare):
        if tree.op == "eq" and isinstance(tree.value, str):
            return {tree.field: (tree.value,)}
        values = tree.value if isinstance(tree.value, tuple) else ()
        if tree.op == "in" and values and all(isinstance(v, str) for v in values):
            return {tree.field: tuple(str(v) for v in values)}
        return {}
    if tree.op != "and":
        return {}
    return {**string_sets(tree.left), **string_sets(tree.right)}


def eq_strings(tree: odata.Filter | None) -> dict[str, str]:
    """String `eq` comparisons every matching row must satisfy (reachable through `and`
    only): {field: value}. Used to narrow candidates before the full filter runs, never
    instead of it."""
    if tree is None:
        return {}
    if isinstance(tree, odata.Compare):
        ok = tree.op == "eq" and isinstance(tree.value, str)
        return {tree.field: str(tree.value)} if ok else {}
    if tree.op != "and":
        return {}
    return {**eq_strings(tree.left), **eq_strings(tree.right)}
