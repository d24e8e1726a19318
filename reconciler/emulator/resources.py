"""JSON shapes of the emulated resources (graph-pim-reference.md 2.1-2.5, 2.8, 7).

Casing as Graph answers: `memberType` / `assignmentType` / `status` PascalCase, `accessId`,
`action` and `expiration.type` camelCase; times with seven fractional digits;
`modifiedDateTime` `0001-01-01T08:00:00Z` when never modified.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reconciler.emulator import ids
from reconciler.emulator.state import Group, Schedule, ScheduleRequest, ServicePrincipal, User
from reconciler.emulator.timefmt import NEVER_MODIFIED, format_time

COLLECTIONS = {
    "eligibilitySchedules": ("eligible", "schedule"),
    "eligibilityScheduleInstances": ("eligible", "instance"),
    "eligibilityScheduleRequests": ("eligible", "request"),
    "assignmentSchedules": ("active", "schedule"),
    "assignmentScheduleInstances": ("active", "instance"),
    "assignmentScheduleRequests": ("active", "request"),
}
"""PIM collection name -> (kind, what)."""

ODATA_TYPES = {
    ("eligible", "schedule"): "privilegedAccessGroupEligibilitySchedule",
    ("eligible", "instance"): "privilegedAccessGroupEligibilityScheduleInstance",
    ("eligible", "request"): "privilegedAccessGroupEligibilityScheduleRequest",
    ("active", "schedule"): "privilegedAccessGroupAssignmentSchedule",
    ("active", "instance"): "privilegedAccessGroupAssignmentScheduleInstance",
    ("active", "request"): "privilegedAccessGroupAssignmentScheduleRequest",
}


def pascal(value: str) -> str:
    """`direct` -> `Direct` (Graph's response casing for memberType / assignmentType)."""
    return value[:1].upper() + value[1:]


def _t(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def schedule_json(s: Schedule) -> dict[str, Any]:
    """An eligibilitySchedule / assignmentSchedule (reference 2.4)."""
    if s.end is None:
        expiration = {"type": "noExpiration", "endDateTime": None, "duration": None}
    else:
        expiration = {"type": "afterDateTime", "endDateTime": _t(s.end), "duration": None}
    out: dict[str, Any] = {
        "id": s.id,
        "createdDateTime": _t(s.created),
        "modifiedDateTime": _t(s.modified) if s.modified else NEVER_MODIFIED,
        "createdUsing": s.created_using,
        "status": s.status,
        "scheduleInfo": {
            "startDateTime": _t(s.start),
            "recurrence": None,
            "expiration": expiration,
        },
        "accessId": s.access,
        "principalId": s.principal_id,
        "groupId": s.group_id,
        "memberType": pascal(s.member_type),
    }
    if s.kind == "active":
        out["assignmentType"] = pascal(s.assignment_type)
    return out


def instance_json(s: Schedule) -> dict[str, Any]:
    """The instance derived from schedule `s` (reference 2.5): no scheduleInfo, no status."""
    out: dict[str, Any] = {
        "id": ids.instance_id(s.id),
        "startDateTime": _t(s.start),
        "endDateTime": _t(s.end),
        "accessId": s.access,
        "principalId": s.principal_id,
        "groupId": s.group_id,
        "memberType": pascal(s.member_type),
    }
    if s.kind == "active":
        out["assignmentType"] = pascal(s.assignment_type)
        out["assignmentScheduleId"] = s.id
    else:
        out["eligibilityScheduleId"] = s.id
    return out


def request_json(r: ScheduleRequest) -> dict[str, Any]:
    """An eligibilityScheduleRequest / assignmentScheduleRequest (reference 2.3, 2.7)."""
    ticket = r.ticket_info or {}
    return {
        "id": r.id,
        "status": r.status,
        "createdDateTime": _t(r.created),
        "completedDateTime": _t(r.completed),
        "approvalId": None,
        "customData": None,
        "createdBy": {
            "user": None,
            "application": {"id": None, "displayName": None},
            "device": None,
        },
        "action": r.action,
        "isValidationOnly": r.is_validation_only,
        "justification": r.justification,
        "scheduleInfo": r.schedule_info,
        "ticketInfo": {
            "ticketNumber": ticket.get("ticketNumber"),
            "ticketSystem": ticket.get("ticketSystem"),
        },
        "principalId": r.principal_id,
        "accessId": r.access,
        "groupId": r.group_id,
        "targetScheduleId": r.target_schedule_id,
    }


DEFAULT_ASSIGNED_PLANS: list[dict[str, object]] = [
    {
        "assignedDateTime": "2024-01-01T00:00:00Z",
        "capabilityStatus": "Enabled",
        "service": "AADPremiumService",
        "servicePlanId": "eec0eb4f-6444-4f95-aba0-50c24d67f998",  # AAD_PREMIUM_P2
    }
]
"""What a user whose tenant-file entry has no `assignedPlans` holds: Microsoft Entra ID P2
(service plan id from Entra's "Product names and service plan identifiers for licensing")."""

USER_NON_DEFAULT = ("assignedPlans",)
"""User properties Graph returns only when `$select`ed (not in the default set)."""


def user_json(u: User) -> dict[str, Any]:
    """A user with every property the emulator knows; the routes drop `USER_NON_DEFAULT`
    ones unless `$select`ed, as Graph does."""
    plans = DEFAULT_ASSIGNED_PLANS if u.assigned_plans is None else u.assigned_plans
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": u.id,
        "displayName": u.display_name,
        "userPrincipalName": u.user_principal_name,
        "mail": u.mail,
        "accountEnabled": True,
        "assignedPlans": [dict(p) for p in plans],
    }


def without_non_default(row: dict[str, Any], selected: list[str]) -> dict[str, Any]:
    """`row` without the properties Graph leaves out when no `$select` names them."""
    if selected:
        return row
    return {k: v for k, v in row.items() if k not in USER_NON_DEFAULT}


def group_json(g: Group) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.group",
        "id": g.id,
        "displayName": g.display_name,
        "description": g.description,
        "groupTypes": list(g.group_types),
        "mailEnabled": g.mail_enabled,
        "securityEnabled": g.security_enabled,
        "onPremisesSyncEnabled": g.on_premises_sync_enabled,
        "isAssignableToRole": g.is_assignable_to_role,
        "membershipRule": "user.accountEnabled -eq true"
        if any(t.lower() == "dynamicmembership" for t in g.group_types)
        else None,
    }


def service_principal_json(s: ServicePrincipal) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": s.id,
        "displayName": s.display_name,
        "appId": s.app_id,
        "servicePrincipalType": "Application",
        "accountEnabled": True,
    }


def directory_object_json(obj: User | Group | ServicePrincipal) -> dict[str, Any]:
    """Any directory object, with its `@odata.type` and default properties only."""
    if isinstance(obj, User):
        return without_non_default(user_json(obj), [])
    if isinstance(obj, Group):
        return group_json(obj)
    return service_principal_json(obj)


_NAVIGATION = {"principal", "group"}
_PIM_PROPERTIES: dict[str, set[str]] = {
    # the shapes above plus their navigation properties (reference 2.2-2.7)
    "schedule": {
        "id",
        "createdDateTime",
        "modifiedDateTime",
        "createdUsing",
        "status",
        "scheduleInfo",
        "accessId",
        "principalId",
        "groupId",
        "memberType",
        "assignmentType",
        "activatedUsing",
        *_NAVIGATION,
    },
    "instance": {
        "id",
        "startDateTime",
        "endDateTime",
        "accessId",
        "principalId",
        "groupId",
        "memberType",
        "assignmentType",
        "assignmentScheduleId",
        "eligibilityScheduleId",
        "activatedUsing",
        *_NAVIGATION,
    },
    "request": {
        "id",
        "status",
        "createdDateTime",
        "completedDateTime",
        "approvalId",
        "customData",
        "createdBy",
        "action",
        "isValidationOnly",
        "justification",
        "scheduleInfo",
        "ticketInfo",
        "principalId",
        "accessId",
        "groupId",
        "targetScheduleId",
        "targetSchedule",
        *_NAVIGATION,
    },
}
_ASSIGNMENT_ONLY = {"assignmentType", "assignmentScheduleId", "activatedUsing"}
_TYPE_SUFFIX = {
    "schedule": "Schedule",
    "instance": "ScheduleInstance",
    "request": "ScheduleRequest",
}


def pim_selectable(kind: str, what: str) -> tuple[set[str], str]:
    """(the properties `$select` / `$orderby` may name, the type name Graph's errors use) of a
    PIM resource: `kind` "eligible" | "active", `what` "schedule" | "instance" | "request"."""
    known = set(_PIM_PROPERTIES[what])
    if kind == "eligible":
        known -= _ASSIGNMENT_ONLY
        if what == "request":
            known.discard("activatedUsing")
        word = "Eligibility"
    else:
        known.discard("eligibilityScheduleId")
        if what == "request":
            known.add("activatedUsing")
        word = "Assignment"
    return known, f"privilegedAccessGroup{word}{_TYPE_SUFFIX[what]}"


DIRECTORY_SELECTABLE: dict[str, tuple[set[str], str]] = {
    "users": (
        {"id", "displayName", "userPrincipalName", "mail", "accountEnabled", "assignedPlans"},
        "user",
    ),
    "groups": (
        {
            "id",
            "displayName",
            "description",
            "groupTypes",
            "mailEnabled",
            "securityEnabled",
            "onPremisesSyncEnabled",
            "isAssignableToRole",
            "membershipRule",
        },
        "group",
    ),
    "servicePrincipals": (
        {"id", "displayName", "appId", "servicePrincipalType", "accountEnabled"},
        "servicePrincipal",
    ),
}
"""Directory resource -> (properties `$select` may name, type name in errors)."""
