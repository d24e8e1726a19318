"""`--only` / `--shard` as pure functions: reconciler.desired.select, reconciler.plan.scope and
the shard's removal cap in reconciler.plan.safety (no I/O)."""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import replace

import pytest

from reconciler.desired.model import (
    DesiredGroup,
    DesiredState,
    FilesDigest,
    Location,
    Mode,
    Safety,
    Settings,
)
from reconciler.desired.select import Scope, SelectError, Shard, relative_file, select_only
from reconciler.live.model import LiveGroup
from reconciler.plan.changes import Action, Change, GraphAction, Plan
from reconciler.plan.safety import safety_problems
from reconciler.plan.scope import PlanScope, scoped_problems, shard_groups, shard_key
from reconciler.problems import Code, Problem, Severity

from .builders import NOW, user


def declared(*names: str, root: str = "tenants/contoso") -> DesiredState:
    """Groups `names`, each in `<root>/groups/<lower name>.yaml`; the digest lists the files
    (and a settings file and one broken file that declared no usable group)."""
    groups = tuple(DesiredGroup(n, Mode.AUTHORITATIVE, frozenset(), (),
                                Location(f"{root}/groups/{n.lower()}.yaml", 1)) for n in names)
    files = {f"groups/{n.lower()}.yaml": "0" * 64 for n in names}
    files |= {"pim-reconciler.yaml": "1" * 64, "groups/broken.yaml": "2" * 64}
    return DesiredState(root, Settings(), groups, FilesDigest(files))


def names(state: DesiredState) -> list[str]:
    return [g.group for g in state.groups]


# --- --shard I/N ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "shard"), [("1/2", Shard(1, 2)), (" 2 / 2 ", Shard(2, 2)),
                                             ("3/3", Shard(3, 3)), ("1/1", Shard(1, 1))])
def test_shard_parses_i_of_n(text: str, shard: Shard) -> None:
    assert Shard.parse(text) == shard
    assert str(Shard.parse(text)) == f"{shard.index}/{shard.count}"


@pytest.mark.parametrize("text", ["0/2", "3/2", "x", "1/0", "0/0", "-1/2", "1/2/3", "1", ""])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(SelectError):
        Shard.parse(text)
    with pytest.raises(SelectError):
        Shard(0, 2)


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_key_is_in_exactly_one_shard_by_sha256_of_the_lowered_key(count: int) -> None:
    keys = [str(uuid.uuid5(uuid.NAMESPACE_DNS, f"group-{i}")) for i in range(200)]
    for key in keys:
        holders = [i for i in range(1, count + 1) if Shard(i, count).holds(key)]
        expected = int(hashlib.sha256(key.lower().encode()).hexdigest(), 16) % count + 1
        assert holders == [expected]
        assert Shard(expected, count).holds(key.upper())  # ids compare without case
    if count > 1:  # a real partition: no shard empty for 200 keys
        assert all(any(Shard(i, count).holds(k) for k in keys) for i in range(1, count + 1))


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 20, 25])
@pytest.mark.parametrize("max_removals", [0, 1, 2, 10, 20, 23])
def test_removal_shares_add_up_to_the_run_total(count: int, max_removals: int) -> None:
    shares = [Shard(i, count).removal_share(max_removals) for i in range(1, count + 1)]
    assert sum(shares) == max_removals
    assert all(s in (max_removals // count, max_removals // count + 1) for s in shares)


def test_shard_key_is_the_id_when_resolved_to_one_group_else_the_reference() -> None:
    one = (LiveGroup("AAAA-1", "G"),)
    two = (LiveGroup("AAAA-1", "G"), LiveGroup("BBBB-2", "G"))
    assert shard_key("G", one) == "AAAA-1"
    assert shard_key("G", two) == "G"  # ambiguous
    assert shard_key("G", ()) == "G"  # not found
    assert shard_key("G", None) == "G"  # lookup refused


def test_shard_groups_partition_and_ignore_file_order() -> None:
    refs = [f"PIM-Group-{i:02d}" for i in range(30)]
    state = declared(*refs)
    resolved = {r: (LiveGroup(str(uuid.uuid5(uuid.NAMESPACE_OID, r)), r),) for r in refs[:25]}
    resolved |= {refs[25]: ()}  # not found: placed by its reference
    parts = [names(shard_groups(state, resolved, Shard(i, 3))) for i in (1, 2, 3)]
    assert sorted(g for part in parts for g in part) == sorted(refs)  # every group, none twice
    for i, part in enumerate(parts, start=1):
        for ref in part:
            key = resolved[ref][0].id if resolved.get(ref) else ref
            assert Shard(i, 3).holds(key)
    shuffled = list(state.groups)
    random.Random(7).shuffle(shuffled)
    again = replace(state, groups=tuple(shuffled))
    for i in (1, 2, 3):
        assert sorted(names(shard_groups(again, resolved, Shard(i, 3)))) == sorted(parts[i - 1])
    assert shard_groups(state, resolved, None) is state


# --- --only GLOB ----------------------------------------------------------------------------


def test_only_by_file_glob_relative_to_the_directory() -> None:
    state = declared("Platform-Admins", "Platform-Readers", "Finance")
    assert relative_file(state, "tenants/contoso/groups/finance.yaml") == "groups/finance.yaml"
    assert names(select_only(state, ["groups/platform-*.yaml"])) == ["Platform-Admins",
                                                                    "Platform-Readers"]
    # file globs are case-sensitive, as the files are
    with pytest.raises(SelectError, match=r"'groups/PLATFORM-\*.yaml' matches no group"):
        select_only(state, ["groups/PLATFORM-*.yaml"])


def test_only_by_group_name_without_regard_to_case_and_repeatable() -> None:
    state = declared("Platform-Admins", "Platform-Readers", "Finance",
                     "11111111-2222-3333-4444-555555555555")
    assert names(select_only(state, ["platform-ADMINS"])) == ["Platform-Admins"]
    assert names(select_only(state, ["fin*", "*readers"])) == ["Platform-Readers", "Finance"]
    assert names(select_only(state, ["11111111-*"])) == ["11111111-2222-3333-4444-555555555555"]
    assert select_only(state, []) is state


def test_only_matching_nothing_names_the_glob() -> None:
    state = declared("Platform-Admins")
    with pytest.raises(SelectError) as err:
        select_only(state, ["Platform-Admins", "groups/plattform-*"])
    assert str(err.value) == ("--only 'groups/plattform-*' matches no group file and no group "
                              "name under tenants/contoso")
    # the settings file is no group file
    with pytest.raises(SelectError):
        select_only(state, ["pim-reconciler.yaml"])
    # a broken group file (no usable group) is matched: its problems are what the run shows
    assert names(select_only(state, ["groups/broken.yaml"])) == []


def test_scoped_problems_keep_the_covered_files_and_the_unplaceable_ones() -> None:
    state = declared("A", "B")
    mine = replace(state, groups=state.groups[:1])
    a, b = (g.location.file for g in state.groups)
    problems = [Problem(Severity.WARNING, Code.UNTIL_IN_PAST, "x", file=a),
                Problem(Severity.WARNING, Code.UNTIL_IN_PAST, "y", file=b),
                Problem(Severity.ERROR, Code.SCHEMA, "z",
                        file="tenants/contoso/groups/broken.yaml")]
    assert [p.message for p in scoped_problems(problems, state, mine)] == ["x", "z"]
    assert scoped_problems(problems, state, state) == problems


def test_plan_scope_round_trips_and_describes_itself() -> None:
    state = declared("A", "B", "C", "D")
    scope = Scope(("groups/*",), Shard(1, 2))
    record = PlanScope.of(scope, state, replace(state, groups=state.groups[1:3]))
    assert record.describe() == "shard 1/2, --only 'groups/*': 2 of 4 groups"
    assert record.to_dict() == {"only": ["groups/*"], "shard": {"index": 1, "count": 2},
                                "groups": ["B", "C"], "declared": 4}
    assert PlanScope.from_dict(record.to_dict()) == record
    assert record.request == scope
    assert PlanScope((), Shard(2, 3), ("A",), 4).describe() == "shard 2/3: 1 of 4 groups"
    with pytest.raises(ValueError):
        PlanScope.from_dict({"only": [], "shard": {"index": 3, "count": 2}, "groups": [],
                             "declared": 0})


# --- the removal cap of a shard -------------------------------------------------------------


def removal(n: int, group: int) -> Change:
    return Change(Action.REMOVE, GraphAction.ADMIN_REMOVE, f"g{group}", f"G{group}", "member",
                  "eligible", user(n).id, f"user{n}", "user", "not declared")


def test_a_shard_may_remove_its_share_of_max_removals() -> None:
    settings = Settings(safety=Safety(max_removals=20), location=Location("pim.yaml", 1))
    eleven = [removal(n, n) for n in range(11)]  # one per group: no per-group guard
    assert safety_problems(eleven, {}, set(), settings, None) == []  # 11 <= 20 unsharded
    problems = safety_problems(eleven, {}, set(), settings, None, Shard(1, 2))
    assert [(p.severity, p.code) for p in problems] == [(Severity.ERROR, Code.TOO_MANY_REMOVALS)]
    assert "shard 1/2 may remove 10 of safety.max_removals 20" in problems[0].message
    assert "pass --allow-removals 11 (this shard's total removals)" in problems[0].message
    passed = safety_problems(eleven, {}, set(), settings, 11, Shard(1, 2))
    assert [p.severity for p in passed] == [Severity.WARNING]
    assert safety_problems(eleven[:10], {}, set(), settings, None, Shard(1, 2)) == []
    # 20 over 3 shards: 7, 7, 6
    assert safety_problems(eleven[:7], {}, set(), settings, None, Shard(2, 3)) == []
    third = safety_problems(eleven[:7], {}, set(), settings, None, Shard(3, 3))
    assert "shard 3/3 may remove 6 of safety.max_removals 20" in third[0].message


def test_the_per_group_guards_do_not_change_in_a_shard() -> None:
    settings = Settings(safety=Safety(max_removals=20, max_removal_fraction=0.25))
    three = [removal(n, 1) for n in range(3)]  # 3 of 4 managed in one group
    for shard in (None, Shard(1, 2)):
        problems = safety_problems(three, {"g1": 4}, set(), settings, None, shard)
        assert [p.message.split(";")[0] for p in problems] == [
            "3 of 4 managed assignments of 'G1' would be removed, more than "
            "safety.max_removal_fraction (0.25)"]


def test_a_plan_records_its_scope_only_when_scoped() -> None:
    bare = Plan((), (), (), NOW, None, "fp", "dg")
    assert bare.to_dict()["scope"] is None
    assert Plan.from_dict(bare.to_dict()).scope is None
    scoped = replace(bare, scope=PlanScope((), Shard(2, 2), ("A",), 3))
    assert Plan.from_dict(scoped.to_dict()).scope == scoped.scope
    assert scoped.checksum == bare.checksum  # the scope is not part of what was reviewed
