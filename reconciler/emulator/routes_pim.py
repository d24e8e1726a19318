"""PIM for Groups routes: schedules, instances and schedule requests (list, get, create, cancel).

Choices where the reference is silent (section 9): a schedule/instance list without an `eq`
filter on groupId or principalId, or with an unknown filter property, answers 400
`BadRequest`; a request list with no filter answers 200 with an empty `value` (app-only
behaviour, reference 1.2); cancelling a request that is not pending answers 400
`InvalidRoleAssignmentRequest`; a missing PIM item answers 404 `ResourceNotFound`.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.emulator import ids, odata, permissions
from reconciler.emulator.calls import Answer, Call
from reconciler.emulator.errors import GraphError, bad_request, invalid_request
from reconciler.emulator.query import context_url, eq_strings, expand, filter_of, ordered, page
from reconciler.emulator.query import selected as query_selected
from reconciler.emulator.resources import (
    COLLECTIONS,
    ODATA_TYPES,
    instance_json,
    pim_selectable,
    request_json,
    schedule_json,
)
from reconciler.emulator.rules import process_request
from reconciler.emulator.state import Schedule
from reconciler.emulator.tenant import Tenant

PAG = "/identityGovernance/privilegedAccess/group"
COLLECTION = "(" + "|".join(COLLECTIONS) + ")"
"""Path pattern group matching any PIM collection name."""
REQUEST_COLLECTION = "(eligibilityScheduleRequests|assignmentScheduleRequests)"

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
# `ne` as the resource pages list it (reference 1.3); elsewhere 400
_SCHEDULE_NE = frozenset({"id", "status", "createdUsing"})
_INSTANCE_NE = frozenset({"id", "eligibilityScheduleId", "assignmentScheduleId"})
_REQUEST_NE = frozenset({"id", "createdBy", "principalId", "targetScheduleId"})
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


def is_request_collection(path: str) -> bool:
    """True for the path of a schedule-request collection (where POST creates a request)."""
    return bool(re.fullmatch(rf"{PAG}/\w+ScheduleRequests", path, flags=re.IGNORECASE))


def body_action(body: Any) -> str | None:
    """The `action` of a schedule-request body, or None."""
    return str(body.get("action")) if isinstance(body, dict) and body.get("action") else None


def _candidates(tenant: Tenant, tree: odata.Filter | None) -> list[Schedule] | None:
    """Schedules that can match `tree`, from the groupId / principalId index; None when the
    filter names neither (then every schedule is a candidate)."""
    wanted = eq_strings(tree)
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


def _canonical_collection(name: str) -> str:
    for known in COLLECTIONS:
        if known.lower() == name.lower():
            return known
    raise bad_request(f"Unknown collection '{name}'.")


def list_pim(tenant: Tenant, call: Call, collection: str) -> Answer:
    """GET a PIM collection (schedules, instances or requests) with `$filter`/`$select`/…"""
    collection = _canonical_collection(collection)
    kind, what = COLLECTIONS[collection]
    selected = query_selected(call, *pim_selectable(kind, what))
    if what == "request":
        permissions.require(call.granted(tenant), permissions.pim_requests_read(kind))
        tree = filter_of(call, _REQUEST_FIELDS, _REQUEST_NE)
        if tree is None:
            return Answer(
                200,
                {
                    "@odata.context": context_url(
                        call, f"identityGovernance/privilegedAccess/group/{collection}"
                    ),
                    "value": [],
                },
            )
        rows = [request_json(r) for r in tenant.requests.values() if r.kind == kind]
    else:
        permissions.require(call.granted(tenant), permissions.pim_read(kind))
        allowed = set(_SCHEDULE_FIELDS if what == "schedule" else _INSTANCE_FIELDS)
        if kind == "eligible":
            allowed -= {"assignmentType", "assignmentScheduleId"}
        else:
            allowed -= {"eligibilityScheduleId"}
        tree = filter_of(call, allowed, _SCHEDULE_NE if what == "schedule" else _INSTANCE_NE)
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
    rows = ordered(call, rows, *pim_selectable(kind, what))
    rows = [odata.select(expand(tenant, call, r), selected) for r in rows]
    return page(
        tenant,
        call,
        rows,
        context_url(call, f"identityGovernance/privilegedAccess/group/{collection}", selected),
    )


def get_pim(tenant: Tenant, call: Call, collection: str, item_id: str) -> Answer:
    """GET one schedule, instance or request by id."""
    collection = _canonical_collection(collection)
    kind, what = COLLECTIONS[collection]
    if what == "request":
        permissions.require(call.granted(tenant), permissions.pim_requests_read(kind))
        request = tenant.requests.get(item_id)
        if request is None or request.kind != kind:
            raise GraphError(404, "ResourceNotFound", f"The resource '{item_id}' was not found.")
        row = request_json(request)
    else:
        permissions.require(call.granted(tenant), permissions.pim_read(kind))
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
    row = odata.select(expand(tenant, call, row), query_selected(call, *pim_selectable(kind, what)))
    row = {
        "@odata.context": context_url(
            call, f"identityGovernance/privilegedAccess/group/{collection}/$entity"
        ),
        **row,
    }
    return Answer(200, row)


def create_request(tenant: Tenant, call: Call, collection: str) -> Answer:
    """POST a schedule request: judged by `rules.process_request`, with write-side faults."""
    collection = _canonical_collection(collection)
    kind, _ = COLLECTIONS[collection]
    action = body_action(call.body)
    permissions.require(call.granted(tenant), permissions.pim_write(kind, action))
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
        "@odata.context": context_url(
            call, f"identityGovernance/privilegedAccess/group/{collection}/$entity"
        ),
        "@odata.type": f"#microsoft.graph.{ODATA_TYPES[(kind, 'request')]}",
        **request_json(request),
    }
    return Answer(201, body, action=request.action, request_status=request.status)


def cancel_request(tenant: Tenant, call: Call, collection: str, item_id: str) -> Answer:
    """POST …/{id}/cancel: a pending request becomes Canceled (a future adminAssign's
    schedule goes with it)."""
    kind, _ = COLLECTIONS[_canonical_collection(collection)]
    permissions.require(call.granted(tenant), permissions.pim_write(kind, None))
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
