"""Contract tests for the [seen] Graph facts that had none: the roleManagementPolicies routes,
quote escaping, get-by-id of requests and instances, permanent instances with null times,
and getByIds' 1,000-id limit (graph-pim-reference.md 1.3, 2.5, 4.1, 5)."""

from __future__ import annotations

from typing import Any

from reconciler.emulator.fixture import load_tenant
from reconciler.emulator.tenant import Tenant

from .helpers import PAG, after_duration, body_for, small_fixture
from .test_rules import ASSIGN, code_of, get, post

POLICIES = "/v1.0/policies/roleManagementPolicies"
ASSIGNMENTS = "/v1.0/policies/roleManagementPolicyAssignments"


def _scope(tenant: Tenant, group: str) -> str:
    return f"scopeId eq '{tenant.id_of(group)}' and scopeType eq 'Group'"


def test_policies_need_the_scope_filter(tenant: Tenant) -> None:
    # DOC-PolList: the filter on scopeId and scopeType is mandatory
    assert code_of(get(tenant, POLICIES)) == (400, "BadRequest")
    gid = tenant.id_of("grp-app")
    assert code_of(get(tenant, POLICIES, **{"$filter": f"scopeId eq '{gid}'"})) == (
        400,
        "BadRequest",
    )
    assert code_of(get(tenant, ASSIGNMENTS, **{"$filter": "scopeType eq 'Group'"})) == (
        400,
        "BadRequest",
    )


def test_a_group_has_a_member_and_an_owner_policy(tenant: Tenant) -> None:
    status, body = get(tenant, POLICIES, **{"$filter": _scope(tenant, "grp-app")})
    assert status == 200
    assert (
        body["@odata.context"] == "http://emulator/v1.0/$metadata#policies/roleManagementPolicies"
    )
    rows = body["value"]
    assert len(rows) == 2
    gid = tenant.id_of("grp-app")
    assert {(r["scopeId"], r["scopeType"]) for r in rows} == {(gid, "Group")}
    assert all(r["id"].startswith(f"Group_{gid}_") for r in rows)
    assert all("rules" not in r for r in rows)  # rules only when expanded
    status, body = get(
        tenant, POLICIES, **{"$filter": _scope(tenant, "grp-app"), "$expand": "rules"}
    )
    assert [len(r["rules"]) for r in body["value"]] == [17, 17]


def test_policy_and_policy_assignment_by_id(tenant: Tenant) -> None:
    flt = _scope(tenant, "grp-open") + " and roleDefinitionId eq 'member'"
    status, body = get(tenant, ASSIGNMENTS, **{"$filter": flt})
    (assignment,) = body["value"]
    assert set(assignment) == {"id", "policyId", "scopeId", "scopeType", "roleDefinitionId"}
    status, one = get(tenant, f"{ASSIGNMENTS}/{assignment['id']}", **{"$expand": "policy"})
    assert status == 200 and one["policy"]["id"] == assignment["policyId"]
    assert "rules" not in one["policy"]
    status, policy = get(tenant, f"{POLICIES}/{assignment['policyId']}", **{"$expand": "rules"})
    assert status == 200 and policy["id"] == assignment["policyId"]
    rules = {r["id"]: r for r in policy["rules"]}
    assert rules["Expiration_Admin_Eligibility"]["isExpirationRequired"] is False
    assert rules["Expiration_Admin_Eligibility"]["@odata.type"] == (
        "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule"
    )
    assert code_of(get(tenant, f"{POLICIES}/Group_nope_nope")) == (404, "ResourceNotFound")
    assert code_of(get(tenant, f"{ASSIGNMENTS}/nope")) == (404, "ResourceNotFound")


def test_a_doubled_quote_matches_one_quote() -> None:
    data = small_fixture()
    data["users"].append(
        {"userPrincipalName": "sean.o'brien@contoso.example", "displayName": "Sean O'Brien"}
    )
    tenant = load_tenant(data)
    status, body = get(
        tenant,
        "/v1.0/users",
        **{"$filter": "userPrincipalName eq 'sean.o''brien@contoso.example'"},
    )
    assert status == 200
    assert [u["displayName"] for u in body["value"]] == ["Sean O'Brien"]
    # an undoubled quote ends the literal early: the clause does not parse
    bad = get(tenant, "/v1.0/users", **{"$filter": "displayName eq 'Sean O'Brien'"})
    assert code_of(bad) == (400, "BadRequest")


def test_requests_and_instances_by_id(tenant: Tenant) -> None:
    body = body_for(tenant, "kim@contoso.example", "grp-open", scheduleInfo=after_duration("P30D"))
    status, made = post(tenant, ASSIGN, body)
    assert status == 201
    status, again = get(tenant, f"{ASSIGN}/{made['id']}")
    assert status == 200
    assert again["@odata.context"] == (
        "http://emulator/v1.0/$metadata#identityGovernance/privilegedAccess/group/"
        "assignmentScheduleRequests/$entity"
    )
    assert {k: again[k] for k in ("id", "action", "status", "targetScheduleId")} == {
        "id": made["id"],
        "action": "adminAssign",
        "status": "Provisioned",
        "targetScheduleId": made["targetScheduleId"],
    }
    gid = tenant.id_of("grp-open")
    status, listed = get(
        tenant, f"{PAG}/assignmentScheduleInstances", **{"$filter": f"groupId eq '{gid}'"}
    )
    (instance,) = listed["value"]
    status, one = get(tenant, f"{PAG}/assignmentScheduleInstances/{instance['id']}")
    assert status == 200
    assert {k: v for k, v in one.items() if k != "@odata.context"} == instance
    assert one["assignmentScheduleId"] == made["targetScheduleId"]
    missing = "00000000-0000-0000-0000-000000000000"
    assert code_of(get(tenant, f"{ASSIGN}/{missing}")) == (404, "ResourceNotFound")
    assert code_of(get(tenant, f"{PAG}/assignmentScheduleInstances/{missing}")) == (
        404,
        "ResourceNotFound",
    )


def test_a_permanent_membership_made_outside_pim_has_null_start_and_end() -> None:
    data: dict[str, Any] = small_fixture()
    data["schedules"].append(
        {
            "group": "grp-open",
            "access": "member",
            "kind": "active",
            "principal": "kim@contoso.example",
            "created": "-P100D",
            "start": None,
        }
    )
    tenant = load_tenant(data)
    gid = tenant.id_of("grp-open")
    status, body = get(
        tenant, f"{PAG}/assignmentScheduleInstances", **{"$filter": f"groupId eq '{gid}'"}
    )
    assert status == 200
    (row,) = body["value"]
    assert (row["startDateTime"], row["endDateTime"]) == (None, None)
    assert row["principalId"] == tenant.id_of("kim@contoso.example")


def test_get_by_ids_takes_at_most_1000_ids(tenant: Tenant) -> None:
    url = "/v1.0/directoryObjects/getByIds"
    alex = tenant.id_of("alex@contoso.example")
    ids = [alex] + [f"00000000-0000-0000-0000-{n:012d}" for n in range(999)]
    status, body = post(tenant, url, {"ids": ids})
    assert status == 200 and [o["id"] for o in body["value"]] == [alex]
    status, body = post(tenant, url, {"ids": [*ids, alex]})
    assert (status, body["error"]["code"]) == (400, "BadRequest")
