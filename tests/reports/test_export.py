"""Export's naming, ordering and rendering rules (fake backend; no I/O beyond tmp files)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
import yaml

from reconciler.config.export import (
    ExportedEntry,
    collect,
    default_schema_ref,
    render_group_file,
    slug,
    write_exports,
)
from reconciler.desired.model import Access, Kind, PrincipalRef, PrincipalType
from reconciler.live.model import (
    AssignmentType,
    DirectoryObject,
    LiveGroup,
    LiveSchedule,
    LiveState,
    MemberType,
    Resolution,
)

from ..planner.builders import NOW

D = timedelta
GID = "11111111-1111-1111-1111-111111111111"
ANNA = DirectoryObject("a0000000-0000-0000-0000-000000000001", PrincipalType.USER, "Anna",
                       user_principal_name="anna@contoso.example")
OPS = DirectoryObject("b0000000-0000-0000-0000-000000000001", PrincipalType.GROUP, "Ops Team")
OPS_TWIN = DirectoryObject("b0000000-0000-0000-0000-000000000002", PrincipalType.GROUP,
                           "Ops Team")
BOT = DirectoryObject("c0000000-0000-0000-0000-000000000001", PrincipalType.SERVICE_PRINCIPAL,
                      "deploy-bot", app_id="d0000000-0000-0000-0000-000000000001")
GHOST = "e0000000-0000-0000-0000-000000000001"  # deleted: Graph cannot name it


class FakeBackend:
    def __init__(self, groups, directory, rows):
        self.groups = groups  # name or id -> LiveGroup tuple
        self.directory = directory  # PrincipalRef -> DirectoryObject tuple
        self.rows = rows
        self.resolved = []

    async def resolve(self, groups, principals):
        self.resolved.append((list(groups), list(principals)))
        return Resolution({g: self.groups.get(g, ()) for g in groups},
                          {p: self.directory.get(p, ()) for p in principals})

    async def read(self, group_ids):
        names = {o.id: o for o in (ANNA, OPS, OPS_TWIN, BOT)}
        return LiveState(tuple(r for r in self.rows if r.group_id in group_ids), {}, names)


def sched(n, principal, *, access=Access.MEMBER, kind=Kind.ELIGIBLE, end=None, start=None,
          assignment_type=AssignmentType.ASSIGNED, member_type=MemberType.DIRECT):
    return LiveSchedule(f"s{n}", GID, access, kind, principal, start or NOW - D(days=1), end,
                        NOW - D(days=1), assignment_type=assignment_type,
                        member_type=member_type)


def backend(rows, *, twin=False, group_name="Platform Admins"):
    group = LiveGroup(GID, group_name)
    directory = {PrincipalRef(PrincipalType.GROUP, "Ops Team"): (OPS, OPS_TWIN) if twin
                 else (OPS,),
                 PrincipalRef(PrincipalType.SERVICE_PRINCIPAL, "deploy-bot"): (BOT,)}
    return FakeBackend({group_name: (group,), GID: (group,)}, directory, rows)


def export(rows, **kwargs):
    fake = backend(rows, **kwargs)
    groups, problems = asyncio.run(collect(fake, [kwargs.get("group_name", "Platform Admins")],
                                           NOW))
    assert problems == []
    return fake, groups


def test_slug():
    assert slug("PIM-Platform-Admins") == "pim-platform-admins"
    assert slug("  Équipe / Ops (prod) ") == "equipe-ops-prod"
    assert slug("***") == "group"


def test_sections_rows_and_principal_forms():
    until = NOW + D(days=30)
    rows = [
        sched(1, ANNA.id, end=until),
        sched(2, OPS.id, end=None),
        sched(3, BOT.id, kind=Kind.ACTIVE, end=until, start=NOW + D(days=2)),
        sched(4, GHOST, access=Access.OWNER, end=until),
        sched(5, ANNA.id, kind=Kind.ACTIVE, end=NOW + D(hours=8),
              assignment_type=AssignmentType.ACTIVATED),  # activation: left out
        sched(6, ANNA.id, access=Access.OWNER, kind=Kind.ACTIVE, end=None,
              member_type=MemberType.GROUP),  # inherited: left out
        sched(7, BOT.id, access=Access.OWNER, end=NOW - D(minutes=1)),  # lapsed: left out
    ]
    fake, [group] = export(rows)
    text = render_group_file(group, "../schemas/assignments.schema.json")
    assert text == (
        "# yaml-language-server: $schema=../schemas/assignments.schema.json\n"
        f"# Exported by pim-reconciler from group {GID}.\n"
        'group: "Platform Admins"\n'
        "members:\n"
        "  eligible:\n"
        "    - principal: anna@contoso.example\n"
        "      until: 2026-12-31T12:00:00Z\n"
        '    - principal: { group: "Ops Team" }\n'
        "      permanent: true\n"
        "  active:\n"
        "    - principal: { servicePrincipal: deploy-bot }\n"
        "      start: 2026-12-03T12:00:00Z\n"
        "      until: 2026-12-31T12:00:00Z\n"
        "owners:\n"
        "  eligible:\n"
        f"    - principal: {GHOST}\n"
        "      until: 2026-12-31T12:00:00Z\n"
        "  active: []\n")
    assert yaml.safe_load(text)["members"]["eligible"][1] == {
        "principal": {"group": "Ops Team"}, "permanent": True}
    # uniqueness of display names was checked against the tenant
    assert fake.resolved[1] == (["Platform Admins"], [
        PrincipalRef(PrincipalType.GROUP, "Ops Team"),
        PrincipalRef(PrincipalType.SERVICE_PRINCIPAL, "deploy-bot")])


def test_ambiguous_display_name_falls_back_to_object_id():
    _, [group] = export([sched(1, OPS.id, end=None)], twin=True)
    assert group.sections[(Access.MEMBER, Kind.ELIGIBLE)][0].principal == OPS.id
    text = render_group_file(group, None)
    assert yaml.safe_load(text)["members"]["eligible"] == [
        {"principal": OPS.id, "permanent": True}]
    digits = ExportedEntry("00000000-0000-0000-0000-000000000001", None)
    text = render_group_file(replace(group, sections={
        **group.sections, (Access.MEMBER, Kind.ELIGIBLE): (digits,)}), None)
    assert '- principal: "00000000-0000-0000-0000-000000000001"' in text


def test_group_named_by_id_when_its_name_is_not_unique():
    fake = backend([])
    fake.groups["Platform Admins"] = (LiveGroup(GID, "Platform Admins"),
                                      LiveGroup("22222222-2222-2222-2222-222222222222",
                                                "Platform Admins"))
    groups, problems = asyncio.run(collect(fake, [GID], NOW))
    assert problems == []
    [group] = groups
    assert group.group == GID and group.slug == "platform-admins"
    text = render_group_file(group, None)
    assert f'group: "{GID}"\ndescription: "Platform Admins"\n' in text
    assert "yaml-language-server" not in text


def test_ambiguous_group_reference_is_an_error():
    fake = backend([])
    fake.groups["Twin"] = (LiveGroup(GID, "Twin"), LiveGroup("2" * 8 + GID[8:], "Twin"))
    groups, problems = asyncio.run(collect(fake, ["Twin"], NOW))
    assert groups == [] and [p.code for p in problems] == ["group_ambiguous"]


def test_order_is_deterministic():
    rows = [sched(n, oid, end=None) for n, oid in enumerate((OPS.id, BOT.id, ANNA.id))]
    _, [a] = export(rows)
    _, [b] = export(list(reversed(rows)))
    assert render_group_file(a, None) == render_group_file(b, None)
    assert [e.principal for e in a.sections[(Access.MEMBER, Kind.ELIGIBLE)]] == [
        "anna@contoso.example", ("servicePrincipal", "deploy-bot"), ("group", "Ops Team")]


def test_write_refuses_existing_files_before_writing_any(tmp_path):
    _, [group] = export([])
    paths = write_exports([group], tmp_path, schema_ref=None)
    assert paths == [tmp_path / "groups" / "platform-admins.yaml"]
    with pytest.raises(FileExistsError, match=r"platform-admins\.yaml"):
        write_exports([group], tmp_path, schema_ref=None)
    assert write_exports([group], tmp_path, schema_ref=None, force=True) == paths


def test_default_schema_ref_is_relative_to_the_groups_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_schema_ref("access") == "../../schemas/assignments.schema.json"
    assert default_schema_ref("examples/assignments") == \
        "../../../schemas/assignments.schema.json"
