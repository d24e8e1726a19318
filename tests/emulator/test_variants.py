"""Each unconfirmed-behaviour switch of the emulator (emulator/variants.py) answers as its
option says, over HTTP. The default option of each is covered by test_rules.py."""

from __future__ import annotations

from datetime import timedelta

from reconciler.emulator.tenant import Tenant

from .helpers import after_duration, body_for
from .test_rules import ASSIGN, ELIG, code_of, post


def until(end: str) -> dict:
    return {"expiration": {"type": "afterDateTime", "endDateTime": end}}


def test_max_duration_without_expiration(tenant: Tenant) -> None:
    # grp-open allows permanent eligibility with maximumDuration P365D
    body = body_for(tenant, "kim@contoso.example", "grp-open",
                    scheduleInfo=after_duration("P400D"))
    assert post(tenant, ELIG, body)[0] == 201  # ignored (default)
    tenant.pin_variants({"max_duration_without_expiration": "enforced"})
    other = body_for(tenant, "sam@contoso.example", "grp-open",
                     scheduleInfo=after_duration("P400D"))
    status, answer = post(tenant, ELIG, other)
    assert (status, answer["error"]["code"]) == (400,
                                                 "RoleAssignmentRequestPolicyValidationFailed")
    assert answer["error"]["message"].endswith('["ExpirationRule"]')
    permanent = body_for(tenant, "sam@contoso.example", "grp-open",
                         scheduleInfo={"expiration": {"type": "noExpiration"}})
    assert post(tenant, ELIG, permanent)[0] == 201  # permanence itself is still allowed


def test_early_eligibility_removal_and_short_eligibility_codes(tenant: Tenant, clock) -> None:
    tenant.pin_variants({"early_eligibility_removal_code": "InvalidRoleAssignmentRequest",
                         "short_eligibility_code": "InvalidRoleAssignmentRequest"})
    short = body_for(tenant, "kim@contoso.example", "grp-app",
                     scheduleInfo=after_duration("PT4M"))
    assert code_of(post(tenant, ELIG, short)) == (400, "InvalidRoleAssignmentRequest")
    body = body_for(tenant, "kim@contoso.example", "grp-app",
                    scheduleInfo=after_duration("P10D"))
    assert post(tenant, ELIG, body)[0] == 201
    clock.advance(timedelta(minutes=1))
    remove = body_for(tenant, "kim@contoso.example", "grp-app", action="adminRemove")
    assert code_of(post(tenant, ELIG, remove)) == (400, "InvalidRoleAssignmentRequest")
    # active assignments keep the seen code
    active = body_for(tenant, "kim@contoso.example", "grp-app", justification="x",
                      scheduleInfo=after_duration("PT4M"))
    assert code_of(post(tenant, ASSIGN, active)) == (400, "ActiveDurationTooShort")


def test_eligibility_enablement_ignored(tenant: Tenant) -> None:
    tenant.policy_for(tenant.id_of("grp-app"), "member").overrides[
        "Enablement_Admin_Eligibility"] = {"enabledRules": ["Justification"]}
    body = body_for(tenant, "kim@contoso.example", "grp-app",
                    scheduleInfo=after_duration("P10D"))
    status, answer = post(tenant, ELIG, body)
    assert (status, answer["error"]["message"]) == (
        400, 'The following policy rules failed: ["JustificationRule"]')
    tenant.pin_variants({"eligibility_enablement": "ignored"})
    assert post(tenant, ELIG, body)[0] == 201


def test_codes_for_unknown_principal_unmanageable_group_and_ticket_rule(tenant: Tenant) -> None:
    tenant.pin_variants({"unknown_principal_code": "PrincipalNotFound",
                         "unmanageable_group_code": "BadRequest",
                         "ticketing_rule_name": "TicketRule"})
    ghost = body_for(tenant, "kim@contoso.example", "grp-app",
                     scheduleInfo=after_duration("P10D"))
    ghost["principalId"] = "00000000-0000-0000-0000-00000000dead"
    assert code_of(post(tenant, ELIG, ghost)) == (400, "PrincipalNotFound")
    dynamic = body_for(tenant, "kim@contoso.example", "grp-dyn",
                       scheduleInfo=after_duration("P10D"))
    assert code_of(post(tenant, ELIG, dynamic)) == (400, "BadRequest")
    ticket = body_for(tenant, "kim@contoso.example", "grp-ticket", justification="x",
                      scheduleInfo=after_duration("P10D"))
    status, answer = post(tenant, ASSIGN, ticket)
    assert (status, answer["error"]["message"]) == (
        400, 'The following policy rules failed: ["TicketRule"]')


def test_validation_only_dry_run_or_ignored(tenant: Tenant) -> None:
    body = body_for(tenant, "kim@contoso.example", "grp-app", isValidationOnly=True,
                    scheduleInfo=after_duration("P10D"))
    before = len(tenant.schedules)
    assert post(tenant, ELIG, body)[0] == 201
    assert len(tenant.schedules) == before  # dry_run (default): nothing changed
    tenant.pin_variants({"validation_only": "ignored"})
    assert post(tenant, ELIG, body)[0] == 201
    assert len(tenant.schedules) == before + 1


def test_week_durations_and_instants_without_zone(tenant: Tenant) -> None:
    weeks = body_for(tenant, "kim@contoso.example", "grp-app",
                     scheduleInfo=after_duration("P2W"))
    assert code_of(post(tenant, ELIG, weeks)) == (400, "InvalidRoleAssignmentRequest")
    naive = body_for(tenant, "sam@contoso.example", "grp-app",
                     scheduleInfo=until("2027-01-01T00:00:00"))
    assert code_of(post(tenant, ELIG, naive)) == (400, "BadRequest")
    tenant.pin_variants({"week_durations": "accepted", "instant_without_zone": "utc"})
    status, created = post(tenant, ELIG, weeks)
    assert status == 201
    schedule = tenant.schedules[created["targetScheduleId"]]
    assert schedule.end - schedule.start == timedelta(weeks=2)
    status, created = post(tenant, ELIG, naive)
    assert status == 201
    assert tenant.schedules[created["targetScheduleId"]].end.isoformat() == \
        "2027-01-01T00:00:00+00:00"


def test_the_first_assignment_onboards_a_group_and_changes_its_policy_ids(tenant: Tenant
                                                                          ) -> None:
    gid = tenant.id_of("grp-open")
    assert not tenant.schedules.with_value("group_id", gid)  # type: ignore[attr-defined]
    before = {a: tenant.policy_for(gid, a).policy_id for a in ("member", "owner")}
    body = body_for(tenant, "kim@contoso.example", "grp-open",
                    scheduleInfo=after_duration("P10D"))
    assert post(tenant, ELIG, body)[0] == 201
    after = {a: tenant.policy_for(gid, a).policy_id for a in ("member", "owner")}
    assert all(before[a] != after[a] for a in before)
    second = body_for(tenant, "sam@contoso.example", "grp-open",
                      scheduleInfo=after_duration("P10D"))
    assert post(tenant, ELIG, second)[0] == 201
    assert {a: tenant.policy_for(gid, a).policy_id for a in ("member", "owner")} == after
