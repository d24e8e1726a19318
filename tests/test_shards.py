"""`--only GLOB` and `--shard I/N` end to end (click runner, in-process emulator): shards
partition the groups and the changes of the whole plan, the removal cap is shared between
shards, drift / report / apply honour the scope, and a shard reads less of the tenant."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.clock import FixedClock
from reconciler.config import load_desired
from reconciler.desired.select import Scope, Shard
from reconciler.durations import parse_instant
from reconciler.pipeline import make_plan
from reconciler.plan.changes import load_plan_file
from reconciler.targets import Target, open_backend
from tests.cliutil import Run, run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "assignments"
NOW = "2026-12-01T12:00:00Z"
PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8"))
GROUPS = sorted(g.group for g in load_desired(EXAMPLE)[0].groups)  # type: ignore[union-attr]


@pytest.fixture
def tenant(tmp_path: Path) -> str:
    copy = tmp_path / "tenant.yaml"
    shutil.copy(ROOT / "examples" / "tenant.yaml", copy)
    return str(copy)


def plan(directory: Path | str, tenant: str, *extra: str) -> tuple[Run, dict[str, Any]]:
    run = run_cli("--now", NOW, "plan", str(directory), "--emulator", tenant, "--format",
                  "json", *extra)
    data = run.json()
    jsonschema.Draft202012Validator(PLAN_SCHEMA).validate(data)
    return run, data


def rows(data: dict[str, Any], key: str) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True) for item in data[key])


def planned(data: dict[str, Any]) -> list[str]:
    return list(data["scope"]["groups"])


# --- shards partition the whole plan ----------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3])
def test_shards_together_plan_exactly_the_whole_plan(tenant: str, count: int) -> None:
    whole_run, whole = plan(EXAMPLE, tenant)
    assert whole_run.exit_code == 2 and whole["scope"] is None
    assert whole["changes"] and whole["policy_changes"]
    shards = [plan(EXAMPLE, tenant, "--shard", f"{i}/{count}") for i in range(1, count + 1)]
    groups = [g for _, data in shards for g in planned(data)]
    assert sorted(groups) == GROUPS  # every declared group, none twice
    assert all(planned(data) for _, data in shards)  # the example's 8 groups spread out
    for i, (_, data) in enumerate(shards, start=1):
        assert data["scope"]["shard"] == {"index": i, "count": count}
        assert data["scope"]["declared"] == len(GROUPS) and data["scope"]["only"] == []
        assert {c["group"] for c in data["changes"]} <= set(planned(data))
    for key in ("changes", "policy_changes", "problems", "info"):
        assert sorted(r for _, data in shards for r in rows(data, key)) == rows(whole, key), key
    assert sum(len(d["removal_counts"]) for _, d in shards) == len(whole["removal_counts"])


def test_a_shard_is_the_same_on_every_run_and_whatever_the_file_names(
        tenant: str, tmp_path: Path) -> None:
    first = planned(plan(EXAMPLE, tenant, "--shard", "1/2")[1])
    assert planned(plan(EXAMPLE, tenant, "--shard", "1/2")[1]) == first
    # the same groups in files named (and so read) in the opposite order
    renamed = tmp_path / "renamed"
    shutil.copytree(EXAMPLE, renamed)
    files = sorted((renamed / "groups").glob("*.yaml"))
    for n, path in enumerate(files):
        path.rename(path.with_name(f"{len(files) - n:02d}-{path.name}"))
    again = planned(plan(renamed, tenant, "--shard", "1/2")[1])
    assert sorted(again) == sorted(first) and again != first  # file order differs, set does not


def test_an_unresolved_group_is_in_exactly_one_shard(tenant: str, tmp_path: Path) -> None:
    directory = tmp_path / "desired"
    shutil.copytree(EXAMPLE, directory)
    (directory / "groups" / "ghost.yaml").write_text(
        "group: No-Such-Group\nmembers:\n  eligible:\n    - principal: amara.okafor@contoso.example"
        "\n      duration: P30D\n", encoding="utf-8")
    found = []
    for i in (1, 2):
        run, data = plan(directory, tenant, "--shard", f"{i}/2")
        codes = [p["code"] for p in data["problems"]]
        if "group_not_found" in codes:
            found.append(i)
            assert run.exit_code == 1 and "No-Such-Group" in planned(data)
        else:
            assert run.exit_code == 2 and "No-Such-Group" not in planned(data)
    # placed by its declared reference, lower-cased: sha256("no-such-group") % 2 + 1
    assert found == [int(hashlib.sha256(b"no-such-group").hexdigest(), 16) % 2 + 1]


# --- --only ---------------------------------------------------------------------------------


def test_only_by_file_glob_and_by_name(tenant: str) -> None:
    _, whole = plan(EXAMPLE, tenant)
    run, data = plan(EXAMPLE, tenant, "--only", "groups/*-owners.yaml")
    assert run.exit_code == 2
    assert data["scope"] == {"only": ["groups/*-owners.yaml"], "shard": None,
                             "groups": ["PIM-App-Owners", "PIM-Database-Owners"], "declared": 8}
    owners = [c for c in whole["changes"] if c["group"] in planned(data)]
    assert data["changes"] == owners and owners  # Hugo's removal from PIM-Database-Owners
    _, by_name = plan(EXAMPLE, tenant, "--only", "pim-network-OPS", "--only", "PIM-App-*")
    assert planned(by_name) == ["PIM-App-Owners", "PIM-Network-Ops"]
    assert by_name["changes"] == [c for c in whole["changes"] if c["group"] in planned(by_name)]
    markdown = run_cli("--now", NOW, "plan", str(EXAMPLE), "--emulator", tenant, "--format",
                       "markdown", "--only", "groups/*-owners.yaml", "--shard", "1/1")
    assert ("**Scope:** shard 1/1, --only 'groups/*-owners.yaml': 2 of 8 groups"
            in markdown.stdout)
    text = run_cli("--now", NOW, "plan", str(EXAMPLE), "--emulator", tenant, "--shard", "2/2")
    assert f"scope: shard 2/2: {len(planned(plan(EXAMPLE, tenant, '--shard', '2/2')[1]))} of 8 " \
           "groups" in text.stdout


@pytest.mark.parametrize("command", ["plan", "drift", "report", "apply"])
def test_only_matching_nothing_is_one_error_line(tenant: str, tmp_path: Path,
                                                 command: str) -> None:
    extra = {"report": ["--out", str(tmp_path / "report")], "apply": ["--yes"]}.get(command, [])
    before = Path(tenant).read_text(encoding="utf-8")
    run = run_cli("--now", NOW, command, str(EXAMPLE), "--emulator", tenant, *extra,
                  "--only", "groups/plattform-*")
    assert run.exit_code == 1
    assert run.stderr.splitlines() == [
        f"error: --only 'groups/plattform-*' matches no group file and no group name under "
        f"{EXAMPLE}"]
    assert Path(tenant).read_text(encoding="utf-8") == before


@pytest.mark.parametrize("value", ["0/2", "3/2", "x", "1/0"])
def test_bad_shard_values_are_usage_errors(tenant: str, value: str) -> None:
    run = run_cli("plan", str(EXAMPLE), "--emulator", tenant, "--shard", value)
    assert run.exit_code == 1
    assert "Invalid value for '--shard'" in run.stderr and "I/N" in run.stderr
    assert run.stdout == ""


# --- the removal cap is shared between shards -----------------------------------------------


def removal_repo(tmp_path: Path) -> tuple[Path, Path]:
    """Six groups of four live eligible members; each file declares three: one removal per
    group (below the per-group guards), six in all against safety.max_removals 2."""
    users = [f"u{n}@contoso.example" for n in range(4)]
    groups = [f"grp-{n}" for n in range(6)]
    tenant = {
        "now": NOW,
        "users": [{"userPrincipalName": u, "displayName": u.split("@")[0]} for u in users],
        "groups": [{"displayName": g} for g in groups],
        "schedules": [{"group": g, "access": "member", "kind": "eligible", "principal": u,
                       "created": "-P10D", "end": "P60D"} for g in groups for u in users],
    }
    tenant_file = tmp_path / "tenant.yaml"
    tenant_file.write_text(yaml.safe_dump(tenant, sort_keys=False), encoding="utf-8")
    directory = tmp_path / "desired"
    (directory / "groups").mkdir(parents=True)
    (directory / "pim-reconciler.yaml").write_text("safety:\n  max_removals: 2\n",
                                                  encoding="utf-8")
    for g in groups:
        entries = "".join(f"    - principal: {u}\n      duration: P60D\n" for u in users[:3])
        (directory / "groups" / f"{g}.yaml").write_text(
            f"group: {g}\nmembers:\n  eligible:\n{entries}", encoding="utf-8")
    return directory, tenant_file


def test_each_shard_may_remove_its_share_and_allow_removals_names_its_count(
        tmp_path: Path) -> None:
    directory, tenant_file = removal_repo(tmp_path)
    whole_run, whole = plan(directory, str(tenant_file))
    assert whole_run.exit_code == 1 and whole["summary"]["remove"] == 6
    counts = {i: plan(directory, str(tenant_file), "--shard", f"{i}/2")[1]["summary"]["remove"]
              for i in (1, 2)}
    assert sum(counts.values()) == 6
    over = max(counts, key=lambda i: counts[i])  # at least 3 of the 6: over its share of 1
    run, data = plan(directory, str(tenant_file), "--shard", f"{over}/2")
    assert run.exit_code == 1
    [cap] = [p for p in data["problems"] if p["code"] == "too_many_removals"]
    assert cap["severity"] == "error"
    assert (f"{counts[over]} removals exceed this shard's share of the run's total: shard "
            f"{over}/2 may remove 1 of safety.max_removals 2 (shared by 2 shards)"
            in cap["message"])
    # the shard's own count passes it; the run's total (6) does not
    run, data = plan(directory, str(tenant_file), "--shard", f"{over}/2", "--allow-removals",
                     str(counts[over]))
    assert run.exit_code == 2 and [p["severity"] for p in data["problems"]] == ["warning"]
    refused = run_cli("--now", NOW, "apply", str(directory), "--emulator", str(tenant_file),
                      "--yes", "--shard", f"{over}/2", "--allow-removals", "6")
    assert refused.exit_code == 1
    assert len(yaml.safe_load(tenant_file.read_text(encoding="utf-8"))["schedules"]) == 24
    applied = run_cli("--now", NOW, "apply", str(directory), "--emulator", str(tenant_file),
                      "--yes", "--shard", f"{over}/2", "--allow-removals", str(counts[over]))
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    left = yaml.safe_load(tenant_file.read_text(encoding="utf-8"))["schedules"]
    assert len(left) == 24 - counts[over]
    # the other shard's removals are still to do, and still its own business
    _, after = plan(directory, str(tenant_file))
    assert after["summary"]["remove"] == 6 - counts[over]
    assert {c["group"] for c in after["changes"]} == set(
        planned(plan(directory, str(tenant_file), "--shard", f"{3 - over}/2")[1]))


# --- apply, drift and report honour the scope ------------------------------------------------


def test_apply_of_a_saved_shard_plan_applies_that_shard(tenant: str, tmp_path: Path) -> None:
    saved = tmp_path / "shard1.json"
    run_cli("--now", NOW, "plan", str(EXAMPLE), "--emulator", tenant, "--shard", "1/2",
            "--out", str(saved))
    shard1 = json.loads(saved.read_text(encoding="utf-8"))
    assert load_plan_file(str(saved)).scope is not None
    _, shard2 = plan(EXAMPLE, tenant, "--shard", "2/2")
    mismatch = run_cli("--now", NOW, "apply", str(EXAMPLE), "--emulator", tenant, "--yes",
                       "--plan", str(saved), "--shard", "2/2")
    assert mismatch.exit_code == 1
    assert mismatch.stderr.splitlines() == [
        f"error: {saved} covers shard 1/2: {len(planned(shard1))} of 8 groups; give the same "
        "--only / --shard as its plan, or none"]
    applied = run_cli("--now", NOW, "apply", str(EXAMPLE), "--emulator", tenant, "--yes",
                      "--plan", str(saved), "--format", "json")
    assert applied.exit_code in (0, 3), applied.stdout + applied.stderr
    outcomes = applied.json()
    assert len(outcomes["results"]) == len(shard1["changes"])
    assert len(outcomes["policy_results"]) == len(shard1["policy_changes"])
    # what is left to do is shard 2's plan, untouched
    _, after = plan(EXAMPLE, tenant)
    assert rows(after, "changes") == rows(shard2, "changes")
    assert rows(after, "policy_changes") == rows(shard2, "policy_changes")


@pytest.mark.parametrize("shard", [{"index": 2, "count": 2}, {"index": 1, "count": 1}, None])
def test_a_saved_shard_plan_with_an_edited_scope_is_refused(tenant: str, tmp_path: Path,
                                                            shard: Any) -> None:
    saved = tmp_path / "shard1.json"
    run_cli("--now", NOW, "plan", str(EXAMPLE), "--emulator", tenant, "--shard", "1/2",
            "--out", str(saved))
    data = json.loads(saved.read_text(encoding="utf-8"))
    if shard is None:
        data["scope"] = None  # "this plan covers everything"
    else:
        data["scope"]["shard"] = shard
    saved.write_text(json.dumps(data), encoding="utf-8")
    before = Path(tenant).read_text(encoding="utf-8")
    run = run_cli("--now", NOW, "apply", str(EXAMPLE), "--emulator", tenant, "--yes", "--plan",
                  str(saved))
    assert run.exit_code == 1
    said = run.stdout + run.stderr
    if shard is None:  # planned again whole: more groups read than the plan holds
        assert "live PIM state changed since the plan was made" in said
        assert "read for the first time" in said
    else:
        assert f"but its scope (shard {shard['index']}/{shard['count']}: " in said
        assert "its scope was edited" in said
    assert Path(tenant).read_text(encoding="utf-8") == before  # nothing written


def test_a_saved_plan_without_a_scope_still_loads(tenant: str, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    run_cli("--now", NOW, "plan", str(EXAMPLE), "--emulator", tenant, "--out", str(saved))
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["scope"] is None
    del data["scope"]  # a plan saved before the field existed
    saved.write_text(json.dumps(data), encoding="utf-8")
    assert load_plan_file(str(saved)).scope is None
    run = run_cli("--now", NOW, "apply", str(EXAMPLE), "--emulator", tenant, "--yes", "--plan",
                  str(saved))
    assert run.exit_code in (0, 3), run.stdout + run.stderr


def drift_entries(data: dict[str, Any]) -> dict[str, list[str]]:
    classes = ("out_of_band", "missing", "lifetime_changed", "renewal_due", "pending_deferrals",
               "policy_changed", "expiring_soon", "information")
    return {c: sorted(json.dumps(i, sort_keys=True) for i in data[c]) for c in classes}


def test_drift_and_report_honour_shard_and_only(tenant: str, tmp_path: Path) -> None:
    def drift(*extra: str) -> dict[str, Any]:
        return run_cli("--now", NOW, "drift", str(EXAMPLE), "--emulator", tenant, "--format",
                       "json", *extra).json()

    def report(name: str, *extra: str) -> dict[str, Any]:
        run = run_cli("--now", NOW, "report", str(EXAMPLE), "--emulator", tenant, "--out",
                      str(tmp_path / name), *extra)
        assert run.exit_code == 0, run.stderr
        return json.loads((tmp_path / name / "report.json").read_text(encoding="utf-8"))

    whole, parts = drift_entries(drift()), [drift_entries(drift("--shard", f"{i}/2"))
                                            for i in (1, 2)]
    assert any(whole.values())
    for cls, entries in whole.items():
        assert sorted(parts[0][cls] + parts[1][cls]) == entries, cls
    only = drift("--only", "PIM-Database-Owners")
    assert {i["group"] for c in drift_entries(only) for i in only[c]} == {"PIM-Database-Owners"}

    full = report("whole")
    shards = [report(f"shard{i}", "--shard", f"{i}/2") for i in (1, 2)]
    assert sorted(g["group"] for s in shards for g in s["groups"]) == GROUPS
    assert sorted(json.dumps(r, sort_keys=True) for s in shards for r in s["rows"]) == sorted(
        json.dumps(r, sort_keys=True) for r in full["rows"])
    assert [g["group"] for g in report("only", "--only", "groups/network-*")["groups"]] == [
        "PIM-Network-Ops"]


# --- a shard reads less -----------------------------------------------------------------------


def test_a_shard_reads_fewer_schedules_and_policies_than_the_whole(tenant: str) -> None:
    state, _ = load_desired(EXAMPLE)
    assert state is not None

    async def reads(scope: Scope | None) -> tuple[int, int, int, list[str]]:
        clock = FixedClock(parse_instant(NOW))
        async with open_backend(Target(kind="emulator", emulator_file=tenant),
                                clock=clock) as backend:
            the_plan = await make_plan(state, backend, clock.now(), scope=scope)
            log = backend.tenant.request_log
            schedules = sum(1 for e in log if "Schedules" in e.path)
            policies = sum(1 for e in log if "roleManagementPolicyAssignments" in e.path
                           or "roleManagementPolicies" in e.path)
            groups = the_plan.scope.groups if the_plan.scope else tuple(GROUPS)
            return schedules, policies, backend.request_count, list(groups)

    whole = asyncio.run(reads(None))
    parts = [asyncio.run(reads(Scope(shard=Shard(i, 2)))) for i in (1, 2)]
    assert whole[0] > 0 and whole[1] > 0
    for schedules, policies, _requests, groups in parts:
        assert 0 < len(groups) < len(GROUPS)
        assert schedules < whole[0] and policies < whole[1]
    assert sum(p[0] for p in parts) == whole[0]  # each group's schedules read once, somewhere
    one = asyncio.run(reads(Scope(only=("PIM-Network-Ops",))))
    assert one[3] == ["PIM-Network-Ops"] and one[0] < min(p[0] for p in parts)
