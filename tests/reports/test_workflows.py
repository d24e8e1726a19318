"""The GitHub workflows: valid against check-jsonschema's bundled GitHub workflow schema
(offline), and the properties the issue asks for (permissions, fork guard, concurrency, the
comment and issue wiring)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
NAMES = ["ci.yml", "pim-apply.yml", "pim-drift.yml", "pim-plan.yml"]


def load(name: str) -> dict:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_all_workflows_present():
    assert {p.name for p in WORKFLOWS} >= set(NAMES)


def test_workflows_validate_against_the_bundled_schema_offline():
    tool = Path(sys.executable).with_name("check-jsonschema")
    # An unusable proxy: any attempt to reach the network would fail the run.
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "NO_PROXY": ""}
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_every_job_states_minimal_permissions(name: str):
    data = load(name)
    assert "pull_request_target" not in data["on"]
    for job_name, job in data["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{name}:{job_name} has no permissions block"
        assert set(perms.values()) <= {"read", "write"}
        assert perms.get("contents") == "read"
        assert "write" not in {perms.get("contents"), perms.get("actions"),
                               perms.get("packages")}


def _action_steps(job: dict) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses") == "./.pim-reconciler-action"]


def test_plan_workflow_guards_forks_and_comments_once():
    data = load("pim-plan.yml")
    assert list(data["on"]) == ["workflow_call"]  # the caller triggers on pull_request
    plan = data["jobs"]["plan"]
    assert plan["needs"] == ["matrix", "validate"]
    assert plan["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert plan["permissions"] == {"contents": "read", "id-token": "write",
                                   "pull-requests": "write"}
    assert data["jobs"]["validate"]["permissions"] == {"contents": "read"}
    [validate] = _action_steps(data["jobs"]["validate"])
    assert validate["with"]["command"] == "validate" and "client-id" not in validate["with"]
    [step] = _action_steps(plan)
    assert step["with"]["command"] == "plan" and step["with"].get("comment", "true") == "true"
    assert "reader-client-id" in step["with"]["client-id"]
    text = (ROOT / ".github" / "workflows" / "pim-plan.yml").read_text(encoding="utf-8")
    assert "azure/login" not in text
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    # the sticky comment (action.yml): plan on a pull request, the prepare step's file and marker
    comment = next(s for s in action["runs"]["steps"] if s.get("id") == "comment")
    assert "inputs.command == 'plan'" in comment["if"]
    assert "github.event_name == 'pull_request'" in comment["if"]
    assert comment["env"]["COMMENT_FILE"] == "${{ steps.prepare.outputs.comment-file }}"
    assert comment["env"]["COMMENT_MARKER"] == "${{ steps.prepare.outputs.comment-marker }}"
    assert action["inputs"]["credential"]["default"] == "github-oidc"


def test_apply_workflow_is_serialised_and_protected():
    data = load("pim-apply.yml")
    apply = data["jobs"]["apply"]
    assert apply["concurrency"]["cancel-in-progress"] is False
    assert apply["concurrency"]["group"].startswith("pim-reconciler-apply-")
    assert apply["environment"] == "${{ inputs.environment }}"
    assert data["on"]["workflow_call"]["inputs"]["environment"]["default"] == "pim-production"
    assert apply["needs"] == ["matrix", "plan"]
    assert apply["if"] == "needs.plan.outputs.changes == 'true'"
    [plan_step] = _action_steps(data["jobs"]["plan"])
    assert "reader-client-id" in plan_step["with"]["client-id"]
    [step] = _action_steps(apply)
    assert step["with"]["command"] == "apply"
    assert "writer-client-id" in step["with"]["client-id"]
    run_sh = (ROOT / "action" / "run.sh").read_text(encoding="utf-8")
    assert "--yes" in run_sh and '--audit-log "$OUT/audit.jsonl"' in run_sh
    assert "::warning title=PIM apply: changes deferred::" in run_sh


def test_drift_workflow_manages_one_labelled_issue():
    data = load("pim-drift.yml")
    assert list(data["on"]) == ["workflow_call"]  # the caller schedules it
    job = data["jobs"]["drift"]
    assert job["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    text = (ROOT / ".github" / "workflows" / "pim-drift.yml").read_text(encoding="utf-8")
    assert "<!-- pim-reconciler-drift-issue: ${where} -->" in text and "'pim-drift'" in text
    # the issue step's calls: tests/test_action.py runs its script in Node


def test_drift_workflow_uploads_the_access_report_and_links_it():
    steps = load("pim-drift.yml")["jobs"]["drift"]["steps"]
    commands = [s["with"]["command"] for s in steps if s.get("uses") == "./.pim-reconciler-action"]
    assert commands == ["drift", "report"]  # the action uploads each output folder
    run_sh = (ROOT / "action" / "run.sh").read_text(encoding="utf-8")
    assert '--out "$OUT/access-report"' in run_sh
