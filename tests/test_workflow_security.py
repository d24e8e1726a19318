"""The workflows' supply chain (issue 16): every action pinned by commit SHA with its version
in a comment (ours, the example caller repository's and action.yml's), the reusable workflows
running the action of their own commit, checkouts without persisted credentials, and
zizmor's offline audits finding nothing of medium severity or higher on .github/workflows,
action.yml and examples/access-repo/.github/workflows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
EXAMPLE = ROOT / "examples" / "access-repo" / ".github" / "workflows"
EXAMPLE_WORKFLOWS = sorted(EXAMPLE.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
# The reusable workflows run the action from their own commit, checked out here first.
LOCAL_ACTION = "./.pim-reconciler-action"
REUSABLE = ("pim-plan.yml", "pim-apply.yml", "pim-drift.yml")


def _steps(path: Path) -> list[dict]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "pim-plan.yml", "pim-apply.yml",
                                           "pim-drift.yml"}


@pytest.mark.parametrize("path", WORKFLOWS + EXAMPLE_WORKFLOWS + [ROOT / "action.yml"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_action_is_pinned_by_commit_sha_with_its_version(path: Path) -> None:
    lines = [line.split("uses:", 1)[1].strip() for line in path.read_text().splitlines()
             if re.match(r"^\s*(- )?(id: \w+\s+)?uses:", line)]
    assert lines, path
    assert [u for u in lines if not PINNED.match(u) and u != LOCAL_ACTION] == []


GUARD = yaml.safe_load((ROOT / ".github" / "workflows" / "pim-plan.yml").read_text(
    encoding="utf-8"))["jobs"]["plan"]["steps"][0]


@pytest.mark.parametrize(("repository", "sha", "code"), [
    ("pim-reconciler/pim-reconciler", "0123456789abcdef0123456789abcdef01234567", 0),
    ("", "0123456789abcdef0123456789abcdef01234567", 1),
    ("pim-reconciler/pim-reconciler", "", 1),
])
def test_the_guard_refuses_a_runner_without_the_workflows_own_commit(
        repository: str, sha: str, code: int) -> None:
    """Without job.workflow_repository / job.workflow_sha, actions/checkout would check out the
    caller's repository, and `uses: ./.pim-reconciler-action` would run the pull request's."""
    env = {"PATH": os.environ["PATH"], "WORKFLOW_REPOSITORY": repository, "WORKFLOW_SHA": sha}
    done = subprocess.run(["bash", "-e", "-c", GUARD["run"]], env=env, capture_output=True,
                          text=True)
    assert done.returncode == code
    assert ("::error title=pim-reconciler::" in done.stdout) == bool(code)


@pytest.mark.parametrize("name", REUSABLE)
def test_reusable_workflows_run_the_action_of_their_own_commit(name: str) -> None:
    """`uses: ./x` resolves in the caller's workspace: every job that uses the local action
    first checks out job.workflow_repository at job.workflow_sha (the commit the caller pinned)
    into that folder, and the caller's files into another (access/)."""
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    assert set(doc[True]) == {"workflow_call"}  # PyYAML reads `on:` as True
    for job_id, job in doc["jobs"].items():
        steps = job["steps"]
        guard, first = steps[0], steps[1]
        assert guard["run"] == GUARD["run"] and guard["env"] == GUARD["env"], job_id
        assert first["uses"].startswith("actions/checkout@"), job_id
        assert first["with"] == {"repository": "${{ job.workflow_repository }}",
                                 "ref": "${{ job.workflow_sha }}",
                                 "path": LOCAL_ACTION[2:], "persist-credentials": False}
        for step in steps[2:]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["path"] == "access", job_id
            if step.get("uses") == LOCAL_ACTION:
                assert step["with"]["working-directory"] == "access", job_id


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_do_not_persist_credentials(path: Path) -> None:
    checkouts = [s for s in _steps(path) if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkouts, path
    assert [s for s in checkouts if (s.get("with") or {}).get("persist-credentials") is not False] \
        == []


def test_zizmor_reports_nothing_of_medium_or_higher() -> None:
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    if zizmor is None:
        assert os.environ.get("CI") != "true", "zizmor is required under CI=true"
        pytest.skip("zizmor is not installed (pip install -e '.[test]' installs it)")
    done = subprocess.run(
        [zizmor, "--offline", "--min-severity", "medium", "--no-progress",
         str(ROOT / ".github" / "workflows"), str(ROOT / "action.yml"), str(EXAMPLE)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
