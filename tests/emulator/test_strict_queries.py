"""Query answers no more lenient than Graph's: `$select`, `$top`, `ne`, `$orderby`, and
`activatedUsing` (reference 1.3; emulator/query.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.clock import FixedClock
from reconciler.emulator.tenant import Tenant

from .helpers import PAG, after_duration, body_for
from .test_rules import ASSIGN, code_of, get, post


def _message(answer: tuple[int, dict]) -> tuple[int, str]:
    return answer[0], answer[1]["error"]["message"]


@pytest.mark.parametrize(
    ("url", "type_name"),
    [
        (f"{PAG}/eligibilitySchedules", "privilegedAccessGroupEligibilitySchedule"),
        (f"{PAG}/assignmentScheduleInstances", "privilegedAccessGroupAssignmentScheduleInstance"),
        (f"{PAG}/assignmentScheduleRequests", "privilegedAccessGroupAssignmentScheduleRequest"),
        ("/v1.0/users", "user"),
    ],
)
def test_unknown_select_is_400_naming_the_property(
    tenant: Tenant, url: str, type_name: str
) -> None:
    gid = tenant.id_of("grp-app")
    params = {"$select": "id,nickName"}
    if "/users" not in url:
        params["$filter"] = f"groupId eq '{gid}'"
    assert _message(get(tenant, url, **params)) == (
        400,
        f"Could not find a property named 'nickName' on type 'microsoft.graph.{type_name}'.",
    )


def test_select_is_case_insensitive_and_named_in_the_context_url(tenant: Tenant) -> None:
    gid = tenant.id_of("grp-app")
    status, body = get(
        tenant,
        f"{PAG}/eligibilitySchedules",
        **{"$filter": f"groupId eq '{gid}'", "$select": "PrincipalId,id"},
    )
    assert status == 200
    assert body["@odata.context"] == (
        "http://emulator/v1.0/$metadata#identityGovernance/privilegedAccess/group/"
        "eligibilitySchedules(PrincipalId,id)"
    )
    assert {frozenset(row) for row in body["value"]} == {frozenset({"id", "principalId"})}


def test_top_zero_is_an_empty_page_and_negative_top_is_400(tenant: Tenant) -> None:
    status, body = get(tenant, "/v1.0/users", **{"$top": "0"})
    assert (status, body["value"], "@odata.nextLink" in body) == (200, [], False)
    assert _message(get(tenant, "/v1.0/users", **{"$top": "-1"})) == (
        400,
        "Invalid $top value '-1'.",
    )
    status, body = get(tenant, "/v1.0/users", **{"$top": "2"})
    assert len(body["value"]) == 2 and "@odata.nextLink" in body


def test_ne_only_where_the_resource_page_lists_it(tenant: Tenant) -> None:
    gid = tenant.id_of("grp-app")
    alex = tenant.id_of("alex@contoso.example")
    ok = get(
        tenant,
        f"{PAG}/eligibilitySchedules",
        **{"$filter": f"groupId eq '{gid}' and status ne 'Revoked'"},
    )
    assert ok[0] == 200 and len(ok[1]["value"]) == 3
    refused = get(
        tenant,
        f"{PAG}/eligibilitySchedules",
        **{"$filter": f"groupId eq '{gid}' and principalId ne '{alex}'"},
    )
    assert _message(refused) == (
        400,
        "Invalid filter clause: the 'ne' operator is not supported on 'principalId' here.",
    )


def test_orderby_sorts_requests_and_refuses_unknown_properties(
    tenant: Tenant, clock: FixedClock
) -> None:
    gid = tenant.id_of("grp-open")
    made = []
    for principal in ("kim@contoso.example", "sam@contoso.example"):
        body = body_for(tenant, principal, "grp-open", scheduleInfo=after_duration("P30D"))
        status, answer = post(tenant, ASSIGN, body)
        assert status == 201, answer
        made.append(answer["id"])
        clock.advance(timedelta(minutes=1))
    url = f"{PAG}/assignmentScheduleRequests"
    flt = f"groupId eq '{gid}'"
    newest_first = get(tenant, url, **{"$filter": flt, "$orderby": "createdDateTime desc"})
    assert [r["id"] for r in newest_first[1]["value"]] == made[::-1]
    oldest_first = get(tenant, url, **{"$filter": flt, "$orderby": "createdDateTime"})
    assert [r["id"] for r in oldest_first[1]["value"]] == made
    assert code_of(get(tenant, url, **{"$filter": flt, "$orderby": "shoeSize desc"})) == (
        400,
        "BadRequest",
    )
    assert _message(get(tenant, url, **{"$filter": flt, "$orderby": "createdDateTime up"})) == (
        400,
        "Invalid $orderby direction 'up'.",
    )


def test_activated_using_names_the_eligibility_of_an_activation(tenant: Tenant) -> None:
    gid = tenant.id_of("grp-app")
    alex = tenant.id_of("alex@contoso.example")
    eligibility = next(
        s
        for s in tenant.schedules.values()
        if s.kind == "eligible" and s.principal_id == alex and s.group_id == gid
    )
    for collection, key in (("assignmentSchedules", None), ("assignmentScheduleInstances", 1)):
        status, body = get(
            tenant,
            f"{PAG}/{collection}",
            **{"$filter": f"groupId eq '{gid}'", "$expand": "activatedUsing"},
        )
        assert status == 200
        rows = {r["principalId"]: r for r in body["value"]}
        activation = rows[alex]
        assert activation["assignmentType"] == "Activated"
        linked = activation["activatedUsing"]
        if key is None:  # a schedule links the eligibility schedule
            assert linked["id"] == eligibility.id and "scheduleInfo" in linked
        else:  # an instance links the eligibility instance
            assert linked["eligibilityScheduleId"] == eligibility.id
            assert "scheduleInfo" not in linked
        assigned = rows[tenant.id_of("sam@contoso.example")]
        assert assigned["assignmentType"] == "Assigned" and assigned["activatedUsing"] is None


def test_expand_of_an_unknown_navigation_property_is_400(tenant: Tenant) -> None:
    gid = tenant.id_of("grp-app")
    answer = get(
        tenant,
        f"{PAG}/eligibilitySchedules",
        **{"$filter": f"groupId eq '{gid}'", "$expand": "manager"},
    )
    assert _message(answer) == (400, "Could not find a property named 'manager' to expand.")
