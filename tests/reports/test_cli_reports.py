"""`drift` and `export` end to end on the example tenant (in-process emulator, click runner)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from tests.cliutil import run_cli

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-01T12:00:00Z"
SCHEMA = json.loads((ROOT / "schemas" / "drift.schema.json").read_text(encoding="utf-8"))


@pytest.fixture
def tenant(tmp_path: Path) -> str:
    copy = tmp_path / "tenant.yaml"
    shutil.copy(ROOT / "examples" / "tenant.yaml", copy)
    return str(copy)


def entries(data, cls):
    return sorted((i["group"], i["access"], i["kind"], i["principal"], i["action"])
                  for i in data[cls])


def test_drift_on_the_example_tenant_reports_each_class(tenant: str):
    run = run_cli("--now", NOW, "drift", str(ROOT / "examples" / "assignments"),
                  "--emulator", tenant, "--format", "json")
    assert run.exit_code == 2, run.stderr
    data = run.json()
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert entries(data, "out_of_band") == [
        ("PIM-Database-Owners", "owner", "active", "hugo.martin@contoso.example", "remove")]
    assert entries(data, "missing") == [
        ("PIM-Network-Ops", "member", "active", "backup-runner", "create"),
        ("PIM-Network-Ops", "member", "eligible", "jonas.berg@contoso.example", "create")]
    assert entries(data, "lifetime_changed") == [
        ("PIM-Security-Readers", "member", "active", "dana.levi@contoso.example", "update")]
    assert entries(data, "renewal_due") == [
        ("PIM-Finance-Approvers", "member", "eligible", "grace.kim@contoso.example", "renew")]
    assert entries(data, "pending_deferrals") == [
        ("PIM-Oncall-Responders", "member", "active", "kofi.mensah@contoso.example", "remove")]
    assert data["pending_deferrals"][0]["not_before"] == "2026-12-01T12:03:00Z"
    assert entries(data, "expiring_soon") == [
        ("PIM-Contractors", "member", "eligible", "mateo.rossi@contoso.example", None)]
    assert data["expiring_soon"][0]["end"] == "2026-12-11T12:00:00Z"
    assert sorted((i["code"], i["group"], i["principal"]) for i in data["information"]) == [
        ("activation", "PIM-Platform-Admins", "ben.carter@contoso.example"),
        ("inherited", "PIM-Oncall-Responders", "chen.wei@contoso.example"),
        ("undeclared", "PIM-Contractors", "mateo.rossi@contoso.example")]


def test_drift_window_and_formats(tenant: str, tmp_path: Path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run = run_cli("--now", NOW, "drift", str(ROOT / "examples" / "assignments"),
                  "--emulator", tenant, "--format", "markdown", "--expiring-within", "P1D")
    assert run.exit_code == 2
    assert run.stdout.startswith("<!-- pim-reconciler-drift -->")
    assert "Expiring soon" not in run.stdout  # mateo ends in 10 days, outside P1D
    assert summary.read_text(encoding="utf-8").startswith("<!-- pim-reconciler-drift -->")
    bad = run_cli("drift", str(ROOT / "examples" / "assignments"), "--emulator", tenant,
                  "--expiring-within", "P1M")
    assert bad.exit_code == 1 and "use days" in bad.stderr


def test_drift_exits_0_when_live_matches_and_1_on_errors(tenant: str, tmp_path: Path):
    out = tmp_path / "adopted"
    assert run_cli("--now", NOW, "export", "--emulator", tenant, "--group",
                   "PIM-Platform-Admins", "--out", str(out)).exit_code == 0
    run = run_cli("--now", NOW, "drift", str(out), "--emulator", tenant)
    assert run.exit_code == 0, run.stdout
    assert run.stdout.startswith("No drift")
    (out / "groups" / "ghost.yaml").write_text("group: No-Such-Group\nmembers:\n  active: []\n",
                                              encoding="utf-8")
    run = run_cli("--now", NOW, "drift", str(out), "--emulator", tenant, "--format", "json")
    assert run.exit_code == 1
    problems = run.json()["problems"]
    assert [p["code"] for p in problems if p["severity"] == "error"] == ["group_not_found"]
    # PIM-Platform-Admins is role-assignable and its live member policy needs no approval
    assert [(p["code"], p["group"]) for p in problems if p["severity"] == "warning"] == [
        ("approval_recommended", "PIM-Platform-Admins")]


def test_export_round_trips_to_an_empty_plan(tenant: str, tmp_path: Path):
    out = tmp_path / "exported"
    run = run_cli("--now", NOW, "export", "--emulator", tenant,
                  "--all-managed", str(ROOT / "examples" / "assignments"), "--out", str(out))
    assert run.exit_code == 0, run.stderr
    names = sorted(p.name for p in (out / "groups").iterdir())
    assert names == ["pim-app-owners.yaml", "pim-contractors.yaml", "pim-database-owners.yaml",
                     "pim-finance-approvers.yaml", "pim-network-ops.yaml",
                     "pim-oncall-responders.yaml", "pim-platform-admins.yaml",
                     "pim-security-readers.yaml"]
    assert run_cli("validate", str(out)).exit_code == 0
    plan = run_cli("--now", NOW, "plan", str(out), "--emulator", tenant, "--format", "json")
    assert plan.exit_code == 0, plan.stdout
    assert plan.json()["changes"] == []

    oncall = (out / "groups" / "pim-oncall-responders.yaml").read_text(encoding="utf-8")
    assert "    - principal: { group: SRE-Team }\n      until: 2027-03-31T00:00:00Z\n" in oncall
    assert oncall.startswith("# yaml-language-server: $schema=")
    assert oncall.splitlines()[0].endswith("schemas/assignments.schema.json")
    owners = (out / "groups" / "pim-app-owners.yaml").read_text(encoding="utf-8")
    assert "{ servicePrincipal: deploy-pipeline }" in owners
    admins = (out / "groups" / "pim-platform-admins.yaml").read_text(encoding="utf-8")
    assert "ben.carter@contoso.example\n      until: 2027-05-30T12:00:00Z" in admins
    assert admins.count("permanent: true") == 3  # activation of ben.carter left out
    # exported like the files it follows: mode, description and managed sections kept
    assert "members:" not in owners and "owners:\n  eligible:" in owners
    contractors = (out / "groups" / "pim-contractors.yaml").read_text(encoding="utf-8")
    assert "\nmode: additive\n" in contractors
    assert "description: \"Contractor access" in contractors


def test_export_refuses_to_overwrite_without_force(tenant: str, tmp_path: Path):
    out = tmp_path / "exported"
    args = ("--now", NOW, "export", "--emulator", tenant, "--group", "PIM-Network-Ops",
            "--out", str(out), "--schema-ref", "https://example.test/assignments.schema.json")
    assert run_cli(*args).exit_code == 0
    path = out / "groups" / "pim-network-ops.yaml"
    path.write_text("edited\n", encoding="utf-8")
    again = run_cli(*args)
    assert again.exit_code == 1 and "pass --force" in again.stderr
    assert path.read_text(encoding="utf-8") == "edited\n"
    assert run_cli(*args, "--force").exit_code == 0
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=https://example.test/assignments.schema.json\n")


def test_export_reports_unknown_and_unmanageable_groups(tenant: str, tmp_path: Path):
    run = run_cli("--now", NOW, "export", "--emulator", tenant, "--group", "PIM-Network-Ops",
                  "--group", "Nope", "--group", "All-Employees-Dynamic",
                  "--out", str(tmp_path / "x"))
    assert run.exit_code == 1
    assert "group_not_found" in run.stderr and "group_not_manageable" in run.stderr
    assert not (tmp_path / "x").exists()
    usage = run_cli("export", "--emulator", tenant, "--out", str(tmp_path / "x"))
    assert usage.exit_code == 1 and "--all-managed" in usage.stderr


def _set_rule(tenant: str, group: str, access: str, rule: str, values: dict) -> None:
    """Edit the emulator's tenant file as an admin would in the admin center."""
    import yaml

    path = Path(tenant)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for policy in data["policies"]:
        if policy["group"] == group and policy["access"] == access:
            policy.setdefault("rules", {}).setdefault(rule, {}).update(values)
            break
    else:
        data["policies"].append({"group": group, "access": access, "rules": {rule: values}})
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_export_policies_round_trips_and_drift_shows_a_hand_edited_field(
        tenant: str, tmp_path: Path):
    examples = str(ROOT / "examples" / "assignments")
    # write the examples' PIM settings (approval by a group, MFA, a notification recipient)
    applied = run_cli("--now", NOW, "apply", examples, "--emulator", tenant, "--yes")
    assert applied.exit_code == 3, applied.stdout + applied.stderr  # 3: one removal deferred
    after = run_cli("--now", NOW, "plan", examples, "--emulator", tenant, "--format", "json")
    assert after.json()["policy_changes"] == []

    out = tmp_path / "exported"
    run = run_cli("--now", NOW, "export", "--emulator", tenant, "--all-managed", examples,
                  "--out", str(out), "--policies")
    assert run.exit_code == 0, run.stderr
    admins = (out / "groups" / "pim-platform-admins.yaml").read_text(encoding="utf-8")
    block = admins[admins.index("policy:\n"):admins.index("members:\n")]
    assert block.splitlines() == [
        "policy:",
        "  member:",
        "    eligible:",
        "      permanent: true",
        "    active:",
        "      permanent: true",
        "    activation:",
        "      max_duration: PT2H",
        "      require: [justification, mfa]",
        "      approval:",
        "        required: true",
        "        approvers: [{ group: SRE-Team }]",
        "    notifications:",
        "      activated:",
        "        admin:",
        "          recipients: [secops@contoso.example]",
        "  owner:",
        "    eligible:",
        "      permanent: true",
        "    activation:",
        "      max_duration: PT2H",
        "      require: [justification, mfa]",
        "    notifications:",
        "      activated:",
        "        admin:",
        "          recipients: [secops@contoso.example]",
    ]
    # a group whose settings are all defaults gets no policy: block
    assert "policy:" not in (out / "groups" / "pim-contractors.yaml").read_text("utf-8")
    assert run_cli("validate", str(out)).exit_code == 0
    plan = run_cli("--now", NOW, "plan", str(out), "--emulator", tenant, "--format", "json")
    assert plan.json()["policy_changes"] == [] and plan.json()["changes"] == []
    assert plan.exit_code == 0, plan.stdout

    # an admin lengthens activation by hand: drift names the rule, live -> declared, looser
    _set_rule(tenant, "PIM-Platform-Admins", "member", "Expiration_EndUser_Assignment",
              {"maximumDuration": "PT8H"})
    drift = run_cli("--now", NOW, "drift", str(out), "--emulator", tenant, "--format", "json")
    assert drift.exit_code == 2, drift.stdout
    data = drift.json()
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert [(i["group"], i["access"], i["rule"], i["live"], i["declared"], i["live_looser"])
            for i in data["policy_changed"]] == [
        ("PIM-Platform-Admins", "member", "Expiration_EndUser_Assignment",
         {"max_duration": "PT8H"}, {"max_duration": "PT2H"}, True)]
    assert data["counts"]["policy_changed"] == 1
    assert data["policy_changed"][0]["file"].endswith("pim-platform-admins.yaml")
    # an undeclared field changed by hand is not drift (the files do not manage it)
    _set_rule(tenant, "PIM-Contractors", "owner", "Expiration_EndUser_Assignment",
              {"maximumDuration": "PT1H"})
    again = run_cli("--now", NOW, "drift", str(out), "--emulator", tenant, "--format", "json")
    assert [i["group"] for i in again.json()["policy_changed"]] == ["PIM-Platform-Admins"]
