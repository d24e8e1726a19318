"""Group PIM policies as Graph serves them (graph-pim-reference.md section 4).

The defaults are those of 4.4 (the documented sample for a freshly onboarded group):
eligible expiration required, max P365D; active expiration required, max P180D; admin active
assignments need `Justification`; activations at most PT8H. Every policy carries the full
rule set of 4.2 (4 expiration/enablement admin rules, end-user rules, 9 notification rules).
"""

from __future__ import annotations

import copy

from reconciler.emulator.state import Policy
from reconciler.emulator.timefmt import format_time

_RULE = "#microsoft.graph.unifiedRoleManagementPolicy"

DEFAULT_VALUES: dict[str, dict[str, object]] = {
    "Expiration_Admin_Eligibility": {"isExpirationRequired": True, "maximumDuration": "P365D"},
    "Enablement_Admin_Eligibility": {"enabledRules": []},
    "Expiration_Admin_Assignment": {"isExpirationRequired": True, "maximumDuration": "P180D"},
    "Enablement_Admin_Assignment": {"enabledRules": ["Justification"]},
    "Expiration_EndUser_Assignment": {"isExpirationRequired": True, "maximumDuration": "PT8H"},
    "Enablement_EndUser_Assignment": {"enabledRules": ["Justification"]},
}

_KINDS = {
    "Expiration": "ExpirationRule",
    "Enablement": "EnablementRule",
    "Approval": "ApprovalRule",
    "AuthenticationContext": "AuthenticationContextRule",
    "Notification": "NotificationRule",
}


def _target(caller: str, level: str) -> dict[str, object]:
    return {
        "caller": caller,
        "operations": ["All"],
        "level": level,
        "inheritableSettings": [],
        "enforcedSettings": [],
    }


def _level(rule_id: str) -> tuple[str, str]:
    caller = "EndUser" if "EndUser" in rule_id else "Admin"
    level = "Eligibility" if rule_id.endswith("Eligibility") else "Assignment"
    return caller, level


def _base_rules() -> list[dict[str, object]]:
    rules: list[dict[str, object]] = []
    for rule_id, values in DEFAULT_VALUES.items():
        kind = _KINDS[rule_id.split("_", 1)[0]]
        rules.append({"@odata.type": f"{_RULE}{kind}", "id": rule_id, **copy.deepcopy(values)})
    rules.append(
        {
            "@odata.type": f"{_RULE}ApprovalRule",
            "id": "Approval_EndUser_Assignment",
            "setting": {
                "isApprovalRequired": False,
                "isApprovalRequiredForExtension": False,
                "isRequestorJustificationRequired": True,
                "approvalMode": "SingleStage",
                "approvalStages": [
                    {
                        "approvalStageTimeOutInDays": 1,
                        "isApproverJustificationRequired": True,
                        "escalationTimeInMinutes": 0,
                        "isEscalationEnabled": False,
                        "primaryApprovers": [],
                        "escalationApprovers": [],
                    }
                ],
            },
        }
    )
    rules.append(
        {
            "@odata.type": f"{_RULE}AuthenticationContextRule",
            "id": "AuthenticationContext_EndUser_Assignment",
            "isEnabled": False,
            "claimValue": "",
        }
    )
    for recipient in ("Admin", "Requestor", "Approver"):
        for what in ("Admin_Eligibility", "Admin_Assignment", "EndUser_Assignment"):
            rules.append(
                {
                    "@odata.type": f"{_RULE}NotificationRule",
                    "id": f"Notification_{recipient}_{what}",
                    "notificationType": "Email",
                    "recipientType": recipient,
                    "notificationLevel": "All",
                    "isDefaultRecipientsEnabled": True,
                    "notificationRecipients": [],
                }
            )
    for rule in rules:
        rule["target"] = _target(*_level(str(rule["id"])))
    return rules


def rules_of(policy: Policy) -> list[dict[str, object]]:
    """The full rule list of `policy`: defaults with its overrides applied."""
    rules = _base_rules()
    for rule in rules:
        rule.update(copy.deepcopy(policy.overrides.get(str(rule["id"]), {})))
    return rules


def rule_values(policy: Policy, rule_id: str) -> dict[str, object]:
    """The effective fields of one rule (e.g. `isExpirationRequired`, `maximumDuration`)."""
    values = copy.deepcopy(DEFAULT_VALUES.get(rule_id, {}))
    values.update(policy.overrides.get(rule_id, {}))
    return values


def policy_json(policy: Policy, with_rules: bool) -> dict[str, object]:
    """The `unifiedRoleManagementPolicy` object (reference 4.1)."""
    out: dict[str, object] = {
        "id": policy.policy_id,
        "displayName": "Group",
        "description": "Group",
        "isOrganizationDefault": False,
        "scopeId": policy.group_id,
        "scopeType": "Group",
        "lastModifiedDateTime": format_time(policy.last_modified) if policy.last_modified else None,
        "lastModifiedBy": {"displayName": None, "id": None},
    }
    if with_rules:
        out["rules"] = rules_of(policy)
    return out


def assignment_json(policy: Policy, expand_policy: bool, with_rules: bool) -> dict[str, object]:
    """The `unifiedRoleManagementPolicyAssignment` object (reference 4.1)."""
    out: dict[str, object] = {
        "id": policy.assignment_id,
        "policyId": policy.policy_id,
        "scopeId": policy.group_id,
        "scopeType": "Group",
        "roleDefinitionId": policy.access,
    }
    if expand_policy:
        out["policy"] = policy_json(policy, with_rules)
    return out
