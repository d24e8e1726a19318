"""Contract tests: the real msgraph-sdk parses every answer into typed models, and the bodies
it builds are accepted (graph-pim-reference.md 2, 6, 10)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.directory_objects.get_by_ids.get_by_ids_post_request_body import (
    GetByIdsPostRequestBody,
)
from msgraph.generated.identity_governance.privileged_access.group.assignment_schedule_instances.assignment_schedule_instances_request_builder import (  # noqa: E501
    AssignmentScheduleInstancesRequestBuilder,
)
from msgraph.generated.identity_governance.privileged_access.group.eligibility_schedules.eligibility_schedules_request_builder import (  # noqa: E501
    EligibilitySchedulesRequestBuilder,
)
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.privileged_access_group_assignment_type import (
    PrivilegedAccessGroupAssignmentType,
)
from msgraph.generated.models.privileged_access_group_eligibility_schedule_request import (
    PrivilegedAccessGroupEligibilityScheduleRequest,
)
from msgraph.generated.models.privileged_access_group_member_type import (
    PrivilegedAccessGroupMemberType,
)
from msgraph.generated.models.privileged_access_group_relationships import (
    PrivilegedAccessGroupRelationships,
)
from msgraph.generated.models.request_schedule import RequestSchedule
from msgraph.generated.models.schedule_request_actions import ScheduleRequestActions
from msgraph.generated.models.ticket_info import TicketInfo
from msgraph.generated.models.unified_role_management_policy_enablement_rule import (
    UnifiedRoleManagementPolicyEnablementRule,
)
from msgraph.generated.models.unified_role_management_policy_expiration_rule import (
    UnifiedRoleManagementPolicyExpirationRule,
)
from msgraph.generated.policies.role_management_policy_assignments.role_management_policy_assignments_request_builder import (  # noqa: E501
    RoleManagementPolicyAssignmentsRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from reconciler.emulator.tenant import Tenant

from .helpers import NOW, run, sdk_client


def _elig_config(filter_: str) -> RequestConfiguration[Any]:
    q = EligibilitySchedulesRequestBuilder.EligibilitySchedulesRequestBuilderGetQueryParameters(
        filter=filter_
    )
    return RequestConfiguration(query_parameters=q)


def _assign_request(
    tenant: Tenant, duration: Any
) -> PrivilegedAccessGroupEligibilityScheduleRequest:
    return PrivilegedAccessGroupEligibilityScheduleRequest(
        access_id=PrivilegedAccessGroupRelationships.Member,
        principal_id=tenant.id_of("kim@contoso.example"),
        group_id=tenant.id_of("grp-app"),
        action=ScheduleRequestActions.AdminAssign,
        justification="declared in git",
        schedule_info=RequestSchedule(
            start_date_time=NOW,
            expiration=ExpirationPattern(
                type=ExpirationPatternType.AfterDuration, duration=duration
            ),
        ),
        ticket_info=TicketInfo(ticket_number="CHG-1", ticket_system="ServiceNow"),
    )


def test_eligibility_schedules_parse_typed(tenant: Tenant) -> None:
    gid = tenant.id_of("grp-app")

    async def go() -> Any:
        client = sdk_client(tenant)
        group = client.identity_governance.privileged_access.group
        return await group.eligibility_schedules.get(_elig_config(f"groupId eq '{gid}'"))

    resp = run(go())
    rows = {(r.principal_id, r.access_id): r for r in resp.value}
    alex = rows[(tenant.id_of("alex@contoso.example"), PrivilegedAccessGroupRelationships.Member)]
    assert alex.member_type is PrivilegedAccessGroupMemberType.Direct
    assert alex.status == "Provisioned"
    assert alex.schedule_info.expiration.type is ExpirationPatternType.AfterDateTime
    assert alex.schedule_info.expiration.end_date_time == NOW + dt.timedelta(days=10)
    assert alex.created_date_time == NOW - dt.timedelta(days=20)
    assert alex.id.startswith(f"{gid}_member_")
    owner = rows[(tenant.id_of("deploy-pipeline"), PrivilegedAccessGroupRelationships.Owner)]
    assert owner.schedule_info.start_date_time == NOW + dt.timedelta(days=2)
    kim = rows[(tenant.id_of("kim@contoso.example"), PrivilegedAccessGroupRelationships.Member)]
    assert kim.member_type is PrivilegedAccessGroupMemberType.Group
    assert resp.odata_next_link is None


def test_assignment_instances_parse_typed_and_skip_future(tenant: Tenant) -> None:
    gid = tenant.id_of("grp-app")

    async def go() -> Any:
        group = sdk_client(tenant).identity_governance.privileged_access.group
        q = AssignmentScheduleInstancesRequestBuilder.AssignmentScheduleInstancesRequestBuilderGetQueryParameters(  # noqa: E501
            filter=f"groupId eq '{gid}'"
        )
        active = await group.assignment_schedule_instances.get(
            RequestConfiguration(query_parameters=q)
        )
        elig = await group.eligibility_schedule_instances.get(
            RequestConfiguration(query_parameters=q)
        )
        return active, elig

    active, elig = run(go())
    types = {r.principal_id: r.assignment_type for r in active.value}
    assert types == {
        tenant.id_of("sam@contoso.example"): PrivilegedAccessGroupAssignmentType.Assigned,
        tenant.id_of("alex@contoso.example"): PrivilegedAccessGroupAssignmentType.Activated,
    }
    assert all(r.assignment_schedule_id.startswith(f"{gid}_member_") for r in active.value)
    # the future-start owner eligibility has a schedule but no instance yet
    assert tenant.id_of("deploy-pipeline") not in {r.principal_id for r in elig.value}
    assert {r.member_type for r in elig.value} == {
        PrivilegedAccessGroupMemberType.Direct,
        PrivilegedAccessGroupMemberType.Group,
    }


def test_sdk_built_assign_is_accepted(tenant: Tenant) -> None:
    async def go() -> Any:
        group = sdk_client(tenant).identity_governance.privileged_access.group
        return await group.eligibility_schedule_requests.post(
            _assign_request(tenant, cast(Any, "P90D"))
        )

    created = run(go())
    assert created.status == "Provisioned"
    assert created.action is ScheduleRequestActions.AdminAssign
    assert created.access_id is PrivilegedAccessGroupRelationships.Member
    assert created.schedule_info.expiration.type is ExpirationPatternType.AfterDuration
    assert created.schedule_info.expiration.duration == dt.timedelta(days=90)
    assert created.schedule_info.start_date_time == NOW  # processing time
    gid = tenant.id_of("grp-app")
    assert created.target_schedule_id == f"{gid}_member_{created.id}"
    assert created.ticket_info.ticket_number == "CHG-1"
    schedule = tenant.schedules[created.target_schedule_id]
    assert schedule.end == NOW + dt.timedelta(days=90)
    assert tenant.accepted_writes() == 1
    assert tenant.request_log[-1].action == "adminAssign"
    assert tenant.request_log[-1].request_status == "Provisioned"


def test_sdk_timedelta_duration_is_refused(tenant: Tenant) -> None:
    async def go() -> Any:
        group = sdk_client(tenant).identity_governance.privileged_access.group
        return await group.eligibility_schedule_requests.post(
            _assign_request(tenant, dt.timedelta(days=90))
        )

    with pytest.raises(ODataError) as info:
        run(go())
    assert info.value.response_status_code == 400
    assert info.value.error.code == "BadRequest"
    assert "90 days, 0:00:00" in info.value.error.message
    assert info.value.error.inner_error.request_id
    assert info.value.error.inner_error.date is not None
    assert tenant.accepted_writes() == 0


def test_policy_assignment_expand_parses_rules(tenant: Tenant) -> None:
    gid = tenant.id_of("grp-open")

    async def go() -> Any:
        q = RoleManagementPolicyAssignmentsRequestBuilder.RoleManagementPolicyAssignmentsRequestBuilderGetQueryParameters(  # noqa: E501
            filter=f"scopeId eq '{gid}' and scopeType eq 'Group' and roleDefinitionId eq 'member'",
            expand=["policy($expand=rules)"],
        )
        client = sdk_client(tenant)
        return await client.policies.role_management_policy_assignments.get(
            RequestConfiguration(query_parameters=q)
        )

    resp = run(go())
    assert len(resp.value) == 1
    assignment = resp.value[0]
    assert assignment.role_definition_id == "member"
    assert assignment.id == f"{assignment.policy_id}_member"
    assert assignment.policy_id.startswith(f"Group_{gid}_")
    rules = {r.id: r for r in assignment.policy.rules}
    assert len(rules) == 17
    elig = rules["Expiration_Admin_Eligibility"]
    assert isinstance(elig, UnifiedRoleManagementPolicyExpirationRule)
    assert elig.is_expiration_required is False
    assert elig.maximum_duration == dt.timedelta(days=365)
    assert (elig.target.caller, elig.target.level) == ("Admin", "Eligibility")
    enablement = rules["Enablement_Admin_Assignment"]
    assert isinstance(enablement, UnifiedRoleManagementPolicyEnablementRule)
    assert enablement.enabled_rules == []
    assert rules["Expiration_EndUser_Assignment"].maximum_duration == dt.timedelta(hours=8)


def test_users_by_upn_filter_select_and_get_by_ids(tenant: Tenant) -> None:
    async def go() -> Any:
        client = sdk_client(tenant)
        one = await client.users.by_user_id("alex@contoso.example").get()
        q = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="userPrincipalName eq 'SAM@contoso.example'", select=["id", "displayName"]
        )
        some = await client.users.get(RequestConfiguration(query_parameters=q))
        grp = await client.groups.by_group_id(tenant.id_of("grp-dyn")).get()
        body = GetByIdsPostRequestBody(
            ids=[tenant.id_of("grp-sync"), tenant.id_of("deploy-pipeline"), "nope"]
        )
        objs = await client.directory_objects.get_by_ids.post(body)
        return one, some, grp, objs

    one, some, grp, objs = run(go())
    assert one.id == tenant.id_of("alex@contoso.example")
    assert one.display_name == "Alex Doe"
    assert [(u.id, u.display_name, u.user_principal_name) for u in some.value] == [
        (tenant.id_of("sam@contoso.example"), "Sam Roe", None)
    ]
    assert grp.group_types == ["DynamicMembership"]
    kinds = sorted(type(o).__name__ for o in objs.value)
    assert kinds == ["Group", "ServicePrincipal"]
    sp = next(o for o in objs.value if type(o).__name__ == "ServicePrincipal")
    assert sp.app_id == "00000000-0000-0000-0000-0000000000a1"
    synced = next(o for o in objs.value if type(o).__name__ == "Group")
    assert synced.on_premises_sync_enabled is True


def test_paging_over_several_pages(tenant: Tenant) -> None:
    tenant.page_size = 2
    gid = tenant.id_of("grp-app")

    async def go() -> list[Any]:
        group = sdk_client(tenant).identity_governance.privileged_access.group
        page = await group.eligibility_schedules.get(_elig_config(f"groupId eq '{gid}'"))
        pages = [page]
        while page.odata_next_link:
            page = await group.eligibility_schedules.with_url(page.odata_next_link).get()
            pages.append(page)
        return pages

    pages = run(go())
    assert [len(p.value) for p in pages] == [2, 1]
    assert pages[0].odata_next_link.startswith("http://emulator/v1.0/identityGovernance/")
    ids = [r.id for p in pages for r in p.value]
    assert len(set(ids)) == 3


def test_missing_user_is_odata_error(tenant: Tenant) -> None:
    async def go() -> Any:
        return await sdk_client(tenant).users.by_user_id("ghost@contoso.example").get()

    with pytest.raises(ODataError) as info:
        run(go())
    assert info.value.response_status_code == 404
    assert info.value.error.code == "Request_ResourceNotFound"
