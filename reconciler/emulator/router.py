"""Request dispatch: one Graph call (method, path below `/v1.0`, query, body) -> `Answer`.

Transport-free, so the ASGI app and `$batch` share it. Applies injected faults and
permission checks, then the endpoint. Choices where the reference is silent (section 9):
a schedule/instance list without an `eq` filter on groupId or principalId, an unknown
filter property, or a malformed query answer 400 `BadRequest`; a request list with no filter
answers 200 with an empty `value` (app-only behaviour, reference 1.2); cancelling a request
that is not pending answers 400 `InvalidRoleAssignmentRequest`; a missing PIM item answers
404 `ResourceNotFound`, a missing directory object 404 `Request_ResourceNotFound`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.emulator import ids, odata, permissions
from reconciler.emulator.errors import GraphError, bad_request, envelope, invalid_request, not_found
from reconciler.emulator.policy import assignment_json, policy_json
from reconciler.emulator.resources import (
    COLLECTIONS,
    ODATA_TYPES,
    directory_object_json,
    group_json,
    instance_json,
    request_json,
    schedule_json,
    service_principal_json,
    user_json,
)
from reconciler.emulator.rules import process_request
from reconciler.emulator.state import Schedule
from reconciler.emulator.tenant import LogEntry

if TYPE_CHECKING:
    from reconciler.emulator.tenant import Tenant

MAX_BATCH = 20
"""JSON batching limit (reference 1.5)."""

PAG = "/identityGovernance/privilegedAccess/group"
CANCELLABLE = {
    "Granted",
    "PendingApproval",
    "PendingAdminDecision",
    "PendingProvisioning",
    "PendingScheduleCreation",
    "ScheduleCreated",
}
_SCHEDULE_FIELDS = {
    "id",
    "accessId",
    "groupId",
    "principalId",
    "memberType",
    "status",
    "createdUsing",
    "assignmentType",
}
_INSTANCE_FIELDS = {
    "id",
    "accessId",
    "groupId",
    "principalId",
    "memberType",
    "assignmentType",
    "eligibilityScheduleId",
    "assignmentScheduleId",
}
_REQUEST_FIELDS = {
    "id",
    "status",
    "createdBy",
    "principalId",
    "targetScheduleId",
    "groupId",
    "accessId",
    "action",
}
_DIRECTORY_FIELDS = {
    "users": {"id", "displayName", "userPrincipalName", "mail"},
    "groups": {"id", "displayName", "mail", "mailNickname", "securityEnabled"},
    "servicePrincipals": {"id", "displayName", "appId"},
}


@dataclass
class Answer:
    """An HTTP answer: status, JSON body (None = empty), headers, and log details."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    request_status: str | None = None
    extra_latency_ms: int = 0


@dataclass
class Call:
    """One incoming call. `path` is below `/v1.0` (starts with `/`); `base_url` is the
    scheme://host[:port] the caller used (for absolute `@odata.nextLink`)."""

    method: str
    path: str
    query: str
    body: Any
    headers: dict[str, str]
    base_url: str
    batch_item: bool = False

    @functools.cached_property
    def params(self) -> dict[str, str]:
        """The parsed query (parsed once per call; treat as read-only)."""
        return odata.query_params(self.query)


def dispatch(tenant: Tenant, call: Call) -> Answer:
    """Answer one call: faults, then permissions and the endpoint. Never raises GraphError."""
    request_id = ids.new_guid()
    client_request_id = call.headers.get("client-request-id") or request_id
    extra = sum(f.latency_ms for f in tenant.take_faults(call.method, call.path, ["latency"]))
    try:
        fired = tenant.take_faults(call.method, call.path, ["error"])
        if fired:
            fault = fired[0]
            headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            raise GraphError(
                fault.status or 500,
                fault.error_code,
                fault.message or f"Injected fault ({fault.error_code}).",
                headers,
            )
        answer = _route(tenant, call)
    except GraphError as exc:
        answer = Answer(
            exc.status,
            envelope(exc.code, exc.message, tenant.now(), request_id, client_request_id),
            dict(exc.headers),
        )
        if call.method == "POST" and _is_request_collection(call.path):
            answer.action = _body_action(call.body)
    answer.extra_latency_ms = extra
    answer.headers.setdefault("request-id", request_id)
    answer.headers.setdefault("client-request-id", client_request_id)
    return answer


def _is_request_collection(path: str) -> bool:
    return bool(re.fullmatch(rf"{PAG}/\w+ScheduleRequests", path, flags=re.IGNORECASE))


def _body_action(body: Any) -> str | None:
    return str(body.get("action")) if isinstance(body, dict) and body.get("action") else None


_ROUTES: list[tuple[str, str, Callable[..., Answer]]] = []


def _route_for(
    method: str, pattern: str
) -> Callable[[Callable[..., Answer]], Callable[..., Answer]]:
    def register(fn: Callable[..., Answer]) -> Callable[..., Answer]:
        _ROUTES.append((method, pattern, fn))
        return fn

    return register


def _route(tenant: Tenant, call: Call) -> Answer:
    path = call.path.rstrip("/") or "/"
    known_path = False
    for method, pattern, fn in _ROUTES:
        m = re.fullmatch(pattern, path, flags=re.IGNORECASE)
        if m is None:
            continue
        known_path = True
        if method == call.method:
            with tenant.lock:
                return fn(tenant, call, *m.groups())
    if known_path:
        raise GraphError(
            405, "Request_BadRequest", f"The HTTP method '{call.method}' is not allowed."
        )
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path.strip('/')}'.")


def _context(call: Call, what: str, selected: list[str] | None = None) -> str:
    suffix = f"({','.join(selected)})" if selected else ""
    return f"{call.base_url}/v1.0/$metadata#{what}{suffix}"


def _page(tenant: Tenant, call: Call, rows: list[dict[str, Any]], context: str) -> Answer:
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


def _filter(call: Call, allowed: set[str]) -> odata.Filter | None:
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


def _expand(tenant: Tenant, call: Call, row: dict[str, Any]) -> dict[str, Any]:
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


def _eq_strings(tree: odata.Filter | None) -> dict[str, str]:
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
    return {**_eq_strings(tree.left), **_eq_strings(tree.right)}


def _candidates(tenant: Tenant, tree: odata.Filter | None) -> list[Schedule] | None:
    """Schedules that can match `tree`, from the groupId / principalId index; None when the
    filter names neither (then every schedule is a candidate)."""
    wanted = _eq_strings(tree)
    table = tenant.schedules
    if not hasattr(table, "with_value"):  # pragma: no cover - a plain dict put in by hand
        return None
    for field_name, attr in (("groupId", "group_id"), ("principalId", "principal_id")):
        if field_name in wanted:
            return table.with_value(attr, wanted[field_name])
    return None


def _visible(tenant: Tenant, kind: str, pool: list[Schedule] | None = None) -> list[Schedule]:
    now = tenant.now()
    return sorted(
        (
            s
            for s in (tenant.schedules.values() if pool is None else pool)
            if s.kind == kind
            and (s.visible_from is None or s.visible_from <= now)
            and (s.end is None or s.end > now)
        ),
        key=lambda s: s.id,
    )


def _in_force(tenant: Tenant, s: Schedule) -> bool:
    return s.start is None or s.start <= tenant.now()


# -- PIM collections -------------------------------------------------------------------------

_COLL = "(" + "|".join(COLLECTIONS) + ")"


@_route_for("GET", rf"{PAG}/{_COLL}")
def _list_pim(tenant: Tenant, call: Call, collection: str) -> Answer:
    collection = _canonical_collection(collection)
    kind, what = COLLECTIONS[collection]
    selected = odata.split_list(call.params.get("select"))
    if what == "request":
        permissions.require(tenant.granted_permissions, permissions.pim_requests_read(kind))
        tree = _filter(call, _REQUEST_FIELDS)
        if tree is None:
            return Answer(
                200,
                {
                    "@odata.context": _context(
                        call, f"identityGovernance/privilegedAccess/group/{collection}"
                    ),
                    "value": [],
                },
            )
        rows = [request_json(r) for r in tenant.requests.values() if r.kind == kind]
        orderby = call.params.get("orderby", "")
        if "createddatetime" in orderby.lower():
            rows.sort(key=lambda r: r["createdDateTime"], reverse="desc" in orderby.lower())
    else:
        permissions.require(tenant.granted_permissions, permissions.pim_read(kind))
        allowed = set(_SCHEDULE_FIELDS if what == "schedule" else _INSTANCE_FIELDS)
        if kind == "eligible":
            allowed -= {"assignmentType", "assignmentScheduleId"}
        else:
            allowed -= {"eligibilityScheduleId"}
        tree = _filter(call, allowed)
        if tree is None or not ({"groupId", "principalId"} & odata.required_eq(tree)):
            raise bad_request(
                "The $filter query parameter must include an 'eq' condition on groupId or "
                "principalId for this collection."
            )
        schedules = _visible(tenant, kind, _candidates(tenant, tree))
        if what == "schedule":
            rows = [schedule_json(s) for s in schedules]
        else:
            rows = [instance_json(s) for s in schedules if _in_force(tenant, s)]
    rows = [r for r in rows if tree is None or odata.matches(tree, r)]
    rows = [odata.select(_expand(tenant, call, r), selected) for r in rows]
    return _page(
        tenant,
        call,
        rows,
        _context(call, f"identityGovernance/privilegedAccess/group/{collection}", selected),
    )


def _canonical_collection(name: str) -> str:
    for known in COLLECTIONS:
        if known.lower() == name.lower():
            return known
    raise bad_request(f"Unknown collection '{name}'.")


@_route_for("GET", rf"{PAG}/{_COLL}/([^/]+)")
def _get_pim(tenant: Tenant, call: Call, collection: str, item_id: str) -> Answer:
    collection = _canonical_collection(collection)
    kind, what = COLLECTIONS[collection]
    if what == "request":
        permissions.require(tenant.granted_permissions, permissions.pim_requests_read(kind))
        request = tenant.requests.get(item_id)
        if request is None or request.kind != kind:
            raise GraphError(404, "ResourceNotFound", f"The resource '{item_id}' was not found.")
        row = request_json(request)
    else:
        permissions.require(tenant.granted_permissions, permissions.pim_read(kind))
        visible = _visible(tenant, kind)
        if what == "schedule":
            found = [s for s in visible if s.id == item_id]
            row = schedule_json(found[0]) if found else None
        else:
            found = [
                s for s in visible if ids.instance_id(s.id) == item_id and _in_force(tenant, s)
            ]
            row = instance_json(found[0]) if found else None
        if row is None:
            raise GraphError(404, "ResourceNotFound", f"The resource '{item_id}' was not found.")
    row = odata.select(_expand(tenant, call, row), odata.split_list(call.params.get("select")))
    row = {
        "@odata.context": _context(
            call, f"identityGovernance/privilegedAccess/group/{collection}/$entity"
        ),
        **row,
    }
    return Answer(200, row)


@_route_for("POST", rf"{PAG}/(eligibilityScheduleRequests|assignmentScheduleRequests)")
def _create_request(tenant: Tenant, call: Call, collection: str) -> Answer:
    collection = _canonical_collection(collection)
    kind, _ = COLLECTIONS[collection]
    action = _body_action(call.body)
    permissions.require(tenant.granted_permissions, permissions.pim_write(kind, action))
    committed = tenant.take_faults(call.method, call.path, ["committed"])
    failed = tenant.take_faults(call.method, call.path, ["failed"])
    lag = tenant.take_faults(call.method, call.path, ["lag"])
    request = process_request(
        tenant,
        kind,
        call.body,
        lag_seconds=max((f.seconds for f in lag), default=0.0),
        force_failed=bool(failed),
    )
    if request.status != "Failed":
        tenant.record_accepted()
    if committed:
        fault = committed[0]
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        raise GraphError(
            fault.status or 503,
            fault.error_code,
            fault.message or "The service is temporarily unavailable.",
            headers,
        )
    body = {
        "@odata.context": _context(
            call, f"identityGovernance/privilegedAccess/group/{collection}/$entity"
        ),
        "@odata.type": f"#microsoft.graph.{ODATA_TYPES[(kind, 'request')]}",
        **request_json(request),
    }
    return Answer(201, body, action=request.action, request_status=request.status)


@_route_for(
    "POST", rf"{PAG}/(eligibilityScheduleRequests|assignmentScheduleRequests)/([^/]+)/cancel"
)
def _cancel_request(tenant: Tenant, call: Call, collection: str, item_id: str) -> Answer:
    kind, _ = COLLECTIONS[_canonical_collection(collection)]
    permissions.require(tenant.granted_permissions, permissions.pim_write(kind, None))
    request = tenant.requests.get(item_id)
    if request is None or request.kind != kind:
        raise GraphError(404, "ResourceNotFound", f"The resource '{item_id}' was not found.")
    if request.status not in CANCELLABLE:
        raise invalid_request(
            f"The role assignment request is invalid: a request in status '{request.status}' "
            "cannot be canceled."
        )
    request.status = "Canceled"
    target = tenant.schedules.get(request.target_schedule_id or "")
    if (
        target is not None
        and request.action == "adminAssign"
        and target.start
        and target.start > tenant.now()
    ):
        del tenant.schedules[target.id]
    return Answer(204, None)


# -- policies --------------------------------------------------------------------------------


def _policies_for_scope(tenant: Tenant, tree: odata.Filter) -> list[tuple[str, str]]:
    """(group id, access) of every policy that can match `tree`: all groups, or only the group
    a `scopeId eq` names (the caller still applies the full filter)."""
    scope = _eq_strings(tree).get("scopeId")
    table = tenant.groups
    if scope is None:
        gids = sorted(table)
    elif getattr(table, "indexes", lambda _: False)("id"):
        gids = sorted(g.id for g in table.with_value("id", scope))  # type: ignore[attr-defined]
    else:
        gids = sorted(gid for gid in table if gid.lower() == scope.lower())
    keys = []
    for gid in gids:
        for access in ("member", "owner"):
            keys.append((gid, access))
    return keys


def _scope_filter(call: Call, allowed: set[str]) -> odata.Filter:
    tree = _filter(call, allowed)
    if tree is None or not {"scopeId", "scopeType"} <= odata.required_eq(tree):
        raise bad_request("The $filter must contain 'scopeId eq' and 'scopeType eq' conditions.")
    return tree


def _policy_expand(call: Call) -> tuple[bool, bool]:
    """(expand policy, with rules) from `$expand`."""
    items = odata.split_list(call.params.get("expand"))
    expand_policy = any(i.split("(")[0].strip() in ("policy", "*") for i in items)
    with_rules = any("rules" in i or "*" in i for i in items)
    return expand_policy, with_rules


@_route_for("GET", r"/policies/roleManagementPolicyAssignments")
def _list_policy_assignments(tenant: Tenant, call: Call) -> Answer:
    permissions.require(tenant.granted_permissions, permissions.POLICIES)
    tree = _scope_filter(call, {"id", "policyId", "scopeId", "scopeType", "roleDefinitionId"})
    expand_policy, with_rules = _policy_expand(call)
    rows = []
    for gid, access in _policies_for_scope(tenant, tree):
        policy = tenant.policy_for(gid, access)
        row = assignment_json(policy, expand_policy, with_rules)
        if odata.matches(tree, row):
            rows.append(row)
    return _page(tenant, call, rows, _context(call, "policies/roleManagementPolicyAssignments"))


@_route_for("GET", r"/policies/roleManagementPolicyAssignments/([^/]+)")
def _get_policy_assignment(tenant: Tenant, call: Call, item_id: str) -> Answer:
    permissions.require(tenant.granted_permissions, permissions.POLICIES)
    expand_policy, with_rules = _policy_expand(call)
    for gid in tenant.groups:
        for access in ("member", "owner"):
            policy = tenant.policy_for(gid, access)
            if policy.assignment_id == item_id:
                return Answer(200, assignment_json(policy, expand_policy, with_rules))
    raise GraphError(404, "ResourceNotFound", f"The resource '{item_id}' was not found.")


@_route_for("GET", r"/policies/roleManagementPolicies")
def _list_policies(tenant: Tenant, call: Call) -> Answer:
    permissions.require(tenant.granted_permissions, permissions.POLICIES)
    tree = _scope_filter(call, {"id", "scopeId", "scopeType"})
    with_rules = "rules" in call.params.get("expand", "") or "*" in call.params.get("expand", "")
    rows = []
    for gid, access in _policies_for_scope(tenant, tree):
        row = policy_json(tenant.policy_for(gid, access), with_rules)
        if odata.matches(tree, row):
            rows.append(row)
    return _page(tenant, call, rows, _context(call, "policies/roleManagementPolicies"))


@_route_for("GET", r"/policies/roleManagementPolicies/([^/]+)")
def _get_policy(tenant: Tenant, call: Call, item_id: str) -> Answer:
    permissions.require(tenant.granted_permissions, permissions.POLICIES)
    with_rules = "rules" in call.params.get("expand", "") or "*" in call.params.get("expand", "")
    for gid in tenant.groups:
        for access in ("member", "owner"):
            policy = tenant.policy_for(gid, access)
            if policy.policy_id == item_id:
                return Answer(200, policy_json(policy, with_rules))
    raise GraphError(404, "ResourceNotFound", f"The resource '{item_id}' was not found.")


# -- directory -------------------------------------------------------------------------------

_DIRECTORY_SCOPES = {
    "users": permissions.USERS,
    "groups": permissions.GROUPS,
    "servicePrincipals": permissions.SERVICE_PRINCIPALS,
}


_DIRECTORY_ATTRS = {
    "users": {
        "id": "id",
        "displayName": "display_name",
        "userPrincipalName": "user_principal_name",
    },
    "groups": {"id": "id", "displayName": "display_name"},
    "servicePrincipals": {"id": "id", "displayName": "display_name", "appId": "app_id"},
}
"""JSON field -> record attribute, where the JSON value is the attribute unchanged."""


def _directory_rows(
    tenant: Tenant, kind: str, tree: odata.Filter | None = None
) -> list[dict[str, Any]]:
    """JSON rows of `kind`, sorted by id. With `tree`, objects that cannot match its string
    `eq` conditions are skipped before their JSON is built (the caller still filters)."""
    if kind == "users":
        objects: list[Any] = list(tenant.users.values())
        to_json: Callable[[Any], dict[str, Any]] = user_json
    elif kind == "groups":
        objects, to_json = list(tenant.groups.values()), group_json
    else:
        objects, to_json = list(tenant.service_principals.values()), service_principal_json
    table = {"users": tenant.users, "groups": tenant.groups}.get(kind, tenant.service_principals)
    for field_name, value in _eq_strings(tree).items():
        attr = _DIRECTORY_ATTRS[kind].get(field_name)
        if attr is None:
            continue
        low = value.lower()
        if len(objects) == len(table) and getattr(table, "indexes", lambda _: False)(attr):
            objects = list(table.with_value(attr, value))  # type: ignore[attr-defined]
        else:
            objects = [o for o in objects if str(getattr(o, attr)).lower() == low]
    return [to_json(o) for o in sorted(objects, key=lambda o: o.id)]


def _kind_name(kind: str) -> str:
    return {"users": "users", "groups": "groups", "serviceprincipals": "servicePrincipals"}[
        kind.lower()
    ]


@_route_for("GET", r"/(users|groups|servicePrincipals)")
def _list_directory(tenant: Tenant, call: Call, kind: str) -> Answer:
    kind = _kind_name(kind)
    permissions.require(tenant.granted_permissions, _DIRECTORY_SCOPES[kind], directory=True)
    tree = _filter(call, _DIRECTORY_FIELDS[kind])
    selected = odata.split_list(call.params.get("select"))
    rows = [
        odata.select(r, selected)
        for r in _directory_rows(tenant, kind, tree)
        if tree is None or odata.matches(tree, r)
    ]
    return _page(tenant, call, rows, _context(call, kind, selected))


@_route_for("GET", r"/(users|groups|servicePrincipals)/([^/()]+)")
def _get_directory(tenant: Tenant, call: Call, kind: str, key: str) -> Answer:
    kind = _kind_name(kind)
    permissions.require(tenant.granted_permissions, _DIRECTORY_SCOPES[kind], directory=True)
    low = key.lower()
    for row in _directory_rows(tenant, kind):
        if low == str(row["id"]).lower() or low == str(row.get("userPrincipalName", "")).lower():
            selected = odata.split_list(call.params.get("select"))
            return Answer(
                200,
                {
                    "@odata.context": _context(call, f"{kind}/$entity"),
                    **odata.select(row, selected),
                },
            )
    raise not_found(key)


@_route_for("GET", r"/servicePrincipals\(appId='([^']*)'\)")
def _get_sp_by_app_id(tenant: Tenant, call: Call, app_id: str) -> Answer:
    permissions.require(tenant.granted_permissions, permissions.SERVICE_PRINCIPALS, directory=True)
    for sp in tenant.service_principals.values():
        if sp.app_id.lower() == app_id.lower():
            selected = odata.split_list(call.params.get("select"))
            return Answer(200, odata.select(service_principal_json(sp), selected))
    raise not_found(app_id)


@_route_for("POST", r"/directoryObjects/getByIds")
def _get_by_ids(tenant: Tenant, call: Call) -> Answer:
    permissions.require(tenant.granted_permissions, permissions.DIRECTORY_OBJECTS, directory=True)
    body = call.body if isinstance(call.body, dict) else {}
    wanted = body.get("ids")
    if not isinstance(wanted, list) or len(wanted) > 1000:
        raise bad_request("'ids' must be a list of at most 1000 ids.")
    types = {str(t).lower() for t in body.get("types") or []}
    rows = []
    for object_id in wanted:
        obj = tenant.directory_object(str(object_id))
        if obj is None:
            continue
        row = directory_object_json(obj)
        if types and str(row["@odata.type"]).rsplit(".", 1)[1].lower() not in types:
            continue
        rows.append(row)
    return Answer(200, {"@odata.context": _context(call, "directoryObjects"), "value": rows})


# -- $batch ----------------------------------------------------------------------------------


@_route_for("POST", r"/\$batch")
def _batch(tenant: Tenant, call: Call) -> Answer:
    if call.batch_item:
        raise bad_request("A batch request cannot contain another batch request.")
    items = call.body.get("requests") if isinstance(call.body, dict) else None
    if not isinstance(items, list):
        raise bad_request("The batch body must have a 'requests' array.")
    if len(items) > MAX_BATCH:
        raise bad_request(f"The number of batch requests exceeds the maximum of {MAX_BATCH}.")
    responses = []
    for item in items:
        responses.append(_batch_item(tenant, call, item))
    return Answer(200, {"responses": responses})


def _batch_item(tenant: Tenant, call: Call, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or "id" not in item or "method" not in item or "url" not in item:
        err = envelope(
            "BadRequest",
            "Each batch request needs id, method and url.",
            tenant.now(),
            ids.new_guid(),
            ids.new_guid(),
        )
        return {
            "id": str(item.get("id") if isinstance(item, dict) else ""),
            "status": 400,
            "body": err,
        }
    url = str(item["url"])
    url = re.sub(r"^(https?://[^/]+)?(/v1\.0)?", "", url)
    if not url.startswith("/"):
        url = "/" + url
    path, _, query = url.partition("?")
    body = item.get("body")
    if isinstance(body, str):
        with contextlib.suppress(ValueError):
            body = json.loads(body)
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    sub = Call(
        str(item["method"]).upper(), path, query, body, headers, call.base_url, batch_item=True
    )
    answer = dispatch(tenant, sub)
    tenant.log(
        LogEntry(
            sub.method,
            url,
            answer.status,
            0.0,
            answer.action,
            answer.request_status,
            batch_item=True,
        )
    )
    out: dict[str, Any] = {
        "id": str(item["id"]),
        "status": answer.status,
        "headers": {
            k: v for k, v in answer.headers.items() if k.lower() in ("retry-after", "location")
        },
    }
    if answer.body is not None:
        out["headers"]["Content-Type"] = "application/json"
        out["body"] = answer.body
    return out
