"""End-to-end tests of the Graph adapter against the emulator, through the real SDK
(msgraph-sdk adapter + middleware over httpx.ASGITransport, and once over loopback HTTP)."""

from __future__ import annotations

import json
import math
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.desired.model import Access, Kind, PrincipalRef, PrincipalType
from reconciler.graph.errors import ReadIncompleteError
from reconciler.live.model import AssignmentType, MemberType
from reconciler.plan.changes import Action, Change, GraphAction
from reconciler.problems import Code
from reconciler.targets import Target, open_backend

from .helpers import NOW, FakeSleeper

pytestmark = pytest.mark.anyio

APP_ID = "00000000-0000-0000-0000-0000000000a1"


def base_fixture(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "now": "2026-12-01T12:00:00Z",
        "users": [
            {"userPrincipalName": "alex@contoso.example", "displayName": "Alex Doe"},
            {"userPrincipalName": "bo@contoso.example", "displayName": "Bo Lee"},
        ],
        "groups": [
            {"displayName": "grp-app"},
            {"displayName": "grp-dup", "id": "d0000000-0000-0000-0000-000000000001"},
            {"displayName": "grp-dup", "id": "d0000000-0000-0000-0000-000000000002"},
            {"displayName": "grp-dyn", "groupTypes": ["DynamicMembership"]},
            {"displayName": "grp-sync", "onPremisesSyncEnabled": True},
        ],
        "servicePrincipals": [{"displayName": "deploy-pipeline", "appId": APP_ID}],
        "schedules": [],
    }
    data.update(extra)
    return data


@asynccontextmanager
async def emulated(tmp_path: Path, fixture: dict[str, Any], *, save: bool = False):
    """open_backend on an emulator file written from `fixture`, with fake sleep/timer."""
    path = tmp_path / "tenant.yaml"
    path.write_text(yaml.safe_dump(fixture))
    sleeper = FakeSleeper()
    async with open_backend(Target(kind="emulator", emulator_file=str(path)),
                            clock=sleeper.clock, save_state=save, sleep=sleeper.sleep,
                            timer=sleeper.timer) as backend:
        backend.sleeper = sleeper  # type: ignore[attr-defined]
        yield backend


def top_level(tenant: Any) -> list[Any]:
    """Request-log entries of real HTTP requests (not `$batch` sub-requests)."""
    return [e for e in tenant.request_log if not e.batch_item]


def sched(group: str, principal: str, kind: str = "eligible", **kw: Any) -> dict[str, Any]:
    row = {"group": group, "access": "member", "kind": kind, "principal": principal,
           "created": "-P20D", "end": "P10D"}
    row.update(kw)
    return row


def change(backend: Any, **kw: Any) -> Change:
    tenant = backend.tenant
    base: dict[str, Any] = dict(
        action=Action.CREATE, graph_action=GraphAction.ADMIN_ASSIGN,
        group_id=tenant.id_of("grp-app"), group="grp-app", access=Access.MEMBER,
        kind=Kind.ELIGIBLE, principal_id=tenant.id_of("alex@contoso.example"),
        principal="alex@contoso.example", principal_type=PrincipalType.USER,
        reason="declared", duration="P90D", end=NOW + timedelta(days=90),
        justification="declared in git")
    base.update(kw)
    return Change(**base)


def pim_rows(tenant: Any, principal: str) -> list[Any]:
    pid = tenant.id_of(principal)
    return [s for s in tenant.schedules.values() if s.principal_id == pid]


# --- reads ------------------------------------------------------------------------------

async def test_read_follows_next_links_over_several_pages(tmp_path: Path) -> None:
    users = [{"userPrincipalName": f"u{i}@contoso.example"} for i in range(7)]
    rows = [sched("grp-app", f"u{i}@contoso.example") for i in range(7)]
    rows += [sched("grp-app", f"u{i}@contoso.example", kind="active", end="P3D")
             for i in range(3)]
    async with emulated(tmp_path, base_fixture(users=users, schedules=rows,
                                                page_size=2)) as backend:
        gid = backend.tenant.id_of("grp-app")
        live = await backend.read([gid])
    eligible = [s for s in live.schedules if s.kind is Kind.ELIGIBLE]
    active = [s for s in live.schedules if s.kind is Kind.ACTIVE]
    assert len(eligible) == 7 and len(active) == 3
    assert {s.principal_id for s in eligible} == {backend.tenant.id_of(u["userPrincipalName"])
                                                  for u in users}
    assert all(s.end == NOW + timedelta(days=10) for s in eligible)
    assert set(live.policies) == {(gid, Access.MEMBER), (gid, Access.OWNER)}
    assert {p.name for p in live.principals.values()} == {u["userPrincipalName"] for u in users}
    pages = [e for e in backend.tenant.request_log
             if e.batch_item and "eligibilitySchedules" in e.path]
    assert len(pages) == 4  # ceil(7 / 2) pages, each a sub-request


async def test_reads_are_batched_for_many_groups(tmp_path: Path) -> None:
    groups = [{"displayName": f"grp-{n:02d}"} for n in range(25)]
    rows = [sched(f"grp-{n:02d}", "alex@contoso.example") for n in range(25)]
    async with emulated(tmp_path, base_fixture(groups=groups, schedules=rows)) as backend:
        gids = [backend.tenant.id_of(g["displayName"]) for g in groups]
        before = backend.request_count
        live = await backend.read(gids)
        used = backend.request_count - before
    assert len(live.schedules) == 25 and len(live.policies) == 50
    # 3 reads per group in ceil(75/20) = 4 envelopes, plus one principal lookup envelope
    assert used <= math.ceil(3 * 25 / 20) + 1
    posts = [e for e in top_level(backend.tenant) if e.path.endswith("/$batch")]
    assert len(posts) == used and len(top_level(backend.tenant)) == used


async def test_throttled_item_in_batch_is_retried_after_retry_after(tmp_path: Path) -> None:
    rows = [sched("grp-app", "alex@contoso.example")]
    async with emulated(tmp_path, base_fixture(schedules=rows)) as backend:
        backend.tenant.add_fault("GET */eligibilitySchedules", 429, retry_after=2, times=1)
        live = await backend.read([backend.tenant.id_of("grp-app")])
    assert len(live.schedules) == 1
    assert backend.sleeper.delays == [2]
    throttled = [e for e in backend.tenant.request_log if e.status == 429]
    assert len(throttled) == 1 and throttled[0].batch_item


async def test_endless_throttling_is_an_incomplete_read_not_a_partial_one(
        tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture()) as backend:
        backend.tenant.add_fault("GET */assignmentSchedules", 429, retry_after=60)
        with pytest.raises(ReadIncompleteError) as info:
            await backend.read([backend.tenant.id_of("grp-app")])
    assert info.value.status == 429


async def test_read_permission_denied_names_the_permission(tmp_path: Path) -> None:
    fixture = base_fixture(granted_permissions=[
        "PrivilegedAssignmentSchedule.Read.AzureADGroup",
        "RoleManagementPolicy.Read.AzureADGroup", "Directory.Read.All"])
    async with emulated(tmp_path, fixture) as backend:
        with pytest.raises(ReadIncompleteError) as info:
            await backend.read([backend.tenant.id_of("grp-app")])
    err = info.value
    assert err.status == 403 and err.code == "UnknownError"
    assert err.inner_code == "PermissionScopeNotGranted"
    assert "PrivilegedEligibilitySchedule.Read.AzureADGroup" in err.message


async def test_activated_and_inherited_rows_are_kept_and_marked(tmp_path: Path) -> None:
    rows = [
        sched("grp-app", "alex@contoso.example", kind="active", end="PT4H", start="-PT1H",
              assignmentType="activated"),
        sched("grp-app", "bo@contoso.example", kind="active", memberType="group"),
        sched("grp-app", "bo@contoso.example", kind="eligible", end=None),
    ]
    async with emulated(tmp_path, base_fixture(schedules=rows)) as backend:
        live = await backend.read([backend.tenant.id_of("grp-app")])
    by = {(s.kind, backend.tenant.directory_object(s.principal_id).user_principal_name):
          s for s in live.schedules}
    activated = by[(Kind.ACTIVE, "alex@contoso.example")]
    assert activated.assignment_type is AssignmentType.ACTIVATED and not activated.managed
    inherited = by[(Kind.ACTIVE, "bo@contoso.example")]
    assert inherited.member_type is MemberType.GROUP and not inherited.managed
    permanent = by[(Kind.ELIGIBLE, "bo@contoso.example")]
    assert permanent.end is None and permanent.managed
    assert len(live.fingerprint) == 64


# --- resolution -------------------------------------------------------------------------

async def test_resolve_lists_every_match(tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture()) as backend:
        t = backend.tenant
        sp_id = t.id_of("deploy-pipeline")
        refs = [
            PrincipalRef(PrincipalType.USER, "alex@contoso.example"),
            PrincipalRef(PrincipalType.USER, "nobody@contoso.example"),
            PrincipalRef(PrincipalType.SERVICE_PRINCIPAL, APP_ID),
            PrincipalRef(PrincipalType.SERVICE_PRINCIPAL, "deploy-pipeline"),
            PrincipalRef(PrincipalType.GROUP, "GRP-DUP"),
            PrincipalRef(PrincipalType.ID, t.id_of("bo@contoso.example")),
            PrincipalRef(PrincipalType.ID, "99999999-9999-9999-9999-999999999999"),
            PrincipalRef(PrincipalType.ID, "not-a-guid"),
        ]
        res = await backend.resolve(["grp-app", "grp-dup", "grp-missing", "grp-dyn",
                                     "grp-sync", t.id_of("grp-app")], refs)
    assert res.problems == ()
    assert [g.display_name for g in res.groups["grp-app"]] == ["grp-app"]
    assert len(res.groups["grp-dup"]) == 2
    assert res.groups["grp-missing"] == ()
    assert res.groups["grp-dyn"][0].unmanageable_reason == "it has dynamic membership"
    assert res.groups["grp-sync"][0].on_premises_sync_enabled
    assert res.groups[t.id_of("grp-app")][0].id == t.id_of("grp-app")
    p = res.principals
    assert [o.user_principal_name for o in p[refs[0]]] == ["alex@contoso.example"]
    assert p[refs[1]] == ()
    assert [o.id for o in p[refs[2]]] == [sp_id] and p[refs[2]][0].app_id == APP_ID
    assert [o.id for o in p[refs[3]]] == [sp_id]
    assert len(p[refs[4]]) == 2 and all(o.type is PrincipalType.GROUP for o in p[refs[4]])
    assert p[refs[5]][0].type is PrincipalType.USER
    assert p[refs[5]][0].user_principal_name == "bo@contoso.example"
    assert p[refs[6]] == () and p[refs[7]] == ()


async def test_resolve_permission_denied_is_not_not_found(tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture(granted_permissions=["Group.Read.All"])) as backend:
        ref = PrincipalRef(PrincipalType.USER, "alex@contoso.example")
        res = await backend.resolve(["grp-app"], [ref])
    assert ref not in res.principals
    assert len(res.groups["grp-app"]) == 1
    assert [p.code for p in res.problems] == [Code.PERMISSION_DENIED]
    assert "User.Read.All" in res.problems[0].message


async def test_names_go_fifteen_to_an_in_clause_and_sort_back_exactly(tmp_path: Path) -> None:
    from urllib.parse import unquote

    users = [{"userPrincipalName": f"u{n:02d}@contoso.example", "displayName": f"U {n}"}
             for n in range(40)]
    users += [{"userPrincipalName": "sean.o'brien@contoso.example", "displayName": "Sean"},
              {"userPrincipalName": "ext_fabrikam.com#EXT#@contoso.example",
               "displayName": "Guest"}]
    groups = [{"displayName": f"grp-{n:02d}"} for n in range(20)]
    fixture = base_fixture()
    fixture["users"] += users
    fixture["groups"] += groups
    async with emulated(tmp_path, fixture) as backend:
        refs = [PrincipalRef(PrincipalType.USER, u["userPrincipalName"].upper())
                for u in users] + [PrincipalRef(PrincipalType.USER, "ghost@contoso.example"),
                                   PrincipalRef(PrincipalType.GROUP, "grp-dup")]
        names = [g["displayName"] for g in groups] + ["grp-dup", "GRP-APP", "grp-missing"]
        res = await backend.resolve(names, refs)
        log = backend.tenant.request_log
    subs = [unquote(e.path) for e in log if e.batch_item]
    clauses = [p for p in subs if " in (" in p]
    # 42 UPNs + ghost = 43 -> 3 clauses; 20 + grp-dup + grp-app + grp-missing = 23 group names
    # (grp-dup named twice, once as a group, once as a principal) -> 2 clauses
    assert len(clauses) == len(subs) == 5
    for path in clauses:
        values = path.split(" in (", 1)[1].split(")&", 1)[0]
        assert values.count("','") + 1 <= 15
    assert len([e for e in log if not e.batch_item]) == 1  # one envelope
    assert res.problems == ()
    for ref, user in zip(refs, users, strict=False):
        assert [o.user_principal_name for o in res.principals[ref]] == [user["userPrincipalName"]]
    assert res.principals[refs[-2]] == ()
    assert len(res.principals[refs[-1]]) == 2  # ambiguous stays ambiguous
    assert [g.display_name for g in res.groups["GRP-APP"]] == ["grp-app"]
    assert len(res.groups["grp-dup"]) == 2 and res.groups["grp-missing"] == ()
    assert all(len(res.groups[f"grp-{n:02d}"]) == 1 for n in range(20))


# --- writes -----------------------------------------------------------------------------

async def test_assign_with_duration_is_applied_and_verified(tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture()) as backend:
        result = await backend.submit(change(backend, ticket_number="CHG-1",
                                             ticket_system="ServiceNow"))
        rows = pim_rows(backend.tenant, "alex@contoso.example")
        assert backend.tenant.accepted_writes() == 1
    assert (result.outcome, result.status, result.verified, result.attempts) == (
        "applied", "Provisioned", True, 1)
    assert result.schedule_id == rows[0].id and len(rows) == 1
    writes = [e for e in backend.tenant.request_log if e.action]
    assert [(e.action, e.status) for e in writes] == [("adminAssign", 201)]


async def test_503_after_committed_write_does_not_duplicate(tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture()) as backend:
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", kind="committed",
                                 status=503, times=1)
        result = await backend.submit(change(backend))
        assert backend.tenant.accepted_writes() == 1
        assert len(pim_rows(backend.tenant, "alex@contoso.example")) == 1
    assert result.outcome == "applied" and result.verified and result.attempts == 1
    posts = [e for e in top_level(backend.tenant) if e.method == "POST"]
    assert len(posts) == 1  # the re-read showed it in place: nothing resent


async def test_201_failed_then_success(tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture()) as backend:
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", kind="failed", times=1)
        result = await backend.submit(change(backend))
        assert len(pim_rows(backend.tenant, "alex@contoso.example")) == 1
    assert result.outcome == "applied" and result.attempts == 2 and result.verified
    assert result.status == "Provisioned"
    assert len(backend.sleeper.delays) == 1


async def test_resource_not_found_for_new_group_is_retried(tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture()) as backend:
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", 404,
                                 code="ResourceNotFound", times=2)
        result = await backend.submit(change(backend))
    assert result.outcome == "applied" and result.attempts == 3 and result.verified


async def test_replication_lag_is_polled_until_visible(tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture()) as backend:
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", kind="lag",
                                 seconds=20, times=1)
        result = await backend.submit(change(backend))
    assert result.outcome == "applied" and result.verified
    assert sum(backend.sleeper.delays) >= 20
    assert backend.tenant.accepted_writes() == 1


async def test_write_permission_denied_fails_with_typed_error(tmp_path: Path) -> None:
    fixture = base_fixture(granted_permissions=[
        "PrivilegedEligibilitySchedule.Read.AzureADGroup", "Directory.Read.All"])
    async with emulated(tmp_path, fixture) as backend:
        result = await backend.submit(change(backend))
        assert backend.tenant.accepted_writes() == 0
    assert result.outcome == "failed" and result.attempts == 1
    assert result.error is not None and result.error.status == 403
    assert result.error.inner_code == "PermissionScopeNotGranted"
    # the in-process target signed in: the token's roles are the file's granted_permissions
    assert await backend.granted_permissions() == frozenset({
        "PrivilegedEligibilitySchedule.Read.AzureADGroup", "Directory.Read.All"})


async def test_update_and_remove(tmp_path: Path) -> None:
    rows = [sched("grp-app", "alex@contoso.example", kind="active", end="P10D",
                  created="-P1D")]
    async with emulated(tmp_path, base_fixture(schedules=rows)) as backend:
        new_end = datetime(2027, 1, 31, tzinfo=UTC)
        upd = await backend.submit(change(backend, action=Action.UPDATE, kind=Kind.ACTIVE,
                                          graph_action=GraphAction.ADMIN_UPDATE,
                                          duration=None, end=new_end))
        live = pim_rows(backend.tenant, "alex@contoso.example")
        assert upd.outcome == "applied" and upd.verified
        assert [(s.kind, s.end) for s in live] == [("active", new_end)]
        backend.tenant.clock.advance(timedelta(minutes=5))  # PIM's five minutes from the update
        rm = await backend.submit(change(backend, action=Action.REMOVE, kind=Kind.ACTIVE,
                                         graph_action=GraphAction.ADMIN_REMOVE,
                                         duration=None, end=None))
        assert rm.outcome == "applied" and rm.verified and rm.status == "Revoked"
        again = await backend.submit(change(backend, action=Action.REMOVE, kind=Kind.ACTIVE,
                                            graph_action=GraphAction.ADMIN_REMOVE,
                                            duration=None, end=None))
    # RoleAssignmentDoesNotExist on a remove: verified absent, so done
    assert again.outcome == "applied" and again.verified and again.status is None


async def test_apply_saves_the_tenant_back(tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture(), save=True) as backend:
        result = await backend.submit(change(backend))
    assert result.outcome == "applied"
    saved = yaml.safe_load((tmp_path / "tenant.yaml").read_text())
    assert len(saved["schedules"]) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# --- loopback HTTP ----------------------------------------------------------------------

async def test_read_over_loopback_http(tmp_path: Path) -> None:
    from reconciler.emulator.fixture import load_tenant
    from reconciler.emulator.server import running_server

    rows = [sched("grp-app", "alex@contoso.example"),
            sched("grp-app", "bo@contoso.example", kind="active", end="P5D")]
    sleeper = FakeSleeper()
    tenant = load_tenant(base_fixture(schedules=rows, page_size=1), clock=sleeper.clock)
    with running_server(tenant) as url:
        assert url.startswith("http://127.0.0.1:")
        async with open_backend(Target(kind="url", graph_url=url), clock=sleeper.clock,
                                sleep=sleeper.sleep, timer=sleeper.timer) as backend:
            gid = tenant.id_of("grp-app")
            res = await backend.resolve(["grp-app"], [])
            live = await backend.read([gid])
    assert res.groups["grp-app"][0].id == gid
    assert sorted(s.kind for s in live.schedules) == [Kind.ACTIVE, Kind.ELIGIBLE]
    assert backend.tenant is None
    assert json.dumps(sorted(p.name for p in live.principals.values())) == json.dumps(
        ["alex@contoso.example", "bo@contoso.example"])


async def test_example_tenant_live_read_over_loopback() -> None:
    """The issue's done-when: the example tenant's live read through msgraph-sdk over
    loopback HTTP to a served emulator, the same code path as real Graph."""
    from reconciler.emulator.fixture import load_tenant
    from reconciler.emulator.server import running_server

    example = Path(__file__).resolve().parents[2] / "examples" / "tenant.yaml"
    sleeper = FakeSleeper()
    tenant = load_tenant(example, clock=sleeper.clock)
    names = sorted(g.display_name for g in tenant.groups.values())
    with running_server(tenant) as url:
        async with open_backend(Target(kind="url", graph_url=url), clock=sleeper.clock,
                                sleep=sleeper.sleep, timer=sleeper.timer) as backend:
            res = await backend.resolve(names, [])
            gids = [res.groups[n][0].id for n in names]
            live = await backend.read(gids)
            count = backend.request_count
    assert all(len(res.groups[n]) == 1 for n in names)
    visible = [s for s in tenant.schedules.values() if s.group_id in gids
               and (s.visible_from is None or s.visible_from <= sleeper.clock.now())]
    assert sorted(s.id for s in live.schedules) == sorted(s.id for s in visible)
    assert len(live.policies) == 2 * len(names)
    # resolution: ceil(G/20) envelopes; reads: ceil(3G/20) + one principal lookup
    assert count <= math.ceil(len(names) / 20) + math.ceil(3 * len(names) / 20) + 1


async def test_throttled_post_is_resent_only_after_a_reread(tmp_path: Path) -> None:
    async with emulated(tmp_path, base_fixture()) as backend:
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", 429, retry_after=5,
                                 times=1)
        result = await backend.submit(change(backend))
        assert backend.tenant.accepted_writes() == 1
    assert result.outcome == "applied" and result.attempts == 2 and result.verified
    assert backend.sleeper.delays[0] == 5
    kinds = [(e.method, e.status) for e in top_level(backend.tenant)]
    # POST 429, GET (re-read: absent), POST 201, GET (verify)
    assert kinds == [("POST", 429), ("GET", 200), ("POST", 201), ("GET", 200)]


async def test_role_assignment_exists_after_a_retry_means_verify(tmp_path: Path) -> None:
    """503 after commit, and the re-read does not see the new row yet (lag): the resend gets
    RoleAssignmentExists, which after a retry means "verify", not "failed"."""
    async with emulated(tmp_path, base_fixture()) as backend:
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", kind="committed",
                                 status=503, times=1)
        backend.tenant.add_fault("POST */eligibilityScheduleRequests", kind="lag",
                                 seconds=10, times=1)
        result = await backend.submit(change(backend))
        assert backend.tenant.accepted_writes() == 1
        assert len(pim_rows(backend.tenant, "alex@contoso.example")) == 1
    assert result.outcome == "applied" and result.verified and result.attempts == 2
    assert [e.status for e in top_level(backend.tenant) if e.method == "POST"] == [503, 400]


async def test_without_a_clock_the_emulator_keeps_its_file_clock(tmp_path: Path) -> None:
    path = tmp_path / "tenant.yaml"
    path.write_text(yaml.safe_dump(base_fixture(now="2027-03-04T05:06:07Z")))
    async with open_backend(Target(kind="emulator", emulator_file=str(path))) as backend:
        assert backend.clock.now() == datetime(2027, 3, 4, 5, 6, 7, tzinfo=UTC)
        assert backend.tenant.clock is backend.clock


async def test_group_lookups_go_first_and_fill_their_envelope(tmp_path: Path) -> None:
    """The split that lets reads start early (issue 15) costs no round trip: the groups'
    clauses lead the first envelope, principal clauses fill it, and `on_groups` gets every
    group before the principals' envelope is answered."""
    from urllib.parse import unquote

    users = [{"userPrincipalName": f"u{n:03d}@contoso.example", "displayName": f"U {n}"}
             for n in range(400)]  # 27 clauses of at most 15
    groups = [{"displayName": f"grp-{n:02d}"} for n in range(40)]  # 3 clauses
    fixture = base_fixture()
    fixture["users"] += users
    fixture["groups"] += groups
    seen: list[dict[str, Any]] = []
    async with emulated(tmp_path, fixture) as backend:
        refs = [PrincipalRef(PrincipalType.USER, u["userPrincipalName"]) for u in users]
        names = [g["displayName"] for g in groups]

        res = await backend.resolve(names, refs, on_groups=lambda found: seen.append(dict(found)))
        log = backend.tenant.request_log
    assert len([e for e in log if not e.batch_item]) == math.ceil(30 / 20) == 2
    assert seen == [res.groups]
    assert all(len(res.groups[n]) == 1 for n in names)
    assert all(len(res.principals[r]) == 1 for r in refs)
    envelopes: list[list[str]] = [[]]  # the emulator logs an envelope's items, then it
    for entry in log:
        if entry.batch_item:
            envelopes[-1].append(unquote(entry.path))
        else:
            envelopes.append([])
    with_groups = [env for env in envelopes if any(p.startswith("/groups") for p in env)]
    assert len(with_groups) == 1  # all three group clauses in one envelope, filled up
    assert len(with_groups[0]) == 20
    assert sum(p.startswith("/groups") for p in with_groups[0]) == 3
    assert sum(p.startswith("/users") for p in with_groups[0]) == 17
