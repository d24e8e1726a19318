"""`doctor --only GLOB` / `--shard I/N` end to end (real CLI, in-process emulator): a scoped
doctor checks exactly the groups `plan` with the same scope plans (and only their principals'
licences), an unresolved group in exactly one shard, the summary and JSON name the scope,
and the credential / Graph / clock / permission checks stay those of the whole run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_desired
from reconciler.desired.select import Shard
from tests.cliutil import Run, run_cli
from tests.doctor.test_doctor import EXAMPLES, NOW, OPS, lines, tenant, write

EXAMPLE = EXAMPLES / "assignments"
TENANT = str(EXAMPLES / "tenant.yaml")
DECLARED = [g.group for g in load_desired(EXAMPLE)[0].groups]  # type: ignore[union-attr]
HELPERS = """\
group: Helpers
members:
  eligible:
    - principal: p2@contoso.example
      duration: P30D
"""
MISSING = "group: No-Such-Group\nmembers:\n  eligible: []\n"


def doctor(directory: Path | str, tenant_file: str, *extra: str) -> tuple[Run, dict[str, Any]]:
    run = run_cli("--now", NOW, "doctor", str(directory), "--emulator", tenant_file,
                  "--format", "json", *extra)
    return run, run.json()


def plan_scope(directory: Path | str, tenant_file: str, *extra: str) -> list[str]:
    run = run_cli("--now", NOW, "plan", str(directory), "--emulator", tenant_file,
                  "--format", "json", *extra)
    assert run.exit_code in (0, 1, 2) and not run.stderr, run.stdout + run.stderr
    return list(run.json()["scope"]["groups"])


def of(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if c["check"] == kind]


def shared(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The checks that do not depend on the scope: credential, Graph, clock, permissions."""
    return [(c["check"], c["status"], c["message"]) for c in report["checks"]
            if c["check"] in ("credential", "graph", "clock", "permission")]


def test_each_shard_checks_the_groups_plan_shards() -> None:
    whole_run, whole = doctor(EXAMPLE, TENANT)
    assert whole_run.exit_code == 0 and whole["scope"] is None
    seen: list[str] = []
    for index in (1, 2):
        run, report = doctor(EXAMPLE, TENANT, "--shard", f"{index}/2")
        assert run.exit_code == 0, run.stdout
        planned = plan_scope(EXAMPLE, TENANT, "--shard", f"{index}/2")
        checked = [c["subject"] for c in of(report, "group")]
        # the same groups as `plan --shard`, in the same (file) order, each checked once
        assert checked == planned == report["scope"]["groups"]
        assert planned, "the example's 8 groups spread over both shards"
        assert report["scope"] == {"only": [], "shard": {"index": index, "count": 2},
                                   "groups": planned, "declared": len(DECLARED)}
        assert shared(report) == shared(whole)  # not narrowed by the shard
        seen += checked
    assert sorted(seen) == sorted(DECLARED)  # together every declared group, none twice


def test_the_summary_line_names_the_shard() -> None:
    planned = plan_scope(EXAMPLE, TENANT, "--shard", "1/2")
    run = run_cli("--now", NOW, "doctor", str(EXAMPLE), "--emulator", TENANT, "--shard", "1/2")
    assert run.exit_code == 0
    summary = lines(run.stdout)[-1]
    assert summary.startswith(f"doctor: ready to plan shard 1/2 ({len(planned)} of "
                              f"{len(DECLARED)} groups) against in-process emulator serving "), \
        summary
    markdown = run_cli("--now", NOW, "doctor", str(EXAMPLE), "--emulator", TENANT,
                       "--shard", "1/2", "--for", "apply", "--format", "markdown").stdout
    assert f"doctor: ready to apply shard 1/2 ({len(planned)} of {len(DECLARED)} groups)" \
        in markdown


def test_an_unresolved_group_is_reported_by_exactly_one_shard(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant(), {"ops": OPS, "helpers": HELPERS,
                                                        "missing": MISSING})
    reports = [doctor(directory, tenant_file, "--shard", f"{i}/2") for i in (1, 2)]
    missing = [(i, c) for i, (_run, r) in enumerate(reports, start=1)
               for c in of(r, "group") if c["subject"] == "No-Such-Group"]
    assert len(missing) == 1, reports
    [(index, check)] = missing
    assert check["status"] == "fail" and "not found in the tenant" in check["message"]
    assert reports[index - 1][0].exit_code == 1
    # in the shard whose plan reports it too (keyed by its declared reference, as the planner)
    assert "No-Such-Group" in plan_scope(directory, tenant_file, "--shard", f"{index}/2")
    assert "No-Such-Group" not in plan_scope(directory, tenant_file, "--shard",
                                             f"{3 - index}/2")


def test_a_shard_checks_only_its_principals_licences(tmp_path: Path) -> None:
    # none@ and suspended@ (no P2) are eligible in PIM-Ops only; Helpers' one user holds P2.
    # Object ids picked so that the two groups land in different shards of 2.
    ops_id = "00000000-0000-4000-8000-000000000004"
    helpers_id = "00000000-0000-4000-8000-000000000001"
    assert Shard(1, 2).holds(ops_id) and Shard(2, 2).holds(helpers_id)
    data = tenant(groups=[{"displayName": "PIM-Ops", "id": ops_id},
                          {"displayName": "Helpers", "id": helpers_id}])
    directory, tenant_file = write(tmp_path, data, {"ops": OPS, "helpers": HELPERS})
    (_, first), (_, second) = (doctor(directory, tenant_file, "--shard", f"{i}/2")
                               for i in (1, 2))
    assert first["scope"]["groups"] == plan_scope(directory, tenant_file, "--shard", "1/2") \
        == ["PIM-Ops"]
    assert second["scope"]["groups"] == ["Helpers"]
    warned = [c["subject"] for c in of(first, "licence") if c["status"] == "warning"]
    assert warned == ["none@contoso.example", "suspended@contoso.example"]
    assert [(c["status"], c["message"]) for c in of(second, "licence")] == [
        ("ok", "1 eligible user(s) hold Microsoft Entra ID P2 or Microsoft Entra ID Governance")]


def test_only_narrows_the_groups_before_any_check(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant(), {"ops": OPS, "helpers": HELPERS,
                                                        "missing": MISSING})
    whole_run, whole = doctor(directory, tenant_file)
    assert whole_run.exit_code == 1  # No-Such-Group fails the whole directory
    assert {c["status"] for c in of(whole, "licence")} == {"warning"}  # PIM-Ops' users
    run, report = doctor(directory, tenant_file, "--only", "groups/helpers.yaml")
    assert run.exit_code == 0, run.stdout
    assert [c["subject"] for c in of(report, "group")] == ["Helpers"]
    assert report["scope"] == {"only": ["groups/helpers.yaml"], "shard": None,
                               "groups": ["Helpers"], "declared": 3}
    # only Helpers' principal's licence (PIM-Ops' unlicensed users are out of scope)
    assert [c["status"] for c in of(report, "licence")] == ["ok"]
    # by group name, case-insensitively, and with a shard on top: the shard of the selection
    both = [doctor(directory, tenant_file, "--only", "pim-*", "--only", "helpers",
                   "--shard", f"{i}/2")[1] for i in (1, 2)]
    assert sorted(g for r in both for g in r["scope"]["groups"]) == ["Helpers", "PIM-Ops"]
    assert all(r["scope"]["declared"] == 3 for r in both)
    text = run_cli("--now", NOW, "doctor", directory, "--emulator", tenant_file,
                   "--only", "groups/helpers.yaml")
    assert lines(text.stdout)[-1].startswith(
        "doctor: ready to plan --only 'groups/helpers.yaml' (1 of 3 groups) against ")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_glob_matching_nothing_is_plans_one_line_error(fmt: str) -> None:
    args = (str(EXAMPLE), "--emulator", TENANT, "--only", "groups/nope-*", "--format", fmt)
    run = run_cli("--now", NOW, "doctor", *args)
    plan = run_cli("--now", NOW, "plan", *args)
    assert run.exit_code == plan.exit_code == 1
    assert run.stdout == ""
    assert run.stderr == plan.stderr == (
        f"error: --only 'groups/nope-*' matches no group file and no group name under "
        f"{EXAMPLE}\n")


def test_a_bad_shard_is_a_usage_error() -> None:
    run = run_cli("doctor", str(EXAMPLE), "--emulator", TENANT, "--shard", "3/2")
    assert run.exit_code == 1 and run.stdout == ""
    assert "'3/2': I/N needs 1 <= I <= N" in run.stderr


def test_a_shard_whose_groups_were_never_resolved_says_so(tmp_path: Path) -> None:
    broken = tmp_path / "tenant.yaml"
    broken.write_text("not: [valid\n", encoding="utf-8")
    run, report = doctor(EXAMPLE, str(broken), "--shard", "2/2")
    assert run.exit_code == 1
    assert [c["check"] for c in report["checks"]] == ["credential", "not run"]
    assert report["scope"] == {"only": [], "shard": {"index": 2, "count": 2}, "groups": None,
                               "declared": len(DECLARED)}
    text = run_cli("--now", NOW, "doctor", str(EXAMPLE), "--emulator", str(broken),
                   "--shard", "2/2")
    assert f"doctor: NOT ready to plan shard 2/2 (groups not resolved: {len(DECLARED)} " \
        "declared) against " in lines(text.stdout)[-1]
