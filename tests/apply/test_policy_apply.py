"""Policy rule changes applied end to end (planner -> msgraph-sdk -> in-process emulator):
the PATCH body sent, the rule read back, `policy_not_applied` on a 204 that did not stick,
a policy not there yet, and one apply for "allow permanence + a permanent entry"."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from reconciler.apply.executor import Outcome, execute
from reconciler.desired.model import (
    Access,
    DesiredAssignment,
    DesiredGroup,
    DesiredPolicy,
    DesiredRule,
    DesiredState,
    Kind,
    Lifetime,
    Location,
    Mode,
    PrincipalRef,
    PrincipalType,
    Settings,
)
from reconciler.desired.policy import (
    APPROVAL_ACTIVATION,
    ENABLEMENT_ACTIVATION,
    EXPIRATION_ACTIVATION,
    EXPIRATION_ELIGIBILITY,
)
from reconciler.emulator.faults import Fault
from reconciler.pipeline import make_plan
from reconciler.targets import Target, open_backend

LOC = Location("groups/app.yaml", 3)
NOW = "2026-12-01T12:00:00Z"


def _tenant(tmp: Path, **extra: Any) -> Path:
    data = {"now": NOW,
            "users": [{"userPrincipalName": "alex@contoso.example", "displayName": "Alex"},
                      {"userPrincipalName": "lead@contoso.example", "displayName": "Lead"}],
            "groups": [{"displayName": "grp-app"}], **extra}
    path = tmp / "tenant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _desired(*rules: tuple[str, dict[str, Any]], entries: tuple[DesiredAssignment, ...] = (),
             approvers: tuple[PrincipalRef, ...] = ()) -> DesiredState:
    policy = DesiredPolicy(Access.MEMBER, tuple(DesiredRule(r, f, LOC) for r, f in rules), LOC,
                           approvers=approvers)
    managed = frozenset({(Access.MEMBER, Kind.ELIGIBLE)}) if entries else frozenset()
    group = DesiredGroup("grp-app", Mode.AUTHORITATIVE, managed, entries, LOC, policies=(policy,))
    return DesiredState("desired", Settings(), (group,), "digest")


async def _plan_and_apply(desired: DesiredState, tenant: Path):
    target = Target(kind="emulator", emulator_file=str(tenant))
    async with open_backend(target, save_state=True) as backend:
        plan = await make_plan(desired, backend, backend.clock.now())
        report = await execute(plan, backend, backend.clock, sleep=_no_sleep)
        log = list(backend.tenant.request_log)
    async with open_backend(target) as backend:
        again = await make_plan(desired, backend, backend.clock.now())
    return plan, report, again, log


async def _no_sleep(_seconds: float) -> None:
    return None


def _rules(tenant: Path) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(tenant.read_text(encoding="utf-8"))
    return {(p["group"], p["access"]): p.get("rules", {}) for p in data.get("policies") or []}


def test_activation_rules_are_written_read_back_and_converge(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path)
    desired = _desired((EXPIRATION_ACTIVATION, {"max_duration": timedelta(hours=4)}),
                       (ENABLEMENT_ACTIVATION, {"require": frozenset({"mfa", "justification"})}))
    plan, report, again, log = asyncio.run(_plan_and_apply(desired, tenant))
    assert [c.rule for c in plan.policy_changes] == [EXPIRATION_ACTIVATION, ENABLEMENT_ACTIVATION]
    assert [r.outcome for r in report.policy_results] == [Outcome.APPLIED, Outcome.APPLIED]
    assert report.exit_code() == 0
    patches = [e for e in log if e.method == "PATCH"]
    assert [(e.path.rsplit("/", 1)[1], e.status) for e in patches] == [
        (EXPIRATION_ACTIVATION, 204), (ENABLEMENT_ACTIVATION, 204)]
    member_rules = next(iter(_rules(tenant).values()))
    assert member_rules[EXPIRATION_ACTIVATION]["maximumDuration"] == "PT4H"
    assert member_rules[EXPIRATION_ACTIVATION]["isExpirationRequired"] is True
    # the whole rule as read went back, target included (DOCS-16689)
    assert member_rules[EXPIRATION_ACTIVATION]["target"]["caller"] == "EndUser"
    assert sorted(member_rules[ENABLEMENT_ACTIVATION]["enabledRules"]) == [
        "Justification", "MultiFactorAuthentication"]
    assert again.policy_changes == () and again.exit_code() == 0


def test_a_patch_answered_204_that_does_not_stick_is_policy_not_applied(tmp_path: Path) -> None:
    faults = [{"match": "PATCH */rules/Expiration_EndUser_Assignment", "kind": "ignored",
               "times": 5}]
    tenant = _tenant(tmp_path, faults=faults)
    desired = _desired((EXPIRATION_ACTIVATION, {"max_duration": timedelta(hours=2)}))
    _, report, again, _ = asyncio.run(_plan_and_apply(desired, tenant))
    (result,) = report.policy_results
    assert result.outcome is Outcome.FAILED
    assert result.graph_code == "policy_not_applied"
    assert "max_duration" in result.message and "'PT2H'" in result.message
    assert report.exit_code() == 1
    assert [c.rule for c in again.policy_changes] == [EXPIRATION_ACTIVATION]  # still to do
    # the fault is spent (times: 5 > one PATCH): the re-run converges
    tenant_data = yaml.safe_load(tenant.read_text(encoding="utf-8"))
    tenant_data["faults"] = []
    tenant.write_text(yaml.safe_dump(tenant_data, sort_keys=False), encoding="utf-8")
    _, report, again, _ = asyncio.run(_plan_and_apply(desired, tenant))
    assert report.exit_code() == 0 and again.policy_changes == ()


def test_permanence_allowed_and_a_permanent_entry_converge_in_one_apply(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path)
    entry = DesiredAssignment(Access.MEMBER, Kind.ELIGIBLE,
                              PrincipalRef(PrincipalType.USER, "alex@contoso.example"),
                              Lifetime.permanent(), LOC)
    desired = _desired((EXPIRATION_ELIGIBILITY, {"permanent": True}), entries=(entry,))
    plan, report, again, log = asyncio.run(_plan_and_apply(desired, tenant))
    assert not plan.problems
    assert [(c.rule, c.loosens) for c in plan.policy_changes] == [(EXPIRATION_ELIGIBILITY, True)]
    assert [r.outcome for r in report.policy_results] == [Outcome.APPLIED]
    assert [r.outcome for r in report.results] == [Outcome.APPLIED]
    # the schedule request is a `$batch` item; the envelope is left out
    methods = [e.method for e in log if e.method in ("PATCH", "POST") and "$batch" not in e.path]
    assert methods.index("PATCH") < methods.index("POST")  # the policy first
    assert again.exit_code() == 0


def test_an_assignment_needing_a_failed_policy_change_is_skipped(tmp_path: Path) -> None:
    faults = [{"match": "PATCH */rules/Expiration_Admin_Eligibility", "status": 500,
               "times": 1}]
    tenant = _tenant(tmp_path, faults=faults)
    entry = DesiredAssignment(Access.MEMBER, Kind.ELIGIBLE,
                              PrincipalRef(PrincipalType.USER, "alex@contoso.example"),
                              Lifetime.permanent(), LOC)
    desired = _desired((EXPIRATION_ELIGIBILITY, {"permanent": True}), entries=(entry,))
    _, report, _, log = asyncio.run(_plan_and_apply(desired, tenant))
    assert [r.outcome for r in report.policy_results] == [Outcome.FAILED]
    assert [r.outcome for r in report.results] == [Outcome.SKIPPED]
    assert "Expiration_Admin_Eligibility" in report.results[0].message
    assert not [e for e in log if e.method == "POST" and "ScheduleRequests" in e.path]
    assert report.exit_code() == 1


def test_approvers_are_sent_as_subject_sets(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path)
    lead = PrincipalRef(PrincipalType.USER, "lead@contoso.example")
    desired = _desired((APPROVAL_ACTIVATION, {"required": True, "approvers": frozenset({lead})}),
                       approvers=(lead,))
    plan, report, again, _ = asyncio.run(_plan_and_apply(desired, tenant))
    assert report.exit_code() == 0, report.to_dict()
    rule = next(iter(_rules(tenant).values()))[APPROVAL_ACTIVATION]
    approvers = rule["setting"]["approvalStages"][0]["primaryApprovers"]
    assert [a["@odata.type"] for a in approvers] == ["#microsoft.graph.singleUser"]
    assert rule["setting"]["isApprovalRequired"] is True
    assert plan.policy_changes[0].names == {approvers[0]["userId"]: "lead@contoso.example"}
    assert again.exit_code() == 0


def test_a_policy_not_provisioned_yet_is_waited_for(tmp_path: Path) -> None:
    faults = [{"match": "GET /policies/roleManagementPolicyAssignments", "kind": "unprovisioned",
               "times": 1}]
    tenant = _tenant(tmp_path, faults=faults)
    desired = _desired((EXPIRATION_ACTIVATION, {"max_duration": timedelta(hours=4)}))

    async def run() -> Any:
        target = Target(kind="emulator", emulator_file=str(tenant))
        async with open_backend(target) as backend:
            first = await make_plan(desired, backend, backend.clock.now())
            # the first read found no policy: a clear problem, nothing planned
            second = await make_plan(desired, backend, backend.clock.now())
            # the group's policy assignments vanish for two reads while the write looks
            backend.tenant.faults.append(Fault(
                "GET /policies/roleManagementPolicyAssignments", kind="unprovisioned", times=2))
            report = await execute(second, backend, backend.clock, sleep=_no_sleep)
            return first, second, report

    first, second, report = asyncio.run(run())
    assert [str(p.code) for p in first.errors] == ["policy_not_found"]
    assert "onboarded" in first.errors[0].message
    assert [c.rule for c in second.policy_changes] == [EXPIRATION_ACTIVATION]
    # the writer's own lookup meets the last unprovisioned read and retries
    assert [r.outcome for r in report.policy_results] == [Outcome.APPLIED]

