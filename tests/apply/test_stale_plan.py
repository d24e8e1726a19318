"""`apply --plan` refuses a saved plan when live state moved since review, even when the
changes a plan made now would write are the same, and says what moved: per group, the
assignment added, removed or changed live, or the policy rule changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from reconciler.plan.changes import load_plan_file

from .scenario import NOW, USERS, requests, tenant, write
from .test_apply import apply, plan

# an unmanaged section for the saved plan to stay blind to: owners are not in the file
OWNER_ROW = {"group": "grp-app", "access": "owner", "kind": "eligible", "principal": USERS[7],
             "created": "-P10D", "end": "2027-01-10T00:00:00Z", "memberType": "direct"}


def _saved_plan(tmp_path: Path, data: dict[str, Any]) -> tuple[Path, Path, Path, list[Any]]:
    directory, tenant_file = write(tmp_path, data)
    saved = tmp_path / "plan.json"
    assert plan(directory, tenant_file, "--out", str(saved)).exit_code == 2
    return directory, tenant_file, saved, json.loads(saved.read_text())["changes"]


def _edit_tenant(tenant_file: Path, edit: Any) -> None:
    data = yaml.safe_load(tenant_file.read_text(encoding="utf-8"))
    edit(data)
    tenant_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _refused(directory: Path, tenant_file: Path, saved: Path, changes: list[Any]) -> str:
    """Apply the saved plan: refused, exit 1, nothing written, though the changes match."""
    again = plan(directory, tenant_file)
    assert again.json()["changes"] == changes  # what would be written did not move
    run = apply(directory, tenant_file, "--plan", str(saved))
    assert run.exit_code == 1, run.stdout + run.stderr
    assert requests(tenant_file) == []
    reason: str = run.json()["refused"]
    assert reason.startswith("live PIM state changed since the plan was made: ")
    assert reason.endswith("; plan again")
    assert "a plan made now differs" not in reason
    return reason


def test_saved_plan_keeps_a_snapshot_of_what_it_was_made_from(tmp_path: Path) -> None:
    _, _, saved, _ = _saved_plan(tmp_path, tenant(schedules=[*tenant()["schedules"], OWNER_ROW]))
    data = json.loads(saved.read_text())
    [(gid, group)] = data["live_snapshot"]["groups"].items()
    assert data["live_snapshot"]["names"][gid] == "grp-app"
    owner = [row for key, row in group["schedules"].items() if key.startswith("owner eligible")]
    assert [row["end"] for row in owner] == ["2027-01-10T00:00:00Z"]
    assert set(group["policies"]) == {"member", "owner"}
    loaded = load_plan_file(str(saved))  # schema-valid, snapshot consistent
    assert loaded.live_fingerprint == data["live_fingerprint"]


def test_unmanaged_schedule_added_live_refuses_and_names_it(tmp_path: Path) -> None:
    directory, tenant_file, saved, changes = _saved_plan(tmp_path, tenant())
    _edit_tenant(tenant_file, lambda d: d["schedules"].append(OWNER_ROW))

    reason = _refused(directory, tenant_file, saved, changes)

    assert ("grp-app: owner eligible user-h@contoso.example added live "
            "(until 2027-01-10T00:00:00Z)") in reason


def test_unmanaged_schedule_end_moved_refuses_and_names_it(tmp_path: Path) -> None:
    data = tenant(schedules=[*tenant()["schedules"], OWNER_ROW])
    directory, tenant_file, saved, changes = _saved_plan(tmp_path, data)

    def extend(d: dict[str, Any]) -> None:
        d["schedules"][-1]["end"] = "2027-02-01T00:00:00Z"

    _edit_tenant(tenant_file, extend)
    reason = _refused(directory, tenant_file, saved, changes)

    assert ("grp-app: owner eligible user-h@contoso.example changed live: "
            "end 2027-01-10T00:00:00Z -> 2027-02-01T00:00:00Z") in reason


def test_unmanaged_schedule_removed_live_refuses_and_names_it(tmp_path: Path) -> None:
    data = tenant(schedules=[*tenant()["schedules"], OWNER_ROW])
    directory, tenant_file, saved, changes = _saved_plan(tmp_path, data)
    _edit_tenant(tenant_file, lambda d: d["schedules"].pop())

    reason = _refused(directory, tenant_file, saved, changes)

    assert ("grp-app: owner eligible user-h@contoso.example removed live "
            "(was until 2027-01-10T00:00:00Z)") in reason


def test_policy_rule_changed_live_refuses_and_names_it(tmp_path: Path) -> None:
    directory, tenant_file, saved, changes = _saved_plan(tmp_path, tenant())

    def shorter_activation(d: dict[str, Any]) -> None:
        d["policies"] = [{"group": "grp-app", "access": "owner", "rules": {
            "Expiration_EndUser_Assignment": {"maximumDuration": "PT2H"}}}]

    _edit_tenant(tenant_file, shorter_activation)
    reason = _refused(directory, tenant_file, saved, changes)

    assert "grp-app: owner policy rule Expiration_EndUser_Assignment changed: " in reason
    assert "-> PT2H" in reason


def test_managed_move_names_the_live_change_and_the_plan_difference(tmp_path: Path) -> None:
    directory, tenant_file, saved, _ = _saved_plan(tmp_path, tenant())
    _edit_tenant(tenant_file, lambda d: d["schedules"].append(
        {"group": "grp-app", "access": "member", "kind": "eligible", "principal": USERS[6],
         "created": "-P1D", "end": "2027-01-01T00:00:00Z", "memberType": "direct"}))

    run = apply(directory, tenant_file, "--plan", str(saved))

    assert run.exit_code == 1 and requests(tenant_file) == []
    reason = run.json()["refused"]
    assert "grp-app: member eligible user-g@contoso.example added live" in reason
    assert ("a plan made now differs: now also: remove eligible member "
            "user-g@contoso.example in grp-app") in reason


def test_edited_snapshot_is_refused_as_an_edited_plan(tmp_path: Path) -> None:
    data = tenant(schedules=[*tenant()["schedules"], OWNER_ROW])
    directory, tenant_file, saved, _ = _saved_plan(tmp_path, data)
    plan_data = json.loads(saved.read_text())
    for group in plan_data["live_snapshot"]["groups"].values():
        for row in group["schedules"].values():
            row["end"] = None
    saved.write_text(json.dumps(plan_data), encoding="utf-8")

    run = apply(directory, tenant_file, "--plan", str(saved))

    assert run.exit_code == 1 and "live snapshot does not match" in run.stderr
    assert requests(tenant_file) == []


def test_a_plan_without_a_snapshot_still_refuses_by_fingerprint(tmp_path: Path) -> None:
    directory, tenant_file, saved, _ = _saved_plan(tmp_path, tenant())
    plan_data = json.loads(saved.read_text())
    del plan_data["live_snapshot"]  # as saved before snapshots existed
    saved.write_text(json.dumps(plan_data), encoding="utf-8")
    _edit_tenant(tenant_file, lambda d: d["schedules"].append(OWNER_ROW))

    run = apply(directory, tenant_file, "--plan", str(saved), now=NOW)

    assert run.exit_code == 1 and requests(tenant_file) == []
    assert run.json()["refused"] == ("live PIM state changed since the plan was made: its "
                                     "fingerprint differs; plan again")


def test_files_changed_since_the_plan_are_named(tmp_path: Path) -> None:
    directory, tenant_file, saved, _ = _saved_plan(tmp_path, tenant())
    app = directory / "groups" / "app.yaml"
    app.write_text(app.read_text(encoding="utf-8") + "# reviewed?\n", encoding="utf-8")
    (directory / "groups" / "ops.yaml").write_text("group: grp-app-ops\n", encoding="utf-8")

    run = apply(directory, tenant_file, "--plan", str(saved))

    assert run.exit_code == 1 and requests(tenant_file) == []
    assert run.json()["refused"] == ("the desired files changed since the plan was made: "
                                     "groups/app.yaml changed, groups/ops.yaml added; "
                                     "plan again")


def test_edited_file_digests_are_refused_as_an_edited_plan(tmp_path: Path) -> None:
    directory, tenant_file, saved, _ = _saved_plan(tmp_path, tenant())
    plan_data = json.loads(saved.read_text())
    plan_data["desired_files"]["groups/app.yaml"] = "0" * 64
    saved.write_text(json.dumps(plan_data), encoding="utf-8")

    run = apply(directory, tenant_file, "--plan", str(saved))

    assert run.exit_code == 1 and "desired files do not match" in run.stderr
    assert requests(tenant_file) == []


def test_what_moved_says_how_many_it_leaves_out(tmp_path: Path) -> None:
    """Five differences are named; the rest were dropped without a word."""
    import dataclasses

    from reconciler.apply.saved import _moved
    from tests.cliutil import run_cli

    out = tmp_path / "plan.json"
    run = run_cli("plan", "examples/assignments", "--emulator", "examples/tenant.yaml",
                  "--out", str(out))
    assert run.exit_code == 2, run.stderr
    saved = load_plan_file(str(out))
    assert len(saved.changes) == 6
    text = _moved(saved, dataclasses.replace(saved, changes=()))
    assert text.count("no longer: ") == 5 and text.endswith("; and 1 more")
    one = _moved(saved, dataclasses.replace(saved, changes=saved.changes[1:]))
    assert one.startswith("no longer: ") and ";" not in one  # one difference, nothing left out


def test_an_apply_that_writes_shows_the_warnings_it_went_ahead_with(tmp_path: Path) -> None:
    """The plan warned `license_missing`; an apply that wrote the change said nothing."""
    from tests.cliutil import run_cli

    data = yaml.safe_load(Path("examples/tenant.yaml").read_text(encoding="utf-8"))
    for user in data["users"]:
        if user["userPrincipalName"] == "jonas.berg@contoso.example":
            user["assignedPlans"] = []  # unlicensed, and made eligible by network-ops.yaml
    tenant_file = tmp_path / "tenant.yaml"
    tenant_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = run_cli("apply", "examples/assignments", "--emulator", str(tenant_file), "--yes")
    assert run.exit_code == 3, run.stderr  # converged except one deferred removal
    assert "applied  create eligible member jonas.berg@contoso.example in PIM-Network-Ops" \
        in run.stdout
    assert run.stderr.splitlines()[0].startswith(
        "examples/assignments/groups/network-ops.yaml:8: warning: license_missing: "
        "jonas.berg@contoso.example is made eligible in 'PIM-Network-Ops'")


def test_what_moved_names_groups_and_rows_when_little_is_shared() -> None:
    """DeepDiff reports a whole mapping changed when under a third of its keys are shared
    (its default threshold); what moved still names each group and row, and a group read by
    both plans is not "read for the first time"."""
    from reconciler.live.snapshot import moved

    def snap(groups: dict[str, Any]) -> dict[str, Any]:
        return {"groups": groups, "names": {"u1": "ana", "u2": "bo", "u4": "cy"}}

    def group(*rows: tuple[str, str]) -> dict[str, Any]:
        return {"schedules": {f"member eligible {p} direct": {"end": end} for p, end in rows},
                "policies": {}}

    kept = group(("u1", "2027-01-01T00:00:00Z"))
    shard = snap({"g1": kept, "g2": group()})
    whole = snap({"g1": kept, "g3": group(), "g4": group(), "g5": group()})
    assert moved(shard, whole) == ["g2: no longer read", "g3: read for the first time",
                                   "g4: read for the first time", "g5: read for the first time"]
    # one row of four shared: each row named, not "g1: schedules changed"
    before = snap({"g1": group(("u1", "2027-01-01T00:00:00Z"), ("u2", "2027-01-01T00:00:00Z"),
                               ("u3", "2027-01-01T00:00:00Z"))})
    after = snap({"g1": group(("u1", "2027-01-01T00:00:00Z"), ("u4", "2027-02-01T00:00:00Z"))})
    assert moved(before, after) == [
        "g1: member eligible bo direct removed live (was until 2027-01-01T00:00:00Z)",
        "g1: member eligible u3 direct removed live (was until 2027-01-01T00:00:00Z)",
        "g1: member eligible cy direct added live (until 2027-02-01T00:00:00Z)"]
