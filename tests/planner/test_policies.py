"""PIM settings as code in the pure planner: policy changes field by field, `loosens`,
assignments judged against the policy as it will be, and the refusals of format.md."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from reconciler.desired.model import (
    Access,
    DesiredPolicy,
    DesiredRule,
    Kind,
    Lifetime,
    Location,
    PrincipalRef,
    PrincipalType,
)
from reconciler.desired.policy import (
    APPROVAL_ACTIVATION,
    ENABLEMENT_ACTIVATION,
    ENABLEMENT_ELIGIBILITY,
    EXPIRATION_ACTIVATION,
    EXPIRATION_ELIGIBILITY,
    Approver,
    ApproverType,
    Requirement,
)
from reconciler.graph import decode
from reconciler.graph.policy_rules import rule_body
from reconciler.live.model import DirectoryObject, LiveGroup, LiveState, Resolution
from reconciler.plan.changes import Action
from reconciler.plan.planner import plan
from tests.planner.builders import GID, NOW, entry, group, live, ref, row, user

LOC = Location("groups/app.yaml", 3)
TARGET = {"caller": "Admin", "operations": ["All"], "level": "Eligibility",
          "inheritableSettings": [], "enforcedSettings": []}


def wire_policy(access: Access, **overrides: dict[str, Any]) -> dict[str, Any]:
    """A policy assignment as Graph answers it, with the documented defaults of a new group
    (graph-pim-reference.md 4.4) and `overrides` per rule id."""
    exp = "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule"
    ena = "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule"
    rules = [
        {"@odata.type": exp, "id": "Expiration_Admin_Eligibility", "isExpirationRequired": True,
         "maximumDuration": "P365D", "target": TARGET},
        {"@odata.type": ena, "id": "Enablement_Admin_Eligibility", "enabledRules": [],
         "target": TARGET},
        {"@odata.type": exp, "id": "Expiration_Admin_Assignment", "isExpirationRequired": True,
         "maximumDuration": "P180D", "target": {**TARGET, "level": "Assignment"}},
        {"@odata.type": ena, "id": "Enablement_Admin_Assignment",
         "enabledRules": ["Justification"], "target": {**TARGET, "level": "Assignment"}},
        {"@odata.type": exp, "id": "Expiration_EndUser_Assignment",
         "isExpirationRequired": True, "maximumDuration": "PT8H",
         "target": {**TARGET, "caller": "EndUser", "level": "Assignment"}},
        {"@odata.type": ena, "id": "Enablement_EndUser_Assignment",
         "enabledRules": ["Justification"],
         "target": {**TARGET, "caller": "EndUser", "level": "Assignment"}},
        {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
         "id": "Approval_EndUser_Assignment",
         "setting": {"isApprovalRequired": False, "approvalMode": "SingleStage",
                     "approvalStages": []},
         "target": {**TARGET, "caller": "EndUser", "level": "Assignment"}},
    ]
    for r in rules:
        r.update(overrides.get(r["id"], {}))
    return {"id": f"Group_{GID}_{access}", "scopeId": GID, "scopeType": "Group",
            "roleDefinitionId": str(access), "policyId": f"Group_{GID}_{access}_p",
            "policy": {"id": f"Group_{GID}_{access}_p", "rules": rules}}


def state_with(policies: dict[Access, dict[str, dict[str, Any]]] | None = None, *rows,
               group_obj: LiveGroup | None = None, extra: tuple[DirectoryObject, ...] = ()
               ) -> tuple[Resolution, LiveState]:
    pols = tuple(decode.policy(wire_policy(a, **(policies or {}).get(a, {})), GID)
                 for a in Access)
    resolution, state = live(*rows, policies=pols)  # type: ignore[arg-type]
    groups = {"grp-app": (group_obj,)} if group_obj else resolution.groups
    principals = dict(resolution.principals)
    for obj in extra:
        principals[PrincipalRef(PrincipalType.USER if obj.type is PrincipalType.USER
                                else PrincipalType.GROUP if obj.type is PrincipalType.GROUP
                                else PrincipalType.SERVICE_PRINCIPAL,
                                obj.user_principal_name or obj.display_name)] = (obj,)
    return Resolution(groups=groups, principals=principals), state


def declared(access: Access, *rules: tuple[str, dict[str, Any]],
             approvers: tuple[PrincipalRef, ...] = ()) -> DesiredPolicy:
    return DesiredPolicy(access, tuple(DesiredRule(rid, fields, LOC, {k: 4 for k in fields})
                                       for rid, fields in rules), LOC, approvers=approvers)


def with_policy(g, *policies: DesiredPolicy):
    from dataclasses import replace
    return replace(g, policies=policies)


def _desired(g):
    from tests.planner.builders import desired
    return desired(g)


def test_activation_rules_are_two_changes_with_before_and_after() -> None:
    g = with_policy(group(), declared(
        Access.MEMBER,
        (EXPIRATION_ACTIVATION, {"max_duration": timedelta(hours=4)}),
        (ENABLEMENT_ACTIVATION, {"require": frozenset({Requirement.MFA,
                                                       Requirement.JUSTIFICATION})})))
    resolution, state = state_with()
    p = plan(_desired(g), resolution, state, NOW)
    assert [(c.rule, c.before, c.after, c.loosens) for c in p.policy_changes] == [
        (EXPIRATION_ACTIVATION, {"max_duration": "PT8H"}, {"max_duration": "PT4H"}, False),
        (ENABLEMENT_ACTIVATION, {"require": ["justification"]},
         {"require": ["justification", "mfa"]}, False),
    ]
    assert p.exit_code() == 2 and not p.problems
    assert p.policy_changes[0].access is Access.MEMBER and p.policy_changes[0].line == 4


def test_only_declared_fields_are_compared_and_equal_sets_plan_nothing() -> None:
    g = with_policy(group(), declared(
        Access.OWNER, (ENABLEMENT_ACTIVATION, {"require": frozenset({"justification"})})))
    resolution, state = state_with()
    p = plan(_desired(g), resolution, state, NOW)
    assert p.policy_changes == () and p.exit_code() == 0


def test_permanent_eligible_allowed_and_declared_in_one_plan() -> None:
    permanent = entry(1, Lifetime.permanent())
    g = with_policy(group(permanent), declared(
        Access.MEMBER, (EXPIRATION_ELIGIBILITY, {"permanent": True})))
    resolution, state = state_with()
    p = plan(_desired(g), resolution, state, NOW)
    assert not p.problems
    assert [(c.rule, c.before, c.after, c.loosens) for c in p.policy_changes] == [
        (EXPIRATION_ELIGIBILITY, {"permanent": False}, {"permanent": True}, True)]
    assert [(c.action, c.permanent) for c in p.changes] == [(Action.CREATE, True)]


def test_without_the_policy_change_the_permanent_entry_is_refused_by_the_right_rule() -> None:
    resolution, state = state_with()
    p = plan(_desired(group(entry(1, Lifetime.permanent()))), resolution, state, NOW)
    assert [str(x.code) for x in p.errors] == ["permanent_not_allowed"]
    assert "Expiration_Admin_Eligibility" in p.errors[0].message


def test_a_longer_maximum_and_a_dropped_requirement_loosen() -> None:
    g = with_policy(group(), declared(
        Access.MEMBER,
        (EXPIRATION_ACTIVATION, {"max_duration": timedelta(hours=12)}),
        (ENABLEMENT_ACTIVATION, {"require": frozenset()})))
    resolution, state = state_with()
    p = plan(_desired(g), resolution, state, NOW)
    assert [(c.rule, c.loosens) for c in p.policy_changes] == [
        (EXPIRATION_ACTIVATION, True), (ENABLEMENT_ACTIVATION, True)]


def test_approval_without_approvers_is_refused() -> None:
    g = with_policy(group(), declared(Access.MEMBER, (APPROVAL_ACTIVATION, {"required": True})))
    resolution, state = state_with()
    p = plan(_desired(g), resolution, state, NOW)
    assert [(str(x.code), x.group) for x in p.errors] == [
        ("approval_without_approvers", "grp-app")]


def test_approvers_resolve_to_ids_with_names() -> None:
    lead = ref(2)
    g = with_policy(group(), declared(
        Access.MEMBER, (APPROVAL_ACTIVATION, {"required": True,
                                              "approvers": frozenset({lead})}),
        approvers=(lead,)))
    resolution, state = state_with()
    p = plan(_desired(g), resolution, state, NOW)
    assert not p.problems
    (change,) = p.policy_changes
    assert change.after == {"approvers": [{"type": "user", "id": user(2).id}], "required": True}
    assert change.before == {"approvers": [], "required": False}
    assert change.names == {user(2).id: "user2@contoso.example"}
    assert change.loosens is False


def test_a_service_principal_approver_is_invalid() -> None:
    sp = DirectoryObject("33333333-0000-0000-0000-000000000001", PrincipalType.SERVICE_PRINCIPAL,
                         "deploy-bot")
    sp_ref = PrincipalRef(PrincipalType.SERVICE_PRINCIPAL, "deploy-bot")
    g = with_policy(group(), declared(
        Access.MEMBER, (APPROVAL_ACTIVATION, {"required": True,
                                              "approvers": frozenset({sp_ref})}),
        approvers=(sp_ref,)))
    resolution, state = state_with(extra=(sp,))
    p = plan(_desired(g), resolution, state, NOW)
    assert "approver_invalid" in {str(x.code) for x in p.errors}
    assert any(x.principal == "deploy-bot" for x in p.errors)


def test_admin_mfa_blocks_automation_error_with_writes_warning_without() -> None:
    mfa = declared(Access.MEMBER, (ENABLEMENT_ELIGIBILITY, {"require": frozenset({"mfa"})}))
    resolution, state = state_with()
    with_write = plan(_desired(with_policy(group(entry(1, Lifetime.fixed(NOW + timedelta(
        days=30)))), mfa)), resolution, state, NOW)
    assert "admin_mfa_blocks_automation" in {str(x.code) for x in with_write.errors}
    without = plan(_desired(with_policy(group(), mfa)), resolution, state, NOW)
    assert not without.errors
    assert "admin_mfa_blocks_automation" in {str(x.code) for x in without.warnings}


def test_tightening_below_a_live_assignment_warns_per_assignment() -> None:
    loose = {Access.MEMBER: {EXPIRATION_ELIGIBILITY: {"isExpirationRequired": False}}}
    g = with_policy(group(managed=set()), declared(
        Access.MEMBER, (EXPIRATION_ELIGIBILITY, {"permanent": False})))
    resolution, state = state_with(loose, row(3, end=None))
    p = plan(_desired(g), resolution, state, NOW)
    assert [(str(w.code), w.principal) for w in p.warnings] == [
        ("live_exceeds_policy", "user3@contoso.example")]
    assert p.policy_changes[0].loosens is False


def test_role_assignable_group_without_approval_gets_a_recommendation() -> None:
    assignable = LiveGroup(GID, "grp-app", is_assignable_to_role=True)
    resolution, state = state_with(group_obj=assignable)
    p = plan(_desired(group()), resolution, state, NOW)
    assert [str(w.code) for w in p.warnings] == ["approval_recommended"]
    approved = {Access.MEMBER: {APPROVAL_ACTIVATION: {"setting": {
        "isApprovalRequired": True, "approvalStages": [{"primaryApprovers": [
            {"@odata.type": "#microsoft.graph.singleUser", "userId": user(2).id}]}]}}}}
    resolution, state = state_with(approved, group_obj=assignable)
    assert plan(_desired(group()), resolution, state, NOW).warnings == ()


def test_decoded_policy_settings() -> None:
    pol = decode.policy(wire_policy(Access.OWNER), GID)
    assert pol is not None and pol.access is Access.OWNER
    assert pol.settings[EXPIRATION_ELIGIBILITY] == {"permanent": False,
                                                    "max_duration": timedelta(days=365)}
    assert pol.settings[EXPIRATION_ACTIVATION] == {"max_duration": timedelta(hours=8)}
    assert pol.settings[APPROVAL_ACTIVATION] == {"required": False, "approvers": frozenset()}


def test_rule_body_is_the_rule_as_read_with_only_managed_fields_changed() -> None:
    read = wire_policy(Access.MEMBER)["policy"]["rules"][4]  # Expiration_EndUser_Assignment
    body = rule_body(EXPIRATION_ACTIVATION, read, {"max_duration": timedelta(hours=4)})
    assert body == {**read, "maximumDuration": "PT4H"}
    assert body["target"] == read["target"] and read["maximumDuration"] == "PT8H"
    approval = wire_policy(Access.MEMBER)["policy"]["rules"][6]
    body = rule_body(APPROVAL_ACTIVATION, approval, {
        "required": True, "approvers": frozenset({Approver(ApproverType.GROUP, "g-1")})})
    assert body["@odata.type"] == "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule"
    assert body["setting"]["isApprovalRequired"] is True
    assert body["setting"]["approvalStages"][0]["primaryApprovers"] == [
        {"@odata.type": "#microsoft.graph.groupMembers", "groupId": "g-1"}]
    assert body["target"] == approval["target"]


def test_kinds_judged_separately_for_active_entries() -> None:
    # an active entry is not affected by an eligibility rule change
    g = with_policy(group(entry(1, Lifetime.permanent(), kind=Kind.ACTIVE)), declared(
        Access.MEMBER, (EXPIRATION_ELIGIBILITY, {"permanent": True})))
    resolution, state = state_with()
    p = plan(_desired(g), resolution, state, NOW)
    assert [str(x.code) for x in p.errors] == ["permanent_not_allowed"]
    assert "Expiration_Admin_Assignment" in p.errors[0].message
