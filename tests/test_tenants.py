"""One repository, several tenants: `tenants/<name>/` each a complete desired-state directory
with its own settings file, planned separately (a CI matrix) against two emulator tenants."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cliutil import run_cli

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-12-01T12:00:00Z"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)

FABRIKAM = {
    "now": NOW,
    "users": [{"userPrincipalName": f"{u}@fabrikam.example", "displayName": u}
              for u in ("ana", "bo", "cy")],
    "groups": [{"displayName": "FAB-Admins"}, {"displayName": "FAB-Readers"}],
    "schedules": [
        {"group": "FAB-Admins", "access": "member", "kind": "eligible",
         "principal": "ana@fabrikam.example", "created": "-P10D", "end": "P80D"},
        {"group": "FAB-Readers", "access": "member", "kind": "eligible",
         "principal": "bo@fabrikam.example", "created": "-P10D", "end": "P80D"},
    ],
}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An access repository (the working directory) with `schemas/`, `tenants/contoso/` (the
    example files) and `tenants/fabrikam/` (settings only; groups exported below), and one
    emulator tenant file per tenant."""
    root = tmp_path / "access"
    shutil.copytree(ROOT / "schemas", root / "schemas")
    shutil.copytree(ROOT / "examples" / "assignments", root / "tenants" / "contoso")
    fabrikam = root / "tenants" / "fabrikam"
    fabrikam.mkdir(parents=True)
    (fabrikam / "pim-reconciler.yaml").write_text(
        "# yaml-language-server: $schema=../../schemas/settings.schema.json\n"
        "tenant: fabrikam.onmicrosoft.com\nsafety:\n  max_removals: 3\n", encoding="utf-8")
    shutil.copy(ROOT / "examples" / "tenant.yaml", tmp_path / "contoso.yaml")
    (tmp_path / "fabrikam.yaml").write_text(yaml.safe_dump(FABRIKAM), encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def plan(name: str, tenant: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    run = run_cli("--now", NOW, "plan", f"tenants/{name}", "--emulator", str(tenant),
                  "--format", "json", *extra)
    return run.exit_code, run.json()


def test_two_tenant_folders_plan_separately(repo: Path) -> None:
    contoso, fabrikam = repo.parent / "contoso.yaml", repo.parent / "fabrikam.yaml"
    # adopt fabrikam's groups into its folder (modelines computed from the repository root)
    exported = run_cli("--now", NOW, "export", "--emulator", str(fabrikam), "--group",
                       "FAB-Admins", "--group", "FAB-Readers", "--out", "tenants/fabrikam")
    assert exported.exit_code == 0, exported.stderr
    for tenant_dir in ("contoso", "fabrikam"):
        assert run_cli("validate", f"tenants/{tenant_dir}").exit_code == 0
        for path in (repo / "tenants" / tenant_dir).rglob("*.yaml"):
            [ref] = MODELINE.findall(path.read_text(encoding="utf-8"))
            schema = (path.parent / ref).resolve()
            assert schema.parent == (repo / "schemas").resolve() and schema.is_file(), path

    code, fab = plan("fabrikam", fabrikam)
    assert code == 0 and fab["changes"] == [] and fab["problems"] == []  # adopted: in sync
    assert sorted(fab["removal_counts"]) and set(fab["desired_files"]) == {
        "pim-reconciler.yaml", "groups/fab-admins.yaml", "groups/fab-readers.yaml"}

    code, con = plan("contoso", contoso)
    example = run_cli("--now", NOW, "plan", str(ROOT / "examples" / "assignments"),
                      "--emulator", str(contoso), "--format", "json").json()
    assert code == 2 and len(con["changes"]) == len(example["changes"])
    for mine, theirs in zip(con["changes"], example["changes"], strict=True):
        assert mine["file"].startswith("tenants/contoso/groups/")  # relative, as given
        assert mine["file"].removeprefix("tenants/contoso/") == str(
            Path(theirs["file"]).relative_to(ROOT / "examples" / "assignments"))
        where = f"{ROOT / 'examples' / 'assignments'}/"
        assert {k: v for k, v in mine.items() if k != "file"} == {
            k: v.replace(where, "tenants/contoso/") if isinstance(v, str) else v
            for k, v in theirs.items() if k != "file"}
    assert set(con["desired_files"]) == set(example["desired_files"])

    # each tenant's settings file: its own title, and no mixing of tenants
    markdown = run_cli("--now", NOW, "plan", "tenants/fabrikam", "--emulator", str(fabrikam),
                       "--format", "markdown")
    assert "## PIM plan for fabrikam.onmicrosoft.com" in markdown.stdout
    code, crossed = plan("fabrikam", contoso)
    assert code == 1 and {p["code"] for p in crossed["problems"]} == {"group_not_found"}


def test_only_and_shard_in_a_tenant_folder(repo: Path) -> None:
    contoso = repo.parent / "contoso.yaml"
    code, data = plan("contoso", contoso, "--only", "groups/network-*.yaml")
    assert code == 2 and data["scope"]["groups"] == ["PIM-Network-Ops"]
    assert {c["file"] for c in data["changes"]} == {"tenants/contoso/groups/network-ops.yaml"}
    for i in (1, 2):  # the partition follows the groups' ids, not where the folder is
        _, here = plan("contoso", contoso, "--shard", f"{i}/2")
        there = run_cli("--now", NOW, "plan", str(ROOT / "examples" / "assignments"),
                        "--emulator", str(contoso), "--format", "json", "--shard", f"{i}/2")
        assert here["scope"]["groups"] == there.json()["scope"]["groups"]
        assert here["scope"]["declared"] == 8 and here["scope"]["groups"]


def test_the_repository_root_is_not_a_desired_state_directory(repo: Path) -> None:
    run = run_cli("validate", ".")
    assert run.exit_code == 1
    assert "settings belong in pim-reconciler.yaml at the top of ., not in " \
           "tenants/contoso/pim-reconciler.yaml" in run.stdout + run.stderr
