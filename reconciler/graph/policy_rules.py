"""Role management policy rules on the wire <-> the managed fields of
`reconciler.desired.policy` (graph-pim-reference.md 4.2, 4.3 and 4.5).

Reading (`rule_fields`) turns each rule as Graph returns it into a flat field mapping; writing
(`rule_body`) takes the rule **as read** and changes only the managed fields given, so the
PATCH always carries the whole rule with its full `target` (a partial notification body left a
policy unconfigurable: DOCS-16689, reference 4.5).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from reconciler.desired.policy import (
    Approver,
    ApproverType,
    FieldValue,
    NotificationLevel,
    Requirement,
)
from reconciler.durations import DurationError, format_duration, parse_duration

TYPE_PREFIX = "#microsoft.graph.unifiedRoleManagementPolicy"
_REQUIREMENTS = {  # enabledRules wire value <-> require value (DOC-EnablementRule)
    "MultiFactorAuthentication": Requirement.MFA,
    "Justification": Requirement.JUSTIFICATION,
    "Ticketing": Requirement.TICKET,
}
_WIRE_REQUIREMENT = {v: k for k, v in _REQUIREMENTS.items()}
_LEVELS = {"all": NotificationLevel.ALL, "critical": NotificationLevel.CRITICAL,
           "none": NotificationLevel.NONE}
_WIRE_LEVEL = {NotificationLevel.ALL: "All", NotificationLevel.CRITICAL: "Critical",
               NotificationLevel.NONE: "None"}
_USER_SET = "#microsoft.graph.singleUser"
_GROUP_SET = "#microsoft.graph.groupMembers"


def rule_kind(rule_id: str) -> str:
    """`Expiration`, `Enablement`, `Approval`, `AuthenticationContext` or `Notification`."""
    return rule_id.split("_", 1)[0]


def odata_type(rule_id: str) -> str:
    """The `@odata.type` a rule of this id carries, e.g.
    `#microsoft.graph.unifiedRoleManagementPolicyExpirationRule`."""
    return f"{TYPE_PREFIX}{rule_kind(rule_id)}Rule"


def _duration(text: Any) -> timedelta | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_duration(text)
    except DurationError:
        return None


def _approvers(setting: Mapping[str, Any]) -> frozenset[Approver]:
    out: set[Approver] = set()
    for stage in setting.get("approvalStages") or []:
        for subject in (stage or {}).get("primaryApprovers") or []:
            kind = str((subject or {}).get("@odata.type") or "")
            if kind == _USER_SET and subject.get("userId"):
                out.add(Approver(ApproverType.USER, str(subject["userId"])))
            elif kind == _GROUP_SET and subject.get("groupId"):
                out.add(Approver(ApproverType.GROUP, str(subject["groupId"])))
    return frozenset(out)


def rule_fields(rule: Mapping[str, Any]) -> dict[str, FieldValue]:
    """The managed fields of one rule as read (unknown rule kinds give `{}`)."""
    rule_id = str(rule.get("id") or "")
    kind = rule_kind(rule_id)
    if kind == "Expiration":
        fields: dict[str, FieldValue] = {"max_duration": _duration(rule.get("maximumDuration"))}
        if "_Admin_" in rule_id:  # activation has no permanence (an activation always ends)
            fields["permanent"] = not bool(rule.get("isExpirationRequired", True))
        return fields
    if kind == "Enablement":
        return {"require": frozenset(_REQUIREMENTS[r] for r in rule.get("enabledRules") or []
                                     if r in _REQUIREMENTS)}
    if kind == "Approval":
        setting = rule.get("setting") or {}
        return {"required": bool(setting.get("isApprovalRequired")),
                "approvers": _approvers(setting)}
    if kind == "AuthenticationContext":
        claim = rule.get("claimValue")
        return {"authentication_context": str(claim) if rule.get("isEnabled") and claim
                else None}
    if kind == "Notification":
        level = str(rule.get("notificationLevel") or "All").lower()
        return {
            "default_recipients": bool(rule.get("isDefaultRecipientsEnabled")),
            "recipients": frozenset(str(r).lower() for r in rule.get("notificationRecipients")
                                    or []),
            "level": _LEVELS.get(level, NotificationLevel.ALL),
        }
    return {}


def rule_body(rule_id: str, as_read: Mapping[str, Any] | None,
              changes: Mapping[str, FieldValue]) -> dict[str, Any]:
    """The PATCH body for `rule_id`: the rule as read (deep copy, full `target`) with the
    managed fields in `changes` set, and its own `@odata.type` and `id`. Approvers must be
    resolved `Approver` values. Raises `ValueError` for a field the rule does not have."""
    body: dict[str, Any] = copy.deepcopy(dict(as_read or {}))
    body["@odata.type"] = odata_type(rule_id)
    body["id"] = rule_id
    kind = rule_kind(rule_id)
    for name, value in changes.items():
        if kind == "Expiration" and name == "permanent":
            body["isExpirationRequired"] = not value
        elif kind == "Expiration" and name == "max_duration":
            body["maximumDuration"] = format_duration(value) if value else None
        elif kind == "Enablement" and name == "require":
            body["enabledRules"] = sorted(_WIRE_REQUIREMENT[Requirement(r)] for r in value or ())
        elif kind == "Approval" and name in ("required", "approvers"):
            _set_approval(body, name, value)
        elif kind == "AuthenticationContext" and name == "authentication_context":
            body["isEnabled"] = bool(value)
            body["claimValue"] = value or None
        elif kind == "Notification" and name == "default_recipients":
            body["isDefaultRecipientsEnabled"] = bool(value)
        elif kind == "Notification" and name == "recipients":
            body["notificationRecipients"] = sorted(value or ())
        elif kind == "Notification" and name == "level":
            body["notificationLevel"] = _WIRE_LEVEL[NotificationLevel(value)]
        else:
            raise ValueError(f"rule {rule_id} has no managed field {name!r}")
    if kind == "Expiration" and body.get("isExpirationRequired") and not body.get(
            "maximumDuration"):
        raise ValueError(f"{rule_id}: maximumDuration is required when expiration is required")
    return body


def _set_approval(body: dict[str, Any], name: str, value: FieldValue) -> None:
    setting = body.setdefault("setting", {})
    setting.setdefault("@odata.type", "#microsoft.graph.approvalSettings")
    if name == "required":
        setting["isApprovalRequired"] = bool(value)
        setting.setdefault("approvalMode", "SingleStage")
        return
    stages = setting.get("approvalStages") or [{}]
    stage = stages[0]
    stage.setdefault("@odata.type", "#microsoft.graph.unifiedApprovalStage")
    stage.setdefault("approvalStageTimeOutInDays", 1)
    stage.setdefault("isApproverJustificationRequired", True)
    stage.setdefault("escalationTimeInMinutes", 0)
    stage.setdefault("isEscalationEnabled", False)
    stage.setdefault("escalationApprovers", [])
    stage["primaryApprovers"] = [
        {"@odata.type": _USER_SET, "userId": a.id} if a.type is ApproverType.USER
        else {"@odata.type": _GROUP_SET, "groupId": a.id}
        for a in sorted(value or ())  # type: ignore[arg-type]
    ]
    setting["approvalStages"] = [stage, *stages[1:]]

