"""The GitHub workflows: valid against check-jsonschema's bundled GitHub workflow schema
(offline), and the properties the issue asks for (permissions, fork guard, concurrency,
markers shared with the renderers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.render.drift import ISSUE_MARKER
from reconciler.render.markdown import COMMENT_MARKER

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
NAMES = ["ci.yml", "pim-apply.yml", "pim-drift.yml", "pim-plan.yml"]


def load(name: str) -> dict:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_all_workflows_present():
    assert [p.name for p in WORKFLOWS] == NAMES


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


def test_plan_workflow_guards_forks_and_comments_once():
    data = load("pim-plan.yml")
    assert data["on"]["pull_request"]["paths"][0] == "assignments/**"
    plan = data["jobs"]["plan"]
    assert plan["needs"] == "validate"
    assert plan["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert plan["permissions"] == {"contents": "read", "id-token": "write",
                                   "pull-requests": "write"}
    assert data["jobs"]["validate"]["permissions"] == {"contents": "read"}
    text = (ROOT / ".github" / "workflows" / "pim-plan.yml").read_text(encoding="utf-8")
    assert COMMENT_MARKER in text and "--credential github-oidc" in text
    assert "azure/login" not in text
    assert plan["env"]["AZURE_CLIENT_ID"] == "${{ vars.PIM_READER_CLIENT_ID }}"


def test_apply_workflow_is_serialised_and_protected():
    data = load("pim-apply.yml")
    assert data["concurrency"] == {"group": "pim-apply", "cancel-in-progress": False}
    assert "schedule" in data["on"] and data["on"]["push"]["branches"] == ["main"]
    apply = data["jobs"]["apply"]
    assert apply["environment"] == "pim-production"
    assert apply["env"]["AZURE_CLIENT_ID"] == "${{ vars.PIM_WRITER_CLIENT_ID }}"
    assert data["jobs"]["plan"]["env"]["AZURE_CLIENT_ID"] == "${{ vars.PIM_READER_CLIENT_ID }}"
    script = "\n".join(s.get("run", "") for s in apply["steps"])
    assert "--yes" in script and "--audit-log audit.jsonl" in script
    assert "3) echo \"::warning" in script
    assert any(s.get("uses", "").startswith("actions/upload-artifact")
               and s["with"]["path"] == "audit.jsonl" for s in apply["steps"])


def test_drift_workflow_manages_one_labelled_issue():
    data = load("pim-drift.yml")
    assert list(data["on"]) == ["schedule", "workflow_dispatch"]
    job = data["jobs"]["drift"]
    assert job["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    text = (ROOT / ".github" / "workflows" / "pim-drift.yml").read_text(encoding="utf-8")
    assert ISSUE_MARKER in text and "'pim-drift'" in text


def test_drift_workflow_uploads_the_access_report_and_links_it():
    steps = load("pim-drift.yml")["jobs"]["drift"]["steps"]
    by_id = {s.get("id"): s for s in steps if s.get("id")}
    assert "pim-reconciler report \"$ASSIGNMENTS_DIR\"" in by_id["report"]["run"]
    assert "--out access-report" in by_id["report"]["run"]
    assert by_id["upload"]["uses"].startswith("actions/upload-artifact@")
    assert by_id["upload"]["with"]["path"] == "access-report/"
    link = next(s for s in steps if s.get("name") == "Link the access report in the summary")
    assert link["env"]["REPORT_URL"] == "${{ steps.upload.outputs.artifact-url }}"
    assert "$GITHUB_STEP_SUMMARY" in link["run"]
