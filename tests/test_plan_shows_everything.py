"""One plan shows every offline problem, every live problem and every valid change; it exits 1
and `apply` refuses it whole. Times shown are the run's clock, in whole seconds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reconciler.config import load_desired
from reconciler.desired.model import Access, Kind
from tests.cliutil import run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "assignments"
TENANT = str(ROOT / "examples" / "tenant.yaml")
NOW = "2026-12-01T12:00:00Z"

BROKEN = """\
group: PIM-Platform-Admins
members:
  eligible:
    - principal: amara.okafor@contoso.example
      duration: PT4M
    - principal: nobody.here@contoso.example
      duration: P30D
"""


@pytest.fixture
def bad_dir(tmp_path: Path) -> Path:
    """The example repository with platform-admins replaced by a file holding one too-short
    duration and one unknown principal; every other group is valid."""
    root = tmp_path / "access"
    shutil.copytree(EXAMPLES, root)
    (root / "groups" / "platform-admins.yaml").write_text(BROKEN, encoding="utf-8")
    return root


def _problem_codes(plan: dict) -> set[str]:
    return {p["code"] for p in plan["problems"] if p["severity"] == "error"}


def test_json_plan_lists_both_problems_and_the_valid_changes(bad_dir: Path) -> None:
    run = run_cli("plan", str(bad_dir), "--emulator", TENANT, "--now", NOW, "--format", "json")
    assert run.exit_code == 1
    plan = run.json()
    assert _problem_codes(plan) == {"duration_too_short", "principal_not_found"}
    by_code = {p["code"]: p for p in plan["problems"]}
    assert by_code["principal_not_found"]["principal"] == "nobody.here@contoso.example"
    assert by_code["principal_not_found"]["group"] == "PIM-Platform-Admins"
    assert by_code["duration_too_short"]["line"] == 5
    groups = {c["group"] for c in plan["changes"]}
    # the other groups' changes are all there (the example plan has changes in these)
    assert {"PIM-Network-Ops", "PIM-Security-Readers"} <= groups
    # the broken section's live rows are not removed: their entries could not be judged
    assert not [c for c in plan["changes"]
                if c["group"] == "PIM-Platform-Admins" and c["action"] == "remove"
                and c["kind"] == "eligible" and c["access"] == "member"]


def test_text_and_markdown_show_the_same(bad_dir: Path) -> None:
    for fmt in ("text", "markdown"):
        run = run_cli("plan", str(bad_dir), "--emulator", TENANT, "--now", NOW, "--format", fmt)
        assert run.exit_code == 1, fmt
        assert "duration_too_short" in run.stdout, fmt
        assert "principal_not_found" in run.stdout, fmt
        assert "PIM-Network-Ops" in run.stdout, fmt
        assert "backup-runner" in run.stdout, fmt  # one of Network-Ops' creates


def test_apply_refuses_the_whole_plan(bad_dir: Path, tmp_path: Path) -> None:
    tenant = tmp_path / "tenant.yaml"
    shutil.copy(TENANT, tenant)
    before = tenant.read_bytes()
    run = run_cli("apply", str(bad_dir), "--emulator", str(tenant), "--now", NOW, "--yes")
    assert run.exit_code == 1
    assert tenant.read_bytes() == before  # nothing written


def test_partial_load_keeps_valid_entries_and_marks_the_broken_section(bad_dir: Path) -> None:
    state, problems = load_desired(bad_dir, partial=True)
    assert state is not None
    assert {p.code.value for p in problems if p.is_error} == {"duration_too_short"}
    admins = next(g for g in state.groups if g.group == "PIM-Platform-Admins")
    assert [a.principal.value for a in admins.assignments] == ["nobody.here@contoso.example"]
    assert admins.incomplete == frozenset({(Access.MEMBER, Kind.ELIGIBLE)})
    assert admins.usable
    strict, _ = load_desired(bad_dir)
    assert strict is None  # validate / apply keep the all-or-nothing contract


def test_a_file_level_error_leaves_that_group_out(tmp_path: Path) -> None:
    root = tmp_path / "access"
    shutil.copytree(EXAMPLES, root)
    (root / "groups" / "platform-admins.yaml").write_text(
        "group: PIM-Platform-Admins\nmode: authorative\nmembers:\n  eligible: []\n",
        encoding="utf-8")
    state, problems = load_desired(root, partial=True)
    assert state is not None
    assert [p.code.value for p in problems if p.is_error] == ["schema"]
    assert "PIM-Platform-Admins" not in {g.group for g in state.groups}
    assert len(state.groups) == len(list((EXAMPLES / "groups").glob("*.yaml"))) - 1


def test_markdown_generated_line_uses_the_run_clock_in_whole_seconds(tmp_path: Path) -> None:
    # nothing readable: the plan is made from the problems alone, at the run's clock
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "groups").mkdir()
    (empty / "groups" / "x.yaml").write_text("group: [unclosed\n", encoding="utf-8")
    run = run_cli("plan", str(empty), "--emulator", TENANT, "--now", "2026-12-01T12:00:00.507650Z",
                  "--format", "markdown")
    assert run.exit_code == 1
    assert "yaml_syntax" in run.stdout
    assert "2026-12-01T12:00:00Z" in run.stdout
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d+Z", run.stdout)


def test_now_is_accepted_after_the_subcommand() -> None:
    after = run_cli("plan", str(EXAMPLES), "--emulator", TENANT, "--now", NOW, "--format", "json")
    before = run_cli("--now", NOW, "plan", str(EXAMPLES), "--emulator", TENANT, "--format", "json")
    assert after.exit_code == before.exit_code == 2
    assert after.json()["generated_at"] == before.json()["generated_at"] == NOW
    clash = run_cli("--now", NOW, "plan", str(EXAMPLES), "--emulator", TENANT,
                    "--now", "2026-12-02T12:00:00Z")
    assert clash.exit_code == 1
    assert "--now given twice" in clash.stderr
