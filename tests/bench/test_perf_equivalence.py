"""The performance changes made for the scale benchmarks answer exactly as before.

- `Urls` caches URL shapes: every cached URL equals the request builder's own expansion.
- `IndexedTable` keeps its index right through inserts, replacements and deletes.
- Filtered emulator lists narrowed through the indexes answer what a full scan answers.
"""

from __future__ import annotations

import httpx
import pytest
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.identity_governance.privileged_access.group.assignment_schedules.assignment_schedules_request_builder import (  # noqa: E501
    AssignmentSchedulesRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from reconciler.desired.model import Kind
from reconciler.emulator import odata
from reconciler.emulator.fixture import load_tenant
from reconciler.emulator.router import Call, dispatch
from reconciler.emulator.state import Schedule, User
from reconciler.emulator.tenant import IndexedTable, Tenant
from reconciler.graph.transport import GraphHttp
from reconciler.graph.urls import GROUP_FIELDS, USER_FIELDS, Urls, quote

AWKWARD = ["plain-id_1.x~", "o'brien@contoso.example", "Team A & B/ü 100%", "x+y=z?#",
           "zqsentinelzero0zq", "", "'", "%41", "\ue000 𝔘"]


@pytest.fixture
def urls() -> Urls:
    http = GraphHttp("http://graph.invalid/v1.0", AnonymousAuthenticationProvider(),
                     httpx.AsyncHTTPTransport())
    return Urls(http)


@pytest.mark.parametrize("value", AWKWARD)
def test_cached_urls_equal_the_builders_expansion(urls: Urls, value: str) -> None:
    for _ in range(2):  # first call fills the cache, second uses it
        assert urls.users_by_upn(value) == urls._rel(
            UsersRequestBuilder, filter=f"userPrincipalName eq {quote(value)}",
            select=USER_FIELDS)
        assert urls.groups_by_name(value) == urls._rel(
            GroupsRequestBuilder, filter=f"displayName eq {quote(value)}", select=GROUP_FIELDS)
        assert urls.schedules(Kind.ACTIVE, value, value + "p") == urls._rel(
            AssignmentSchedulesRequestBuilder,
            filter=f"groupId eq {quote(value)} and principalId eq {quote(value + 'p')}")


def test_cached_url_shape_for_a_guid(urls: Urls) -> None:
    gid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert urls.schedules(Kind.ELIGIBLE, gid) == (
        "/identityGovernance/privilegedAccess/group/eligibilitySchedules"
        f"?$filter=groupId%20eq%20%27{gid}%27")


def _sched(sid: str, group: str, principal: str) -> Schedule:
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Schedule(sid, "eligible", group, "member", principal, at, at, None)


def test_indexed_table_tracks_inserts_replacements_and_deletes() -> None:
    table: IndexedTable = IndexedTable(("group_id", "principal_id"))
    table["a"] = _sched("a", "G1", "p1")
    table["b"] = _sched("b", "g1", "p2")
    table.setdefault("c", _sched("c", "g2", "p1"))
    assert [s.id for s in table.with_value("group_id", "G1")] == ["a", "b"]
    table["a"] = _sched("a", "g2", "p1")  # replaced under the same key
    assert [s.id for s in table.with_value("group_id", "g1")] == ["b"]
    assert sorted(s.id for s in table.with_value("group_id", "g2")) == ["a", "c"]
    del table["c"]
    assert table.pop("b").id == "b" and table.pop("zz", None) is None
    table.update({"d": _sched("d", "g3", "p9")})
    assert [s.id for s in table.with_value("principal_id", "P1")] == ["a"]
    assert [s.id for s in table.with_value("group_id", "g3")] == ["d"]
    assert dict(table) == {"a": table["a"], "d": table["d"]}
    table.clear()
    assert table.with_value("group_id", "g2") == [] and not table


def _tenant() -> Tenant:
    users = [{"userPrincipalName": f"u{i}@contoso.example", "displayName": f"Same {i % 2}"}
             for i in range(6)]
    groups = [{"displayName": "grp-a"}, {"displayName": "GRP-A"}, {"displayName": "grp-b"}]
    schedules = [{"group": "grp-b", "access": "member", "kind": "eligible",
                  "principal": f"u{i}@contoso.example", "end": "P10D"} for i in range(4)]
    return load_tenant({"now": "2026-12-01T12:00:00Z", "users": users,
                        "groups": groups, "schedules": schedules})


def _list(tenant: Tenant, path: str, flt: str) -> list[str]:
    call = Call("GET", path, f"$filter={flt}", None, {}, "http://h")
    answer = dispatch(tenant, call)
    assert answer.status == 200, answer.body
    return [r["id"] for r in answer.body["value"]]


def _scan(tenant: Tenant, rows: list[dict], flt: str) -> list[str]:
    tree = odata.parse_filter(flt)
    return [r["id"] for r in sorted(rows, key=lambda r: r["id"]) if odata.matches(tree, r)]


@pytest.mark.parametrize("flt", [
    "displayName eq 'Same 1'",
    "displayName eq 'same 0' and userPrincipalName eq 'U2@contoso.example'",
    "displayName eq 'Same 1' or userPrincipalName eq 'u2@contoso.example'",
])
def test_indexed_user_lists_answer_like_a_scan(flt: str) -> None:
    tenant = _tenant()
    rows = [{"id": u.id, "displayName": u.display_name,
             "userPrincipalName": u.user_principal_name} for u in tenant.users.values()]
    assert _list(tenant, "/users", flt) == _scan(tenant, rows, flt)


def test_ne_is_refused_as_graph_does_without_an_advanced_query() -> None:
    call = Call("GET", "/users", "$filter=userPrincipalName ne 'u2@contoso.example'", None, {},
                "http://h")
    answer = dispatch(_tenant(), call)
    assert answer.status == 400 and answer.body["error"]["code"] == "BadRequest"
    assert "'ne' operator" in answer.body["error"]["message"]


def test_group_names_match_without_regard_to_case() -> None:
    tenant = _tenant()
    assert len(_list(tenant, "/groups", "displayName eq 'grp-a'")) == 2


def test_schedule_lists_by_group_and_principal_answer_like_a_scan() -> None:
    tenant = _tenant()
    gid = tenant.id_of("grp-b")
    pid = tenant.id_of("u1@contoso.example")
    path = "/identityGovernance/privilegedAccess/group/eligibilitySchedules"
    every = sorted(tenant.schedules)
    assert _list(tenant, path, f"groupId eq '{gid.upper()}'") == every
    assert _list(tenant, path, f"principalId eq '{pid}' and groupId eq '{gid}'") == [
        s.id for s in tenant.schedules.values() if s.principal_id == pid]
    tenant.users[pid] = User(pid, "renamed@contoso.example", "Renamed")
    assert _list(tenant, "/users", "userPrincipalName eq 'renamed@contoso.example'") == [pid]
    assert _list(tenant, "/users", "userPrincipalName eq 'u1@contoso.example'") == []
