"""The pieces under `doctor` and `license_missing`: assignedPlans decoding, the emulator's
users, the permission table, and no extra round trip for reading licences."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from reconciler.desired.model import PrincipalType
from reconciler.emulator.app import create_app
from reconciler.emulator.fixture import dump_tenant, load_tenant
from reconciler.graph import decode, urls
from reconciler.graph.permissions import (
    BROAD_WRITE,
    POLICY_WRITE,
    missing_permissions,
    required_permissions,
)
from reconciler.plan.licences import PIM_SERVICE_PLANS, licensed_for_pim
from reconciler.targets import Target, open_backend
from tests.conftest import ROOT
from tests.doctor.test_doctor import GOVERNANCE, P2, plan_, tenant


def test_enabled_plans_keep_only_enabled_ones() -> None:
    plans = [plan_("Enabled"), plan_("Suspended", GOVERNANCE), plan_("Deleted", "x"),
             {"capabilityStatus": "Enabled"}]
    assert decode.enabled_plans(plans) == frozenset({P2})
    assert decode.enabled_plans([]) == frozenset()
    assert decode.enabled_plans(None) is None  # not read: unknown, not unlicensed
    user = decode.directory_object({"@odata.type": "#microsoft.graph.user", "id": "u1",
                                    "assignedPlans": [plan_("Enabled", GOVERNANCE.upper())]})
    assert user is not None and user.service_plans == frozenset({GOVERNANCE})
    group = decode.directory_object({"@odata.type": "#microsoft.graph.group", "id": "g1",
                                     "assignedPlans": []})
    assert group is not None and group.service_plans is None


def test_licence_table() -> None:
    assert set(PIM_SERVICE_PLANS) == {P2, GOVERNANCE}
    assert licensed_for_pim({P2.upper()}) and licensed_for_pim({"other", GOVERNANCE})
    assert not licensed_for_pim({"41781fb2-bc02-4b7c-bd55-b576c07bb09d"})  # P1 is not enough
    assert not licensed_for_pim(set())


def _get(app: Any, path: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as client:
            resp = await client.get(path)
            assert resp.status_code == 200, resp.text
            assert resp.headers["date"] == "Tue, 01 Dec 2026 12:00:00 GMT"  # tenant clock
            return resp.json()
    return asyncio.run(go())


def test_emulator_users_carry_assigned_plans_when_selected() -> None:
    t = load_tenant(tenant())
    app = create_app(t)
    plain = _get(app, "/v1.0/users")["value"]
    assert plain and all("assignedPlans" not in u for u in plain)  # not a default property
    rows = _get(app, "/v1.0/users?$select=userPrincipalName,assignedPlans")["value"]
    by_upn = {u["userPrincipalName"]: u["assignedPlans"] for u in rows}
    assert [p["servicePlanId"] for p in by_upn["p2@contoso.example"]] == [P2]  # the default
    assert by_upn["none@contoso.example"] == []
    assert by_upn["suspended@contoso.example"][0]["capabilityStatus"] == "Suspended"
    dumped = {u["userPrincipalName"]: u for u in dump_tenant(t)["users"]}
    assert "assignedPlans" not in dumped["p2@contoso.example"]  # the default stays implicit
    assert dumped["none@contoso.example"]["assignedPlans"] == []


def test_permission_table_per_command() -> None:
    plan_needs = {r.permission for r in required_permissions("plan", {"users", "eligible"})}
    assert plan_needs == {"PrivilegedEligibilitySchedule.Read.AzureADGroup",
                          "PrivilegedAssignmentSchedule.Read.AzureADGroup",
                          "RoleManagementPolicy.Read.AzureADGroup", "Group.Read.All",
                          "User.Read.All"}
    apply_needs = required_permissions("apply", {"users", "eligible", "active", "policies"})
    # the broad permission covers both schedule writes (and their reads), not the policy write
    granted = frozenset({BROAD_WRITE, "RoleManagementPolicy.Read.AzureADGroup",
                         "Directory.Read.All"})
    assert [r.permission for r in missing_permissions(granted, apply_needs)] == [POLICY_WRITE]
    without_policies = required_permissions("apply", {"users", "eligible", "active"})
    assert missing_permissions(granted, without_policies) == []
    assert all(r.source for r in apply_needs)


def test_reading_licences_costs_no_round_trip(monkeypatch: Any) -> None:
    """The plan's reads make as many requests with `assignedPlans` selected as without."""
    from reconciler.config import load_desired
    from reconciler.pipeline import read_state

    desired, _ = load_desired(str(ROOT / "examples" / "assignments"))
    assert desired is not None

    async def count() -> tuple[int, list[Any]]:
        target = Target(kind="emulator", emulator_file=str(ROOT / "examples" / "tenant.yaml"))
        async with open_backend(target) as backend:
            resolution, _live = await read_state(desired, backend)
            users = [o for objs in resolution.principals.values() for o in objs
                     if o.type is PrincipalType.USER]
            return backend.request_count, users

    with_plans, users = asyncio.run(count())
    assert users and all(u.service_plans == frozenset({P2}) for u in users)
    monkeypatch.setattr(urls, "USER_FIELDS", [f for f in urls.USER_FIELDS
                                              if f != "assignedPlans"])
    without_plans, users_without = asyncio.run(count())
    assert all(u.service_plans is None for u in users_without)
    assert with_plans == without_plans
