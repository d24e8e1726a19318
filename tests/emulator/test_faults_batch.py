"""Fault injection, `$batch` and the request log (graph-pim-reference.md 1.5, 1.6, 3.2, 6.5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from reconciler.clock import FixedClock
from reconciler.emulator.fixture import load_tenant
from reconciler.emulator.tenant import Tenant

from .helpers import PAG, after_duration, body_for, raw_client, run, sdk_client
from .test_rules import ELIG, get, post


def test_429_with_retry_after_then_sdk_retry_succeeds(tenant: Tenant) -> None:
    # Retry-After 0 is falsy to kiota, which then backs off ~3 s: answer 1 s
    tenant.add_fault("GET /users/*", status=429, retry_after=1, times=1)

    async def go() -> Any:
        return await sdk_client(tenant, retry=True).users.by_user_id("alex@contoso.example").get()

    user = run(go())
    assert user.display_name == "Alex Doe"
    assert [e.status for e in tenant.request_log] == [429, 200]


def test_429_answer_carries_code_and_header(tenant: Tenant) -> None:
    tenant.add_fault("GET */eligibilitySchedules", status=429, retry_after=7, times=1)

    async def go() -> Any:
        async with raw_client(tenant) as client:
            return await client.get(f"{PAG}/eligibilitySchedules?$filter=groupId eq 'x'")

    resp = run(go())
    assert (resp.status_code, resp.headers["retry-after"]) == (429, "7")
    assert resp.json()["error"]["code"] == "TooManyRequests"


def test_committed_then_503(tenant: Tenant) -> None:
    tenant.add_fault("POST */eligibilityScheduleRequests", kind="committed", status=503, times=1)
    body = body_for(tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P30D"))
    status, answer = post(tenant, ELIG, body)
    assert (status, answer["error"]["code"]) == (503, "ServiceUnavailable")
    assert tenant.accepted_writes() == 1
    kim = tenant.id_of("kim@contoso.example")
    assert any(
        s.principal_id == kim and s.member_type == "direct" for s in tenant.schedules.values()
    )
    # the retried POST finds the write already landed (reference 3.2)
    assert post(tenant, ELIG, body)[1]["error"]["code"] == "RoleAssignmentExists"


def test_201_with_status_failed_changes_nothing(tenant: Tenant) -> None:
    tenant.add_fault("POST */eligibilityScheduleRequests", kind="failed", times=1)
    body = body_for(tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P30D"))
    before = set(tenant.schedules)
    status, answer = post(tenant, ELIG, body)
    assert (status, answer["status"]) == (201, "Failed")
    assert set(tenant.schedules) == before
    assert tenant.accepted_writes() == 0
    assert post(tenant, ELIG, body)[1]["status"] == "Provisioned"
    assert tenant.accepted_writes() == 1


def test_404_resource_not_found_for_new_group(tenant: Tenant) -> None:
    tenant.add_fault(
        "POST */eligibilityScheduleRequests", status=404, code="ResourceNotFound", times=2
    )
    body = body_for(tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P30D"))
    assert [post(tenant, ELIG, body)[0] for _ in range(3)] == [404, 404, 201]


def test_visibility_lag(tenant: Tenant, clock: FixedClock) -> None:
    tenant.add_fault("POST */eligibilityScheduleRequests", kind="lag", seconds=30)
    body = body_for(tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P30D"))
    _, created = post(tenant, ELIG, body)
    url = f"{PAG}/eligibilitySchedules/{created['targetScheduleId']}"
    assert get(tenant, url)[0] == 404
    kim = tenant.id_of("kim@contoso.example")
    assert (
        get(
            tenant,
            f"{PAG}/eligibilitySchedules",
            **{"$filter": f"principalId eq '{kim}' and memberType eq 'Direct'"},
        )[1]["value"]
        == []
    )
    clock.advance(timedelta(seconds=30))
    assert get(tenant, url)[0] == 200


def test_latency_fault_and_log_entries(tenant: Tenant) -> None:
    tenant.add_fault("GET /users", kind="latency", latency_ms=50, times=1)
    get(tenant, "/v1.0/users", **{"$select": "id"})
    entry = tenant.request_log[-1]
    assert (entry.method, entry.status) == ("GET", 200)
    assert entry.path == "/v1.0/users?%24select=id"
    assert entry.latency_ms >= 50


def test_fault_from_fixture(tenant: Tenant) -> None:
    from .helpers import small_fixture

    data = small_fixture()
    data["faults"] = [
        {"match": "GET /users*", "status": 403, "code": "Authorization_RequestDenied"}
    ]
    faulty = load_tenant(data)
    assert get(faulty, "/v1.0/users")[1]["error"]["code"] == "Authorization_RequestDenied"
    assert get(faulty, "/v1.0/users")[0] == 403  # no `times`: every request


def test_batch_per_item_status(tenant: Tenant) -> None:
    gid = tenant.id_of("grp-app")
    body = {
        "requests": [
            {
                "id": "1",
                "method": "GET",
                "url": "/identityGovernance/privilegedAccess/group/eligibilitySchedules"
                f"?$filter=groupId eq '{gid}'",
            },
            {"id": "2", "method": "GET", "url": "/users/ghost@contoso.example"},
            {
                "id": "3",
                "method": "POST",
                "url": "/identityGovernance/privilegedAccess/group/eligibilityScheduleRequests",
                "headers": {"Content-Type": "application/json"},
                "body": body_for(
                    tenant, "kim@contoso.example", "grp-app", scheduleInfo=after_duration("P30D")
                ),
            },
        ]
    }
    status, answer = post(tenant, "/v1.0/$batch", body)
    assert status == 200
    by_id = {r["id"]: r for r in answer["responses"]}
    assert by_id["1"]["status"] == 200 and len(by_id["1"]["body"]["value"]) == 3
    assert (by_id["2"]["status"], by_id["2"]["body"]["error"]["code"]) == (
        404,
        "Request_ResourceNotFound",
    )
    assert (by_id["3"]["status"], by_id["3"]["body"]["status"]) == (201, "Provisioned")
    assert tenant.accepted_writes() == 1
    outer = [e for e in tenant.request_log if not e.batch_item]
    assert [e.path for e in outer] == ["/v1.0/$batch"]
    assert len([e for e in tenant.request_log if e.batch_item]) == 3


def test_batch_of_21_is_refused_and_per_item_429(tenant: Tenant) -> None:
    items = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]
    status, answer = post(tenant, "/v1.0/$batch", {"requests": items})
    assert (status, answer["error"]["code"]) == (400, "BadRequest")
    tenant.add_fault("GET /users", status=429, retry_after=3, times=1)
    status, answer = post(tenant, "/v1.0/$batch", {"requests": items[:20]})
    assert status == 200
    statuses = [r["status"] for r in answer["responses"]]
    assert statuses.count(429) == 1 and statuses.count(200) == 19
    throttled = next(r for r in answer["responses"] if r["status"] == 429)
    assert throttled["headers"]["Retry-After"] == "3"
