"""OData query handling shared by the routes: `$filter` checks, `eq` narrowing, paging, `$expand`.

`$select` itself is `odata.select`; this module holds the parts that need a `Call` or a tenant.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator import odata
from reconciler.emulator.calls import Answer, Call
from reconciler.emulator.errors import bad_request
from reconciler.emulator.resources import directory_object_json, group_json, schedule_json
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
            size = max(1, min(size, int(params["top"])))
        except ValueError as exc:
            raise bad_request(f"Invalid $top value '{params['top']}'.") from exc
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


def filter_of(call: Call, allowed: set[str]) -> odata.Filter | None:
    """The call's `$filter` with field names in their canonical case, or None; 400 for a
    field outside `allowed`."""
    text = call.params.get("filter")
    if not text:
        return None
    tree = odata.parse_filter(text)
    lowered = {a.lower(): a for a in allowed}
    for name in odata.fields_of(tree):
        if name.lower() not in lowered:
            raise bad_request(f"Invalid filter clause: property '{name}' is not filterable here.")
    return _normalise(tree, lowered)


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
        elif name not in ("activatedUsing", "*"):
            raise bad_request(f"Could not find a property named '{name}' to expand.")
    return row


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
