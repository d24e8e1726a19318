"""Each PIM rule and error code the emulator enforces (graph-pim-reference.md 2.7, 3.1, 4, 8)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from reconciler.clock import FixedClock
from reconciler.emulator.tenant import Tenant

from .helpers import NOW, PAG, after_duration, body_for, raw_client, run

ELIG = f"{PAG}/eligibilityScheduleRequests"
ASSIGN = f"{PAG}/assignmentScheduleRequests"


def post(tenant: Tenant, url: str, body: Any) -> tuple[int, dict[str, Any]]:
    async def go() -> tuple[int, dict[str, Any]]:
        async with raw_client(tenant) as client:
            resp = await client.post(url, json=body)
            return resp.status_code, resp.json() if resp.content else {}

    return run(go())


def get(tenant: Tenant, url: str, **params: str) -> tuple[int, dict[str, Any]]:
    async def go() -> tuple[int, dict[str, Any]]:
        async with raw_client(tenant) as client:
            resp = await client.get(url, params=params)
            return resp.status_code, resp.json()

    return run(go())


def code_of(answer: tuple[int, dict[str, Any]]) -> tuple[int, str]:
    return answer[0], answer[1]["error"]["code"]


def test_assign_answers_201_provisioned_with_schedule_id_from_request_id(tenant: Tenant) -> None:
    body = body_for(
        tenant,
        "kim@contoso.example",
        "grp-app",
        scheduleInfo=after_duration("P30D", "2026-01-01T00:00:00Z"),
        **{"@odata.type": "#microsoft.graph.x"},
    )
    status, created = post(tenant, ELIG, body)
    assert status == 201
    assert created["status"] == "Provisioned"
    assert created["action"] == "adminAssign"
    assert created["scheduleInfo"]["startDateTime"] == "2026-12-01T12:00:00.0000000Z"
    assert created["scheduleInfo"]["expiration"] == {
        "type": "afterDuration",
        "endDateTime": None,
        "duration": "P30D",
    }
    gid = tenant.id_of("grp-app")
    assert created["targetScheduleId"] == f"{gid}_member_{created['id']}"
    status, schedule = get(tenant, f"{PAG}/eligibilitySchedules/{created['targetScheduleId']}")
    assert status == 200
    assert schedule["createdUsing"] == created["id"]
    assert schedule["modifiedDateTime"] == "0001-01-01T08:00:00Z"
    assert schedule["scheduleInfo"]["expiration"]["endDateTime"] == "2026-12-31T12:00:00.0000000Z"


def test_enum_values_are_read_without_regard_to_case(tenant: Tenant) -> None:
    body = body_for(
        tenant,
        "kim@contoso.example",
        "grp-app",
        action="AdminAssign",
        access="Member",
        scheduleInfo={
            "expiration": {"type": "AfterDateTime", "endDateTime": "2027-01-01T00:00:00Z"}
        },
    )
    status, created = post(tenant, ELIG, body)
    assert status == 201
    assert (created["action"], created["accessId"]) == ("adminAssign", "member")
    assert created["scheduleInfo"]["expiration"]["type"] == "afterDateTime"


def test_assign_over_existing_is_role_assignment_exists(tenant: Tenant) -> None:
    body = body_for(tenant, "alex@contoso.example", "grp-app", scheduleInfo=after_duration("P30D"))
    assert code_of(post(tenant, ELIG, body)) == (400, "RoleAssignmentExists")


def test_remove_or_update_of_missing_is_does_not_exist(tenant: Tenant) -> None:
    remove = body_for(tenant, "kim@contoso.example", "grp-app", action="adminRemove")
    assert code_of(post(tenant, ELIG, remove)) == (400, "RoleAssignmentDoesNotExist")
    update = body_for(
        tenant,
        "kim@contoso.example",
        "grp-app",
        action="adminUpdate",
        scheduleInfo=after_duration("P30D"),
    )
    assert code_of(post(tenant, ELIG, update)) == (400, "RoleAssignmentDoesNotExist")
    # an activation is not a direct assigned row: removing "it" finds nothing to remove
    activated = body_for(tenant, "alex@contoso.example", "grp-app", action="adminRemove")
    assert code_of(post(tenant, ASSIGN, activated)) == (400, "RoleAssignmentDoesNotExist")


def test_remove_answers_revoked_and_deletes(tenant: Tenant) -> None:
    status, answer = post(
        tenant, ELIG, body_for(tenant, "alex@contoso.example", "grp-app", action="adminRemove")
    )
    assert (status, answer["status"]) == (201, "Revoked")
    gid = tenant.id_of("grp-app")
    _, listed = get(tenant, f"{PAG}/eligibilitySchedules", **{"$filter": f"groupId eq '{gid}'"})
    assert tenant.id_of("alex@contoso.example") not in {
        r["principalId"] for r in listed["value"] if r["memberType"] == "Direct"
    }
    assert tenant.accepted_writes() == 1


@pytest.mark.parametrize("duration", ["PT4M", "PT299S"])
def test_duration_under_five_minutes_is_too_short(tenant: Tenant, duration: str) -> None:
    body = body_for(
        tenant,
        "kim@contoso.example",
        "grp-app",
        justification="x",
        scheduleInfo=after_duration(duration),
    )
    status, answer = post(tenant, ASSIGN, body)
    assert (status, answer["error"]["code"]) == (400, "ActiveDurationTooShort")
    assert "Miniumum Required is 5 minutes" in answer["error"]["message"]


def test_remove_and_update_within_five_minutes(tenant: Tenant, clock: FixedClock) -> None:
    body = body_for(
        tenant,
        "kim@contoso.example",
        "grp-app",
        justification="x",
        scheduleInfo=after_duration("P10D"),
    )
    status, created = post(tenant, ASSIGN, body)
    assert status == 201
    clock.advance(timedelta(minutes=4, seconds=59))
    remove = body_for(tenant, "kim@contoso.example", "grp-app", action="adminRemove")
    assert code_of(post(tenant, ASSIGN, remove)) == (400, "ActiveDurationTooShort")
    update = body_for(
        tenant,
        "kim@contoso.example",
        "grp-app",
        action="adminUpdate",
        justification="x",
        scheduleInfo=after_duration("P20D"),
    )
    assert code_of(post(tenant, ASSIGN, update)) == (400, "ActiveDurationTooShort")
    clock.advance(timedelta(seconds=1))
    status, updated = post(tenant, ASSIGN, update)
    assert (status, updated["status"]) == (201, "Provisioned")
    assert updated["targetScheduleId"] == created["targetScheduleId"]  # in place
    schedule = tenant.schedules[created["targetScheduleId"]]
    assert schedule.end == NOW + timedelta(minutes=5) + timedelta(days=20)
    assert schedule.modified == NOW + timedelta(minutes=5)
    # five_minute_anchor: latest_change (default): the update starts the five minutes again
    assert code_of(post(tenant, ASSIGN, remove)) == (400, "ActiveDurationTooShort")
    tenant.pin_variants({"five_minute_anchor": "made"})  # counted from creation only
    status, removed = post(tenant, ASSIGN, remove)
    assert (status, removed["status"]) == (201, "Revoked")


def test_after_an_update_removal_waits_five_minutes_from_the_update(tenant: Tenant,
                                                                     clock) -> None:
    body = body_for(tenant, "kim@contoso.example", "grp-app", justification="x",
                    scheduleInfo=after_duration("P10D"))
    assert post(tenant, ASSIGN, body)[0] == 201
    clock.advance(timedelta(minutes=6))
    update = body_for(tenant, "kim@contoso.example", "grp-app", action="adminUpdate",
                      justification="x", scheduleInfo=after_duration("P20D"))
    assert post(tenant, ASSIGN, update)[0] == 201
    remove = body_for(tenant, "kim@contoso.example", "grp-app", action="adminRemove")
    clock.advance(timedelta(minutes=4, seconds=59))
    assert code_of(post(tenant, ASSIGN, remove)) == (400, "ActiveDurationTooShort")
    clock.advance(timedelta(seconds=1))
    status, removed = post(tenant, ASSIGN, remove)
    assert (status, removed["status"]) == (201, "Revoked")


@pytest.mark.parametrize("action", ["adminExtend", "adminRenew"])
def test_extend_and_renew_change_end_in_place(tenant: Tenant, action: str) -> None:
    sam = tenant.id_of("sam@contoso.example")
    before = next(
        s for s in tenant.schedules.values() if s.principal_id == sam and s.kind == "active"
    )
    body = body_for(
        tenant,
        "sam@contoso.example",
        "grp-app",
        action=action,
        justification="x",
        scheduleInfo=after_duration("P60D"),
    )
    status, answer = post(tenant, ASSIGN, body)
    assert (status, answer["targetScheduleId"]) == (201, before.id)
    assert tenant.schedules[before.id].end == NOW + timedelta(days=60)


def test_policy_expiration_rule_permanent_and_too_long(tenant: Tenant) -> None:
    permanent = body_for(
        tenant,
        "kim@contoso.example",
        "grp-app",
        scheduleInfo={"expiration": {"type": "noExpiration"}},
    )
    status, answer = post(tenant, ELIG, permanent)
    assert (status, answer["error"]["code"]) == (400, "RoleAssignmentRequestPolicyValidationFailed")
    assert answer["error"]["message"] == 'The following policy rules failed: ["ExpirationRule"]'
    too_long = body_for(
        tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P366D")
    )
    assert code_of(post(tenant, ELIG, too_long)) == (
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
    )
    # exactly the maximum is allowed
    assert (
        post(
            tenant,
            ELIG,
            body_for(
                tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P365D")
            ),
        )[0]
        == 201
    )


def test_policy_allows_permanent_where_configured(tenant: Tenant) -> None:
    permanent = body_for(
        tenant,
        "kim@contoso.example",
        "grp-open",
        scheduleInfo={"expiration": {"type": "noExpiration"}},
    )
    status, answer = post(tenant, ASSIGN, permanent)
    assert (status, answer["scheduleInfo"]["expiration"]["type"]) == (201, "noExpiration")


def test_policy_justification_and_ticketing_rules(tenant: Tenant) -> None:
    no_reason = body_for(
        tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P30D")
    )
    _status, answer = post(tenant, ASSIGN, no_reason)
    assert answer["error"]["message"] == 'The following policy rules failed: ["JustificationRule"]'
    # eligibility requests use Enablement_Admin_Eligibility (empty by default)
    assert post(tenant, ELIG, no_reason)[0] == 201
    no_ticket = body_for(
        tenant, "kim@contoso.example", "grp-ticket", scheduleInfo=after_duration("P30D")
    )
    _, answer = post(tenant, ASSIGN, no_ticket)
    assert answer["error"]["message"] == 'The following policy rules failed: ["TicketingRule"]'
    with_ticket = dict(no_ticket, ticketInfo={"ticketNumber": "CHG-9", "ticketSystem": "SN"})
    assert post(tenant, ASSIGN, with_ticket)[0] == 201


def test_policy_per_access_id(tenant: Tenant) -> None:
    # grp-open relaxes only the member policy; owner keeps the defaults
    permanent = body_for(
        tenant,
        "kim@contoso.example",
        "grp-open",
        access="owner",
        scheduleInfo={"expiration": {"type": "noExpiration"}},
    )
    assert code_of(post(tenant, ELIG, permanent)) == (
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
    )


@pytest.mark.parametrize("duration", ["P6M", "P1Y", "P2W"])
def test_month_year_week_durations_are_invalid(tenant: Tenant, duration: str) -> None:
    body = body_for(tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration(duration))
    assert code_of(post(tenant, ELIG, body)) == (400, "InvalidRoleAssignmentRequest")


def test_python_timedelta_text_is_bad_request(tenant: Tenant) -> None:
    body = body_for(
        tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("90 days, 0:00:00")
    )
    assert code_of(post(tenant, ELIG, body)) == (400, "BadRequest")
    assert tenant.schedules and tenant.accepted_writes() == 0


@pytest.mark.parametrize("group", ["grp-dyn", "grp-sync"])
def test_dynamic_and_synced_groups_are_refused(tenant: Tenant, group: str) -> None:
    body = body_for(tenant, "kim@contoso.example", group, scheduleInfo=after_duration("P30D"))
    status, answer = post(tenant, ELIG, body)
    assert (status, answer["error"]["code"]) == (400, "InvalidRoleAssignmentRequest")
    assert "cannot be managed in PIM for Groups" in answer["error"]["message"]


def test_unknown_principal_and_group(tenant: Tenant) -> None:
    body = body_for(tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P30D"))
    ghost = dict(body, principalId="11111111-1111-1111-1111-111111111111")
    assert code_of(post(tenant, ELIG, ghost)) == (400, "SubjectNotFound")
    new_group = dict(body, groupId="22222222-2222-2222-2222-222222222222")
    assert code_of(post(tenant, ELIG, new_group)) == (404, "ResourceNotFound")


def test_future_start_has_schedule_but_no_instance(tenant: Tenant, clock: FixedClock) -> None:
    body = body_for(
        tenant,
        "kim@contoso.example",
        "grp-app",
        scheduleInfo=after_duration("P30D", "2026-12-03T00:00:00Z"),
    )
    status, created = post(tenant, ELIG, body)
    assert (status, created["status"]) == (201, "ScheduleCreated")
    kim = tenant.id_of("kim@contoso.example")
    filt = {"$filter": f"principalId eq '{kim}' and memberType eq 'direct'"}
    assert len(get(tenant, f"{PAG}/eligibilitySchedules", **filt)[1]["value"]) == 1
    assert get(tenant, f"{PAG}/eligibilityScheduleInstances", **filt)[1]["value"] == []
    clock.advance(timedelta(days=2))
    instances = get(tenant, f"{PAG}/eligibilityScheduleInstances", **filt)[1]["value"]
    assert [i["eligibilityScheduleId"] for i in instances] == [created["targetScheduleId"]]
    assert instances[0]["id"] != created["targetScheduleId"]


def test_schedule_lists_need_group_or_principal_filter(tenant: Tenant) -> None:
    assert code_of(get(tenant, f"{PAG}/eligibilitySchedules")) == (400, "BadRequest")
    only_status = {"$filter": "status eq 'Provisioned'"}
    assert code_of(get(tenant, f"{PAG}/assignmentScheduleInstances", **only_status)) == (
        400,
        "BadRequest",
    )
    # requests without a filter: 200 and empty (app-only, reference 1.2)
    status, answer = get(tenant, f"{PAG}/eligibilityScheduleRequests")
    assert (status, answer["value"]) == (200, [])


@pytest.mark.parametrize("name", ["$filter", "%24filter", "filter"])
def test_filter_spellings(tenant: Tenant, name: str) -> None:
    gid = tenant.id_of("grp-app")

    async def go() -> Any:
        async with raw_client(tenant) as client:
            url = (
                f"{PAG}/assignmentSchedules?{name}=groupId%20eq%20%27{gid}%27"
                "%20and%20assignmentType%20eq%20%27Assigned%27"
            )
            return (await client.get(url)).json()

    rows = run(go())["value"]
    assert [r["principalId"] for r in rows] == [tenant.id_of("sam@contoso.example")]
    assert rows[0]["assignmentType"] == "Assigned"


def test_missing_permission_is_unknown_error_with_embedded_json(tenant: Tenant) -> None:
    tenant.granted_permissions = {"PrivilegedEligibilitySchedule.Read.AzureADGroup"}
    body = body_for(tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P30D"))
    status, answer = post(tenant, ELIG, body)
    assert (status, answer["error"]["code"]) == (403, "UnknownError")
    inner = json.loads(answer["error"]["message"])
    assert inner["errorCode"] == "PermissionScopeNotGranted"
    assert "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup" in inner["message"]
    gid = tenant.id_of("grp-app")
    assert (
        get(tenant, f"{PAG}/eligibilitySchedules", **{"$filter": f"groupId eq '{gid}'"})[0] == 200
    )
    assert code_of(get(tenant, "/v1.0/users")) == (403, "Authorization_RequestDenied")
    tenant.granted_permissions.add("PrivilegedEligibilitySchedule.Remove.AzureADGroup")
    remove = body_for(tenant, "alex@contoso.example", "grp-app", action="adminRemove")
    assert post(tenant, ELIG, remove)[0] == 201


def test_cancel_pending_request(tenant: Tenant) -> None:
    body = body_for(
        tenant,
        "kim@contoso.example",
        "grp-app",
        scheduleInfo=after_duration("P30D", "2026-12-10T00:00:00Z"),
    )
    _, created = post(tenant, ELIG, body)
    status, _ = post(tenant, f"{ELIG}/{created['id']}/cancel", None)
    assert status == 204
    assert tenant.requests[created["id"]].status == "Canceled"
    assert created["targetScheduleId"] not in tenant.schedules
    assert code_of(post(tenant, f"{ELIG}/{created['id']}/cancel", None)) == (
        400,
        "InvalidRoleAssignmentRequest",
    )


def test_error_envelope_has_inner_error(tenant: Tenant) -> None:
    async def go() -> Any:
        async with raw_client(tenant) as client:
            return await client.get(
                "/v1.0/users/ghost@contoso.example", headers={"client-request-id": "abc-123"}
            )

    resp = run(go())
    inner = resp.json()["error"]["innerError"]
    assert inner["client-request-id"] == "abc-123"
    assert inner["date"] == "2026-12-01T12:00:00Z"
    assert inner["request-id"] == resp.headers["request-id"]
