"""Plain-JSON decoding of Graph rows into `reconciler.live.model` types (no SDK models).

Shapes from graph-pim-reference.md: schedules section 2.4 (`scheduleInfo.expiration` of type
`noExpiration | afterDateTime | afterDuration`, section 2.1; `modifiedDateTime`
`0001-01-01T08:00:00Z` means never modified); enum values read without regard to case
(section 2.2: `Direct`, `Assigned`, `Activated` come back PascalCase); policies section 4.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from reconciler.desired.model import Access, Kind, PrincipalType
from reconciler.durations import DurationError, parse_duration, parse_instant
from reconciler.graph.policy_rules import rule_fields
from reconciler.live.model import (
    AssignmentType,
    DirectoryObject,
    ExpirationRule,
    GroupPolicy,
    LiveGroup,
    LiveSchedule,
    MemberType,
)

_LOOSE_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def instant(value: Any) -> datetime | None:
    """A Graph DateTimeOffset as aware UTC; None for null, unparsable, or year < 1900
    (Graph's `0001-01-01T08:00:00Z` "never" marker)."""
    if not value or not isinstance(value, str):
        return None
    try:
        dt = parse_instant(value)
    except (ValueError, OverflowError):
        return None
    return None if dt.year < 1900 else dt


def duration(text: Any) -> timedelta | None:
    """An ISO 8601 duration read leniently (Graph may hold `P1Y`/`P6M` in a policy: read as
    365 / 30 days like kiota does, section 6.3). None if absent or unparsable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_duration(text)
    except DurationError:
        m = _LOOSE_DURATION.match(text.strip().upper())
        if not m or text.strip().upper() in ("P", "PT"):
            return None
        y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        return timedelta(days=y * 365 + mo * 30 + w * 7 + d, hours=h, minutes=mi, seconds=s)


def _enum(value: Any) -> str:
    return str(value or "").strip().lower()


def schedule(row: Mapping[str, Any], kind: Kind) -> LiveSchedule | None:
    """One eligibilitySchedule / assignmentSchedule row; None for an `accessId` we do not
    model (`unknownFutureValue`)."""
    access = _enum(row.get("accessId"))
    if access not in ("member", "owner"):
        return None
    info = row.get("scheduleInfo") or {}
    start = instant(info.get("startDateTime"))
    expiration = info.get("expiration") or {}
    etype = _enum(expiration.get("type"))
    end = instant(expiration.get("endDateTime"))
    if end is None and etype == "afterduration" and start is not None:
        length = duration(expiration.get("duration"))
        end = start + length if length is not None else None
    if etype == "noexpiration":
        end = None
    member = MemberType.GROUP if _enum(row.get("memberType")) == "group" else MemberType.DIRECT
    assignment = AssignmentType.ASSIGNED
    if kind is Kind.ACTIVE and _enum(row.get("assignmentType")) == "activated":
        assignment = AssignmentType.ACTIVATED
    return LiveSchedule(
        id=str(row.get("id")),
        group_id=str(row.get("groupId")),
        access=Access(access),
        kind=kind,
        principal_id=str(row.get("principalId")),
        start=start,
        end=end,
        created=instant(row.get("createdDateTime")),
        modified=instant(row.get("modifiedDateTime")),
        member_type=member,
        assignment_type=assignment,
        status=str(row.get("status") or ""),
    )


def _expiration_rule(rule: Mapping[str, Any] | None) -> ExpirationRule:
    if not rule:
        return ExpirationRule()
    text = rule.get("maximumDuration")
    return ExpirationRule(
        is_expiration_required=bool(rule.get("isExpirationRequired", True)),
        maximum_duration=duration(text),
        maximum_duration_text=text if isinstance(text, str) else None,
    )


def policy(assignment: Mapping[str, Any], group_id: str) -> GroupPolicy | None:
    """A `unifiedRoleManagementPolicyAssignment` with `policy($expand=rules)` inlined
    (section 4.1). None when `roleDefinitionId` is not member/owner or the policy is missing."""
    role = _enum(assignment.get("roleDefinitionId"))
    pol = assignment.get("policy")
    if role not in ("member", "owner") or not isinstance(pol, dict):
        return None
    rules = {str(r.get("id")): r for r in pol.get("rules") or [] if isinstance(r, dict)}

    def enabled(rule_id: str) -> frozenset[str]:
        return frozenset(str(x) for x in (rules.get(rule_id) or {}).get("enabledRules") or [])

    return GroupPolicy(
        group_id=str(assignment.get("scopeId") or group_id),
        access=Access(role),
        policy_id=str(pol.get("id") or assignment.get("policyId") or ""),
        eligibility_expiration=_expiration_rule(rules.get("Expiration_Admin_Eligibility")),
        assignment_expiration=_expiration_rule(rules.get("Expiration_Admin_Assignment")),
        eligibility_enablement=enabled("Enablement_Admin_Eligibility"),
        assignment_enablement=enabled("Enablement_Admin_Assignment"),
        settings={rule_id: rule_fields(rule) for rule_id, rule in rules.items()},
        raw_rules=rules,
    )


_TYPES = {
    "#microsoft.graph.user": PrincipalType.USER,
    "#microsoft.graph.group": PrincipalType.GROUP,
    "#microsoft.graph.serviceprincipal": PrincipalType.SERVICE_PRINCIPAL,
}


def directory_object(obj: Mapping[str, Any], default: PrincipalType | None = None
                     ) -> DirectoryObject | None:
    """A user / group / servicePrincipal (type from `@odata.type`, else `default`)."""
    kind = _TYPES.get(str(obj.get("@odata.type") or "").lower(), default)
    if kind is None or not obj.get("id"):
        return None
    return DirectoryObject(
        id=str(obj["id"]),
        type=kind,
        display_name=str(obj.get("displayName") or ""),
        user_principal_name=obj.get("userPrincipalName") if kind is PrincipalType.USER else None,
        app_id=obj.get("appId") if kind is PrincipalType.SERVICE_PRINCIPAL else None,
        service_plans=enabled_plans(obj.get("assignedPlans")) if kind is PrincipalType.USER
        else None,
    )


def enabled_plans(assigned: Any) -> frozenset[str] | None:
    """`user.assignedPlans` (a list of `assignedPlan`: `servicePlanId`, `capabilityStatus`,
    `service`, `assignedDateTime`) as the lower-cased `servicePlanId`s whose
    `capabilityStatus` is `Enabled` (Graph's user resource; the other values, `Warning`,
    `Suspended`, `Deleted`, `LockedOut`, do not count). None when the property was not
    returned (unknown, not unlicensed)."""
    if not isinstance(assigned, list):
        return None
    return frozenset(
        str(plan.get("servicePlanId")).lower() for plan in assigned
        if isinstance(plan, dict) and plan.get("servicePlanId")
        and str(plan.get("capabilityStatus") or "").lower() == "enabled")


def group(obj: Mapping[str, Any]) -> LiveGroup:
    """A group with `groupTypes` and `onPremisesSyncEnabled` (reference section 3.1)."""
    return LiveGroup(
        id=str(obj.get("id")),
        display_name=str(obj.get("displayName") or ""),
        group_types=tuple(str(t) for t in obj.get("groupTypes") or ()),
        on_premises_sync_enabled=bool(obj.get("onPremisesSyncEnabled")),
        is_assignable_to_role=bool(obj.get("isAssignableToRole")),
    )
