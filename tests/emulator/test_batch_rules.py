"""`$batch` ids, `dependsOn`, order and bodies as DOC-Batch describes them (reference 1.5;
emulator/batch.py)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.emulator.tenant import Tenant

from .helpers import after_duration, body_for
from .test_rules import post

BATCH = "/v1.0/$batch"
ELIG_URL = "/identityGovernance/privilegedAccess/group/eligibilityScheduleRequests"


def _assign(tenant: Tenant, rid: str, principal: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "method": "POST",
        "url": ELIG_URL,
        "headers": {"Content-Type": "application/json"},
        "body": body_for(tenant, principal, "grp-app", scheduleInfo=after_duration("P30D")),
        **extra,
    }


def _error(answer: tuple[int, dict[str, Any]]) -> tuple[int, str, str]:
    status, body = answer
    return status, body["error"]["code"], body["error"]["message"]


@pytest.mark.parametrize("second", ["a", "A"])
def test_duplicate_ids_fail_the_whole_batch(tenant: Tenant, second: str) -> None:
    items = [
        {"id": "a", "method": "GET", "url": "/users"},
        _assign(tenant, second, "kim@contoso.example"),
    ]
    assert _error(post(tenant, BATCH, {"requests": items})) == (
        400,
        "BadRequest",
        f"The batch request contains a duplicate id '{second}'.",
    )
    assert tenant.accepted_writes() == 0  # nothing of a refused batch runs


def test_depends_on_a_failed_request_answers_424_and_does_not_run(tenant: Tenant) -> None:
    items = [
        # alex already holds this eligibility: RoleAssignmentExists
        _assign(tenant, "1", "alex@contoso.example"),
        _assign(tenant, "2", "kim@contoso.example", dependsOn=["1"]),
        _assign(tenant, "3", "sam@contoso.example", dependsOn=["2"]),
    ]
    status, answer = post(tenant, BATCH, {"requests": items})
    assert status == 200
    by_id = {r["id"]: r for r in answer["responses"]}
    assert (by_id["1"]["status"], by_id["1"]["body"]["error"]["code"]) == (
        400,
        "RoleAssignmentExists",
    )
    assert [(by_id[i]["status"], by_id[i]["body"]["error"]["code"]) for i in "23"] == [
        (424, "FailedDependency"),
        (424, "FailedDependency"),  # a failed dependency fails its dependants in turn
    ]
    assert tenant.accepted_writes() == 0


def test_depends_on_runs_in_dependency_order_whatever_the_listing(tenant: Tenant) -> None:
    tenant.pin_variants({"batch_order": "reversed"})
    items = [
        _assign(tenant, "late", "sam@contoso.example", dependsOn=["early"]),
        _assign(tenant, "early", "kim@contoso.example"),
    ]
    status, answer = post(tenant, BATCH, {"requests": items})
    assert status == 200
    assert [(r["id"], r["status"]) for r in answer["responses"]] == [
        ("early", 201),
        ("late", 201),
    ]
    writes = [e.path for e in tenant.request_log if e.batch_item]
    assert len(writes) == 2


@pytest.mark.parametrize(
    ("depends", "message"),
    [
        (
            ["ghost"],
            "The dependsOn id 'ghost' of request 2 does not name another request of this batch.",
        ),
        (["2"], "The dependsOn id '2' of request 2 does not name another request of this batch."),
        ("1", "dependsOn must be an array of request ids."),
    ],
)
def test_bad_depends_on_fails_the_whole_batch(
    tenant: Tenant, depends: object, message: str
) -> None:
    items = [
        {"id": "1", "method": "GET", "url": "/users"},
        {"id": "2", "method": "GET", "url": "/users", "dependsOn": depends},
    ]
    assert _error(post(tenant, BATCH, {"requests": items})) == (400, "BadRequest", message)


def test_cycles_and_mixed_sequencing_are_refused(tenant: Tenant) -> None:
    cycle = [
        {"id": "1", "method": "GET", "url": "/users", "dependsOn": ["2"]},
        {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]},
    ]
    assert _error(post(tenant, BATCH, {"requests": cycle}))[2] == (
        "The dependsOn ids of this batch form a cycle."
    )
    mixed = [
        {"id": "1", "method": "GET", "url": "/users"},
        {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": "/users"},
    ]
    assert _error(post(tenant, BATCH, {"requests": mixed}))[2] == (
        "Batch should be either fully sequential or fully parallel."
    )


@pytest.mark.parametrize(("order", "expected"), [("in_order", "123"), ("reversed", "321")])
def test_batch_order_switch_runs_and_lists_responses_in_that_order(
    tenant: Tenant, order: str, expected: str
) -> None:
    tenant.pin_variants({"batch_order": order})
    items = [{"id": i, "method": "GET", "url": "/users"} for i in "123"]
    status, answer = post(tenant, BATCH, {"requests": items})
    assert status == 200
    assert "".join(r["id"] for r in answer["responses"]) == expected


def test_body_without_content_type_is_refused_on_its_own(tenant: Tenant) -> None:
    item = _assign(tenant, "1", "kim@contoso.example")
    del item["headers"]
    items = [item, {"id": "2", "method": "GET", "url": "/users"}]
    status, answer = post(tenant, BATCH, {"requests": items})
    assert status == 200
    by_id = {r["id"]: r for r in answer["responses"]}
    assert (by_id["1"]["status"], by_id["1"]["body"]["error"]["message"]) == (
        400,
        "A request with a body needs a Content-Type header.",
    )
    assert by_id["2"]["status"] == 200
    assert tenant.accepted_writes() == 0
