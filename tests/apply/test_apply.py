"""`apply` end to end through the CLI, the real msgraph-sdk and the emulator: convergence,
the fault matrix, stale saved plans and the five-minute rule."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.cliutil import run_cli

from .scenario import NOW, USERS, live_rows, requests, tenant, write


def apply(directory: Path, tenant_file: Path, *extra: str, now: str = NOW):
    return run_cli("--now", now, "apply", str(directory), "--emulator", str(tenant_file),
                   "--yes", "--format", "json", *extra)


def plan(directory: Path, tenant_file: Path, *extra: str, now: str | None = NOW):
    """`now` None: the tenant file's own clock (where the last apply left it)."""
    pinned = ("--now", now) if now else ()
    return run_cli(*pinned, "plan", str(directory), "--emulator", str(tenant_file),
                   "--format", "json", *extra)


def assert_converged(directory: Path, tenant_file: Path) -> None:
    replan = plan(directory, tenant_file, now=None)
    assert replan.exit_code == 0, replan.stdout
    rows = live_rows(tenant_file)
    identities = Counter((r["group"], r["access"], r["kind"], r["principal"]) for r in rows)
    assert all(n == 1 for n in identities.values()), identities  # no duplicate assignment
    assert len(rows) == 5  # a-d created, e updated, f removed


def test_clean_apply_converges_and_reports_each_change(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant())
    run = apply(directory, tenant_file)
    assert run.exit_code == 0, run.stdout + run.stderr
    report = run.json()
    assert report["summary"] == {"applied": 6, "deferred": 0, "failed": 0, "skipped": 0}
    assert [r["action"] for r in report["results"]] == ["create"] * 4 + ["update", "remove"]
    assert [r["graph_action"] for r in report["results"]][-2:] == ["adminUpdate", "adminRemove"]
    assert_converged(directory, tenant_file)
    actions = Counter(r["action"] for r in requests(tenant_file))
    assert actions == {"adminAssign": 4, "adminUpdate": 1, "adminRemove": 1}


def test_no_terminal_without_yes_refuses_and_writes_nothing(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant())
    run = run_cli("--now", NOW, "apply", str(directory), "--emulator", str(tenant_file))
    assert run.exit_code == 1
    assert "--yes" in run.stderr
    assert requests(tenant_file) == []


@pytest.mark.parametrize("fault", [
    pytest.param({"match": "POST */eligibilityScheduleRequests", "status": 429,
                  "retry_after": 2, "times": 6}, id="429-storm"),
    pytest.param({"match": "POST */eligibilityScheduleRequests", "kind": "committed",
                  "status": 503, "times": 3}, id="503-after-commit"),
    pytest.param({"match": "POST */eligibilityScheduleRequests", "kind": "committed",
                  "status": 504, "times": 2}, id="504-after-commit"),
    pytest.param({"match": "POST */eligibilityScheduleRequests", "kind": "failed",
                  "times": 3}, id="201-failed"),
    pytest.param({"match": "POST */eligibilityScheduleRequests", "kind": "lag",
                  "seconds": 20, "times": 4}, id="replication-lag"),
    pytest.param({"match": "POST */eligibilityScheduleRequests", "status": 404,
                  "code": "ResourceNotFound", "times": 2}, id="404-new-group"),
])
def test_fault_matrix_converges_without_unintended_changes(tmp_path: Path, fault) -> None:
    directory, tenant_file = write(tmp_path, tenant(faults=[fault]))
    first = apply(directory, tenant_file)
    assert first.exit_code == 0, first.stdout + first.stderr
    assert_converged(directory, tenant_file)
    saved = yaml.safe_load(tenant_file.read_text(encoding="utf-8"))
    assert not saved.get("faults"), "the injected fault did not fire as often as asked"
    removed = [r for r in requests(tenant_file) if r["action"] == "adminRemove"]
    assert {r["principal"] for r in removed} == {_id(tenant_file, USERS[5])}


def _id(tenant_file: Path, upn: str) -> str:
    data = yaml.safe_load(tenant_file.read_text(encoding="utf-8"))
    return next(u["id"] for u in data["users"] if u["userPrincipalName"] == upn)


def test_permission_denied_on_writes_writes_nothing(tmp_path: Path) -> None:
    read_only = ["PrivilegedEligibilitySchedule.Read.AzureADGroup",
                 "PrivilegedAssignmentSchedule.Read.AzureADGroup",
                 "RoleManagementPolicy.Read.AzureADGroup", "Directory.Read.All"]
    directory, tenant_file = write(tmp_path, tenant(granted_permissions=read_only))
    run = apply(directory, tenant_file)
    assert run.exit_code == 1
    report = run.json()
    # the emulator target signs in: its token's roles are the file's granted_permissions,
    # so the pre-flight check refuses before any write (Graph's 403 per write:
    # tests/graph/test_against_emulator.py::test_write_permission_denied_fails_with_typed_error)
    assert report["refused"] == (
        "the token lacks the Graph application permission(s) "
        "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup; nothing written")
    assert report["results"] == []
    assert requests(tenant_file) == []


def test_saved_plan_applies_exactly_what_was_reviewed(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant())
    saved = tmp_path / "plan.json"
    assert plan(directory, tenant_file, "--out", str(saved)).exit_code == 2
    run = apply(directory, tenant_file, "--plan", str(saved))
    assert run.exit_code == 0, run.stdout + run.stderr
    reviewed = json.loads(saved.read_text())["changes"]
    done = run.json()["results"]
    assert [(r["action"], r["principal"]) for r in done] == [
        (c["action"], c["principal"]) for c in reviewed]
    assert_converged(directory, tenant_file)


def test_saved_plan_refused_when_live_state_moved(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant())
    saved = tmp_path / "plan.json"
    plan(directory, tenant_file, "--out", str(saved))
    data = yaml.safe_load(tenant_file.read_text())
    data["schedules"].append({"group": "grp-app", "access": "member", "kind": "eligible",
                              "principal": USERS[6], "created": "2026-12-01T11:00:00Z",
                              "end": "2027-01-01T00:00:00Z", "memberType": "direct"})
    tenant_file.write_text(yaml.safe_dump(data, sort_keys=False))
    run = apply(directory, tenant_file, "--plan", str(saved))
    assert run.exit_code == 1
    assert "changed since the plan was made" in run.json()["refused"]
    assert "user-g@contoso.example" in run.json()["refused"]
    assert requests(tenant_file) == []


def test_saved_plan_refused_when_old_or_files_changed(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant())
    saved = tmp_path / "plan.json"
    plan(directory, tenant_file, "--out", str(saved))
    late = apply(directory, tenant_file, "--plan", str(saved), now="2026-12-01T13:30:00Z")
    assert late.exit_code == 1 and "plan again" in late.json()["refused"]
    (directory / "groups" / "app.yaml").write_text(
        (directory / "groups" / "app.yaml").read_text() + "# reviewed? no\n")
    edited = apply(directory, tenant_file, "--plan", str(saved))
    assert edited.exit_code == 1 and "desired files changed" in edited.json()["refused"]
    assert requests(tenant_file) == []


REMOVAL_TENANT = {
    "now": NOW,
    "users": [{"userPrincipalName": USERS[0], "displayName": "A"}],
    "groups": [{"displayName": "grp-app"}],
    "schedules": [{"group": "grp-app", "access": "member", "kind": "active",
                   "principal": USERS[0], "created": "-PT2M", "end": "P30D",
                   "assignmentType": "assigned", "memberType": "direct"}],
}


def test_removal_within_five_minutes_waits_when_asked(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, REMOVAL_TENANT,
                                   "group: grp-app\nmembers:\n  active: []\n")
    deferred = apply(directory, tenant_file)
    assert deferred.exit_code == 3
    assert deferred.json()["results"][0]["not_before"] == "2026-12-01T12:03:00Z"
    assert requests(tenant_file) == []
    waited = apply(directory, tenant_file, "--wait-deferred", "6m")
    assert waited.exit_code == 0, waited.stdout
    assert [r["action"] for r in requests(tenant_file)] == ["adminRemove"]
    assert live_rows(tenant_file) == []


def test_wait_bound_shorter_than_the_deferral_still_defers(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, REMOVAL_TENANT,
                                   "group: grp-app\nmembers:\n  active: []\n")
    run = apply(directory, tenant_file, "--wait-deferred", "1m")
    assert run.exit_code == 3
    assert requests(tenant_file) == []


def test_audit_log_has_one_line_per_outcome(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant())
    log = tmp_path / "audit.jsonl"
    assert apply(directory, tenant_file, "--audit-log", str(log)).exit_code == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 6
    assert all(line["outcome"] == "applied" and line["at"] for line in lines)
    assert "token" not in log.read_text().lower()


def test_examples_converge_after_the_deferral(tmp_path: Path, examples: Path) -> None:
    tenant_file = tmp_path / "tenant.yaml"
    tenant_file.write_text((examples / "tenant.yaml").read_text())
    directory = examples / "assignments"
    first = apply(directory, tenant_file)
    assert first.exit_code == 3, first.stdout
    replan = plan(directory, tenant_file)
    assert replan.exit_code == 2
    assert all(c["not_before"] for c in replan.json()["changes"])
    second = apply(directory, tenant_file, "--wait-deferred", "6m")
    assert second.exit_code == 0, second.stdout
    assert plan(directory, tenant_file).exit_code == 0


def _edit_saved(saved: Path, edit) -> None:
    data = json.loads(saved.read_text())
    edit(data)
    saved.write_text(json.dumps(data))


def test_saved_plan_with_edited_changes_is_refused(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant())
    saved = tmp_path / "plan.json"
    plan(directory, tenant_file, "--out", str(saved))
    other = json.loads(saved.read_text())["changes"][1]["principal_id"]

    def swap_principal(data):  # someone points a reviewed create at another principal
        data["changes"][0]["principal_id"] = other

    _edit_saved(saved, swap_principal)
    run = run_cli("--now", NOW, "apply", str(directory), "--emulator", str(tenant_file),
                  "--yes", "--plan", str(saved))
    assert run.exit_code == 1 and "edited after it was made" in run.stderr
    assert requests(tenant_file) == []

    def drop_removal_and_fix_checksum(data):  # ... and recomputes the checksum to match
        from reconciler.plan.changes import Plan

        data["changes"] = [c for c in data["changes"] if c["action"] != "remove"]
        data["checksum"] = Plan.from_dict(data).checksum

    plan(directory, tenant_file, "--out", str(saved))
    _edit_saved(saved, drop_removal_and_fix_checksum)
    run = apply(directory, tenant_file, "--plan", str(saved))
    assert run.exit_code == 1
    assert "now also: remove eligible member user-f@contoso.example" in run.json()["refused"]
    assert requests(tenant_file) == []


def test_saved_plan_that_is_not_a_plan_is_refused(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant())
    saved = tmp_path / "plan.json"
    plan(directory, tenant_file, "--out", str(saved))
    _edit_saved(saved, lambda data: data["changes"][0].__setitem__("end", 12))
    run = run_cli("--now", NOW, "apply", str(directory), "--emulator", str(tenant_file),
                  "--yes", "--plan", str(saved))
    assert run.exit_code == 1
    assert "is not a pim-reconciler plan: changes/0/end" in run.stderr
    saved.write_text("{not json")
    run = run_cli("--now", NOW, "apply", str(directory), "--emulator", str(tenant_file),
                  "--yes", "--plan", str(saved))
    assert run.exit_code == 1 and "not readable JSON" in run.stderr


def test_write_never_seen_is_not_counted_as_applied(tmp_path: Path) -> None:
    # the new schedules stay invisible longer than the verification window (90 s)
    lag = {"match": "POST */eligibilityScheduleRequests", "kind": "lag", "seconds": 600}
    directory, tenant_file = write(tmp_path, tenant(faults=[lag]))
    run = apply(directory, tenant_file)
    assert run.exit_code == 1
    creates = [r for r in run.json()["results"] if r["action"] == "create"]
    assert {r["outcome"] for r in creates} == {"failed"}
    assert {r["graph_code"] for r in creates} == {"NotVerified"}
    assert all(r["request_id"] for r in creates)
    # once replication catches up, the next run has nothing left to create
    assert plan(directory, tenant_file, now="2026-12-01T12:30:00Z").json()["summary"]["create"] == 0


def test_refused_or_deferred_runs_leave_the_tenant_file_as_written(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, REMOVAL_TENANT,
                                   "group: grp-app\nmembers:\n  active: []\n")
    tenant_file.write_text("# the user's comment\n" + tenant_file.read_text())
    before = tenant_file.read_bytes()
    assert apply(directory, tenant_file).exit_code == 3  # deferred only: nothing sent
    assert tenant_file.read_bytes() == before
    later = apply(directory, tenant_file, now="2026-12-01T12:01:00Z")  # relative times stay
    assert later.exit_code == 3                                   # anchored to the file's now
    assert later.json()["results"][0]["not_before"] == "2026-12-01T12:03:00Z"
    assert tenant_file.read_bytes() == before


def test_saved_plan_refused_when_the_clock_is_behind_it(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant())
    saved = tmp_path / "plan.json"
    plan(directory, tenant_file, "--out", str(saved))
    run = apply(directory, tenant_file, "--plan", str(saved), now="2026-12-01T11:50:00Z")
    assert run.exit_code == 1 and "clock" in run.json()["refused"]
    assert requests(tenant_file) == []
