"""`$filter=… in (…)` on the directory lists, with Graph's 15-value limit (reference 1.7)."""

from __future__ import annotations

from reconciler.emulator.fixture import load_tenant
from reconciler.emulator.tenant import Tenant

from .helpers import PAG, small_fixture
from .test_rules import get


def _quoted(values: list[str]) -> str:
    return ",".join("'" + v.replace("'", "''") + "'" for v in values)


def test_users_in_list_match_without_regard_to_case(tenant: Tenant) -> None:
    names = ["ALEX@contoso.example", "kim@contoso.example", "nobody@x"]
    flt = f"userPrincipalName in ({_quoted(names)})"
    status, body = get(tenant, "/v1.0/users", **{"$filter": flt})
    assert status == 200
    assert sorted(u["userPrincipalName"] for u in body["value"]) == [
        "alex@contoso.example",
        "kim@contoso.example",
    ]


def test_fifteen_values_pass_and_a_sixteenth_is_refused(tenant: Tenant) -> None:
    names = [f"u{n}@contoso.example" for n in range(14)] + ["sam@contoso.example"]
    status, body = get(
        tenant, "/v1.0/users", **{"$filter": f"userPrincipalName in ({_quoted(names)})"}
    )
    assert status == 200 and [u["displayName"] for u in body["value"]] == ["Sam Roe"]
    status, body = get(
        tenant, "/v1.0/users", **{"$filter": f"userPrincipalName in ({_quoted([*names, 'x@y'])})"}
    )
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")
    assert body["error"]["message"] == "Too many values in an 'in' clause: 16 (at most 15)."


def test_groups_and_service_principals_in_lists(tenant: Tenant) -> None:
    status, body = get(
        tenant,
        "/v1.0/groups",
        **{"$filter": f"displayName in ({_quoted(['grp-app', 'GRP-OPEN'])})"},
    )
    assert sorted(g["displayName"] for g in body["value"]) == ["grp-app", "grp-open"]
    app_id = "00000000-0000-0000-0000-0000000000a1"
    status, body = get(tenant, "/v1.0/servicePrincipals", **{"$filter": f"appId in ('{app_id}')"})
    assert status == 200
    assert [s["displayName"] for s in body["value"]] == ["deploy-pipeline"]


def test_quotes_and_guest_upns_in_a_list() -> None:
    data = small_fixture()
    data["users"] += [
        {"userPrincipalName": "sean.o'brien@contoso.example", "displayName": "Sean"},
        {"userPrincipalName": "ext_fabrikam.com#EXT#@contoso.example", "displayName": "Guest"},
    ]
    tenant = load_tenant(data)
    values = ["sean.o'brien@contoso.example", "ext_fabrikam.com#EXT#@contoso.example"]
    # httpx percent-encodes '#' in the query value, as a client must (reference 1.7)
    status, body = get(
        tenant, "/v1.0/users", **{"$filter": f"userPrincipalName in ({_quoted(values)})"}
    )
    assert status == 200
    assert sorted(u["displayName"] for u in body["value"]) == ["Guest", "Sean"]


def test_in_is_refused_where_the_reference_does_not_list_it(tenant: Tenant) -> None:
    gid = tenant.id_of("grp-app")
    status, body = get(
        tenant, f"{PAG}/eligibilitySchedules", **{"$filter": f"groupId in ('{gid}')"}
    )
    assert status == 400
    status, body = get(tenant, "/v1.0/users", **{"$filter": "displayName in ('Alex Doe')"})
    assert body["error"]["message"] == (
        "Invalid filter clause: the 'in' operator is not supported on 'displayName' here."
    )
    status, body = get(tenant, "/v1.0/users", **{"$filter": "userPrincipalName in ()"})
    assert (status, body["error"]["code"]) == (400, "BadRequest")
