"""Role management policy routes: policy assignments, policies and their rules (list, get),
and rule updates (`PATCH .../rules/{ruleId}`, graph-pim-reference.md 4.1-4.5).

Rule validation is written from the wire facts of 4.5, not from the product's planner: the
emulator must be able to disagree with it. Choices the reference marks unconfirmed are listed
in `RULE_CHOICES`.
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.emulator import ids, odata, permissions
from reconciler.emulator.calls import Answer, Call
from reconciler.emulator.errors import GraphError, bad_request
from reconciler.emulator.policy import assignment_json, policy_json, rules_of
from reconciler.emulator.query import context_url, eq_strings, filter_of, page
from reconciler.emulator.state import Policy
from reconciler.emulator.tenant import Tenant
from reconciler.emulator.timefmt import NotADuration, UnsupportedDurationUnit, parse_duration

RULE_CHOICES = {
    "wrong or missing @odata.type": "400 BadRequest (DOCS-15910 saw a 500 with an empty code "
    "for a wrong type; a client sending it is a bug either way)",
    "isExpirationRequired true without maximumDuration": "400 InvalidPolicyRule "
    "(DOC-RuleUpdate says it is required; the code is unconfirmed)",
    "approval required without a primary approver": "400 InvalidPolicyRule (inferred: the "
    "admin center refuses to save; code unconfirmed)",
    "mfa on activation together with an authentication context": "400 InvalidPolicyRule "
    "(EASYPIM-121 business rule; whether Graph refuses is unconfirmed)",
}
"""Unconfirmed choices of the rule update route (reference 4.5), with the answer given."""

_KIND_OF_ID = {
    "Expiration": "ExpirationRule",
    "Enablement": "EnablementRule",
    "Approval": "ApprovalRule",
    "AuthenticationContext": "AuthenticationContextRule",
    "Notification": "NotificationRule",
}
_TYPE_PREFIX = "#microsoft.graph.unifiedRoleManagementPolicy"
POLICY_WRITE = ["RoleManagementPolicy.ReadWrite.AzureADGroup"]


def _find_policy(tenant: Tenant, policy_id: str) -> Policy:
    for gid in tenant.groups:
        for access in ("member", "owner"):
            policy = tenant.policy_for(gid, access)
            if policy.policy_id.lower() == policy_id.lower():
                return policy
    raise GraphError(404, "ResourceNotFound", f"The resource '{policy_id}' was not found.")


def _policies_for_scope(tenant: Tenant, tree: odata.Filter) -> list[tuple[str, str]]:
    """(group id, access) of every policy that can match `tree`: all groups, or only the group
    a `scopeId eq` names (the caller still applies the full filter)."""
    scope = eq_strings(tree).get("scopeId")
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
    tree = filter_of(call, allowed)
    if tree is None or not {"scopeId", "scopeType"} <= odata.required_eq(tree):
        raise bad_request("The $filter must contain 'scopeId eq' and 'scopeType eq' conditions.")
    return tree


def _policy_expand(call: Call) -> tuple[bool, bool]:
    """(expand policy, with rules) from `$expand`."""
    items = odata.split_list(call.params.get("expand"))
    expand_policy = any(i.split("(")[0].strip() in ("policy", "*") for i in items)
    with_rules = any("rules" in i or "*" in i for i in items)
    return expand_policy, with_rules


def _list_policy_assignments(tenant: Tenant, call: Call) -> Answer:
    permissions.require(call.granted(tenant), permissions.POLICIES)
    tree = _scope_filter(call, {"id", "policyId", "scopeId", "scopeType", "roleDefinitionId"})
    expand_policy, with_rules = _policy_expand(call)
    rows = []
    # a group onboarded moments ago has no policy assignments for a while (TF-1769): the
    # `unprovisioned` fault answers an empty list for the reads it fires on
    if tenant.take_faults(call.method, call.path, ["unprovisioned"]):
        return page(tenant, call, [], context_url(call, "policies/roleManagementPolicyAssignments"))
    for gid, access in _policies_for_scope(tenant, tree):
        policy = tenant.policy_for(gid, access)
        row = assignment_json(policy, expand_policy, with_rules)
        if odata.matches(tree, row):
            rows.append(row)
    return page(tenant, call, rows, context_url(call, "policies/roleManagementPolicyAssignments"))


def _get_policy_assignment(tenant: Tenant, call: Call, item_id: str) -> Answer:
    permissions.require(call.granted(tenant), permissions.POLICIES)
    expand_policy, with_rules = _policy_expand(call)
    for gid in tenant.groups:
        for access in ("member", "owner"):
            policy = tenant.policy_for(gid, access)
            if policy.assignment_id == item_id:
                return Answer(200, assignment_json(policy, expand_policy, with_rules))
    raise GraphError(404, "ResourceNotFound", f"The resource '{item_id}' was not found.")


def _list_policies(tenant: Tenant, call: Call) -> Answer:
    permissions.require(call.granted(tenant), permissions.POLICIES)
    tree = _scope_filter(call, {"id", "scopeId", "scopeType"})
    with_rules = "rules" in call.params.get("expand", "") or "*" in call.params.get("expand", "")
    rows = []
    for gid, access in _policies_for_scope(tenant, tree):
        row = policy_json(tenant.policy_for(gid, access), with_rules)
        if odata.matches(tree, row):
            rows.append(row)
    return page(tenant, call, rows, context_url(call, "policies/roleManagementPolicies"))


def _get_policy(tenant: Tenant, call: Call, item_id: str) -> Answer:
    permissions.require(call.granted(tenant), permissions.POLICIES)
    with_rules = "rules" in call.params.get("expand", "") or "*" in call.params.get("expand", "")
    for gid in tenant.groups:
        for access in ("member", "owner"):
            policy = tenant.policy_for(gid, access)
            if policy.policy_id == item_id:
                return Answer(200, policy_json(policy, with_rules))
    raise GraphError(404, "ResourceNotFound", f"The resource '{item_id}' was not found.")


def list_rules(tenant: Tenant, call: Call, policy_id: str) -> Answer:
    permissions.require(call.granted(tenant), permissions.POLICIES)
    policy = _find_policy(tenant, policy_id)
    return page(
        tenant,
        call,
        rules_of(policy),
        context_url(call, f"policies/roleManagementPolicies('{policy.policy_id}')/rules"),
    )


def get_rule(tenant: Tenant, call: Call, policy_id: str, rule_id: str) -> Answer:
    permissions.require(call.granted(tenant), permissions.POLICIES)
    policy = _find_policy(tenant, policy_id)
    for rule in rules_of(policy):
        if str(rule["id"]).lower() == rule_id.lower():
            return Answer(200, rule)
    raise GraphError(404, "ResourceNotFound", f"The resource '{rule_id}' was not found.")


def update_rule(tenant: Tenant, call: Call, policy_id: str, rule_id: str) -> Answer:
    """`PATCH` one rule: 204 and no body (DOC-RuleUpdate); the whole body as sent replaces the
    rule (a bare `target` stays bare, as DOCS-16689 saw). The `ignored` fault answers 204 and
    keeps the old rule (TFMSGRAPH-75). An update gives the policy a new id (reference 3.2):
    the old id answers 404 from then on; clients find the policy again through its
    assignment."""
    permissions.require(call.granted(tenant), POLICY_WRITE)
    policy = _find_policy(tenant, policy_id)
    current = {str(r["id"]): r for r in rules_of(policy)}
    rule_id = next((rid for rid in current if rid.lower() == rule_id.lower()), rule_id)
    if rule_id not in current:
        raise GraphError(404, "ResourceNotFound", f"The resource '{rule_id}' was not found.")
    body = call.body if isinstance(call.body, dict) else None
    if body is None:
        raise bad_request("The request body must be a rule object.")
    _validate_rule(rule_id, body, {**current, rule_id: body})
    if tenant.take_faults(call.method, call.path, ["ignored"]):
        return Answer(204, None)
    fields = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("@odata.type", "id")}
    policy.overrides[rule_id] = {**policy.overrides.get(rule_id, {}), **fields}
    policy.last_modified = tenant.now()
    policy.guid = ids.new_guid()  # a policy's id changes on update (reference 3.2, 8)
    tenant.record_accepted()
    return Answer(204, None)


def _validate_rule(rule_id: str, body: dict[str, Any], after: dict[str, dict[str, Any]]) -> None:
    kind = rule_id.split("_", 1)[0]
    expected = _TYPE_PREFIX + _KIND_OF_ID.get(kind, "")
    if str(body.get("@odata.type") or "") != expected:
        raise bad_request(f"The rule '{rule_id}' must have @odata.type '{expected}'.")
    if "id" in body and str(body["id"]) != rule_id:
        raise bad_request(f"The rule id '{body['id']}' does not match '{rule_id}'.")
    if kind == "Expiration":
        if body.get("isExpirationRequired") and not body.get("maximumDuration"):
            raise _invalid_rule("maximumDuration is required when isExpirationRequired is true.")
        if body.get("maximumDuration"):
            try:
                parse_duration(body["maximumDuration"])
            except (NotADuration, UnsupportedDurationUnit) as exc:
                raise _invalid_rule(f"maximumDuration is not a valid duration: {exc}") from None
    if kind == "Approval":
        setting = body.get("setting") or {}
        if setting.get("isApprovalRequired"):
            stages = setting.get("approvalStages") or []
            if not any((s or {}).get("primaryApprovers") for s in stages):
                raise _invalid_rule("Approval is required but no primary approver is set.")
    mfa = "MultiFactorAuthentication" in (
        after.get("Enablement_EndUser_Assignment", {}).get("enabledRules") or []
    )
    context = after.get("AuthenticationContext_EndUser_Assignment", {}).get("isEnabled")
    if mfa and context:
        raise _invalid_rule(
            "MultiFactorAuthentication and an authentication context cannot "
            "both be required on activation."
        )


def _invalid_rule(message: str) -> GraphError:
    return GraphError(400, "InvalidPolicyRule", message)


ROUTES = [
    ("GET", r"/policies/roleManagementPolicyAssignments", _list_policy_assignments),
    ("GET", r"/policies/roleManagementPolicyAssignments/([^/]+)", _get_policy_assignment),
    ("GET", r"/policies/roleManagementPolicies", _list_policies),
    ("GET", r"/policies/roleManagementPolicies/([^/]+)", _get_policy),
    ("GET", r"/policies/roleManagementPolicies/([^/]+)/rules", list_rules),
    ("GET", r"/policies/roleManagementPolicies/([^/]+)/rules/([^/]+)", get_rule),
    ("PATCH", r"/policies/roleManagementPolicies/([^/]+)/rules/([^/]+)", update_rule),
]
