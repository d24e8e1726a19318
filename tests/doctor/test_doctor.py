"""`pim-reconciler doctor` end to end against the emulator (real CLI, real SDK adapter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.cliutil import run_cli
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"
P2 = "eec0eb4f-6444-4f95-aba0-50c24d67f998"
GOVERNANCE = "e866a266-3cff-43a3-acca-0c90a7e00c8b"
NOW = "2026-12-01T12:00:00Z"

READ_ALL_BUT_ASSIGNMENTS = [
    "PrivilegedEligibilitySchedule.Read.AzureADGroup",
    "RoleManagementPolicy.Read.AzureADGroup",
    "Group.Read.All",
    "User.Read.All",
    "Application.Read.All",
    "Directory.Read.All",
]


def plan_(status: str, plan_id: str = P2) -> dict[str, str]:
    return {"assignedDateTime": "2025-01-01T00:00:00Z", "capabilityStatus": status,
            "service": "AADPremiumService", "servicePlanId": plan_id}


def tenant(**extra: Any) -> dict[str, Any]:
    """A small tenant: licensed, unlicensed and suspended users, a governance user, an
    assigned group, a dynamic and a synced one."""
    data: dict[str, Any] = {
        "now": NOW,
        "users": [
            {"userPrincipalName": "p2@contoso.example"},  # no key: P2 by default
            {"userPrincipalName": "gov@contoso.example",
             "assignedPlans": [plan_("Enabled", GOVERNANCE)]},
            {"userPrincipalName": "none@contoso.example", "assignedPlans": []},
            {"userPrincipalName": "suspended@contoso.example",
             "assignedPlans": [plan_("Suspended")]},
        ],
        "groups": [
            {"displayName": "PIM-Ops"},
            {"displayName": "Helpers"},
            {"displayName": "Everyone-Dynamic", "groupTypes": ["DynamicMembership"]},
        ],
    }
    data.update(extra)
    return data


OPS = """\
group: PIM-Ops
members:
  eligible:
    - principal: p2@contoso.example
      duration: P30D
    - principal: gov@contoso.example
      duration: P30D
    - principal: none@contoso.example
      duration: P30D
    - principal: suspended@contoso.example
      duration: P30D
    - principal: { group: Helpers }
      duration: P30D
  active:
    - principal: none@contoso.example
      duration: P30D
      justification: on call
"""


def write(tmp_path: Path, data: dict[str, Any], groups: dict[str, str]) -> tuple[str, str]:
    directory = tmp_path / "access"
    (directory / "groups").mkdir(parents=True)
    for name, text in groups.items():
        (directory / "groups" / f"{name}.yaml").write_text(text, encoding="utf-8")
    tenant_file = tmp_path / "tenant.yaml"
    tenant_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(directory), str(tenant_file)


def lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.strip()]


def test_example_tenant_passes_every_check() -> None:
    run = run_cli("doctor", str(EXAMPLES / "assignments"), "--emulator",
                  str(EXAMPLES / "tenant.yaml"))
    assert run.exit_code == 0, run.stdout + run.stderr
    *checks, summary = lines(run.stdout)
    assert checks and all(line.startswith("✓ ") for line in checks), run.stdout
    kinds = {line.split(":", 1)[0][2:] for line in checks}
    assert kinds == {"credential", "graph", "clock", "permission", "group", "licence"}
    # every declared group is checked, each by name
    for name in ("PIM-Platform-Admins", "PIM-Network-Ops", "PIM-Contractors"):
        assert any(line.startswith(f"✓ group: '{name}'") for line in checks)
    assert "in-process emulator serving" in checks[0]
    assert summary.startswith("doctor: ready to plan against")
    assert " 0 failed" in summary


def test_example_tenant_for_apply_has_no_failure() -> None:
    run = run_cli("doctor", str(EXAMPLES / "assignments"), "--emulator",
                  str(EXAMPLES / "tenant.yaml"), "--for", "apply", "--format", "json")
    assert run.exit_code == 0, run.stdout
    report = run.json()
    assert report["command"] == "apply" and report["passed"] is True
    subjects = {c["subject"] for c in report["checks"] if c["check"] == "permission"}
    # apply needs the writes; the example files manage PIM settings, so the policy write too
    assert {"PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
            "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
            "RoleManagementPolicy.ReadWrite.AzureADGroup"} <= subjects


def test_missing_permission_is_named_text(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant(granted_permissions=READ_ALL_BUT_ASSIGNMENTS),
                                   {"ops": OPS})
    run = run_cli("doctor", directory, "--emulator", tenant_file)
    assert run.exit_code == 1
    failed = [line for line in lines(run.stdout) if line.startswith("✗ ")]
    assert len(failed) == 1, run.stdout
    assert failed[0].startswith(
        "✗ permission: PrivilegedAssignmentSchedule.Read.AzureADGroup missing")
    assert "fix: grant the application permission PrivilegedAssignmentSchedule.Read.AzureADGroup" \
        in failed[0]
    assert "NOT ready" in lines(run.stdout)[-1]


def test_missing_permission_is_named_json(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant(granted_permissions=READ_ALL_BUT_ASSIGNMENTS),
                                   {"ops": OPS})
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--format", "json")
    assert run.exit_code == 1
    report = run.json()
    assert report["passed"] is False and report["counts"]["fail"] == 1
    [failed] = [c for c in report["checks"] if c["status"] == "fail"]
    assert failed["check"] == "permission"
    assert failed["subject"] == "PrivilegedAssignmentSchedule.Read.AzureADGroup"
    assert "PrivilegedAssignmentSchedule.Read.AzureADGroup" in failed["fix"]
    granted = {c["subject"] for c in report["checks"]
               if c["check"] == "permission" and c["status"] == "ok"}
    assert "PrivilegedEligibilitySchedule.Read.AzureADGroup" in granted


def test_apply_needs_the_write_permission(tmp_path: Path) -> None:
    reads = [*READ_ALL_BUT_ASSIGNMENTS, "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup"]
    directory, tenant_file = write(tmp_path, tenant(granted_permissions=reads), {"ops": OPS})
    assert run_cli("doctor", directory, "--emulator", tenant_file).exit_code == 0
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--for", "apply",
                  "--format", "json")
    assert run.exit_code == 1
    failed = [c["subject"] for c in run.json()["checks"] if c["status"] == "fail"]
    assert failed == ["PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup"]


def test_unknown_and_dynamic_groups_fail_with_the_fix(tmp_path: Path) -> None:
    missing = "group: No-Such-Group\nmembers:\n  eligible: []\n"
    dynamic = "group: Everyone-Dynamic\nmembers:\n  eligible: []\n"
    directory, tenant_file = write(tmp_path, tenant(), {"ops": OPS, "missing": missing,
                                                        "dynamic": dynamic})
    run = run_cli("doctor", directory, "--emulator", tenant_file)
    assert run.exit_code == 1
    failed = [line for line in lines(run.stdout) if line.startswith("✗ ")]
    assert len(failed) == 2, run.stdout
    [nf] = [line for line in failed if "No-Such-Group" in line]
    assert "not found in the tenant" in nf and "groups/missing.yaml:1" in nf
    assert "fix: correct the name or object id" in nf
    [dyn] = [line for line in failed if "Everyone-Dynamic" in line]
    assert "cannot be managed by PIM for Groups: it has dynamic membership" in dyn
    assert "fix: PIM for Groups manages cloud-only groups with assigned membership" in dyn
    assert any(line.startswith("✓ group: 'PIM-Ops'") for line in lines(run.stdout))


def test_group_without_policies_is_not_onboarded(tmp_path: Path) -> None:
    data = tenant(faults=[{"match": "GET /policies/roleManagementPolicyAssignments",
                           "kind": "unprovisioned"}])
    directory, tenant_file = write(tmp_path, data, {"ops": OPS})
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--format", "json")
    assert run.exit_code == 1
    [failed] = [c for c in run.json()["checks"] if c["status"] == "fail"]
    assert failed["check"] == "group" and failed["subject"] == "PIM-Ops"
    assert "not onboarded to PIM" in failed["message"]
    assert "Discover groups" in failed["fix"]


def test_clock_skew_fails_past_five_minutes_and_warns_past_one(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant(), {"ops": OPS})
    far = run_cli("--now", "2026-12-01T12:10:00Z", "doctor", directory, "--emulator",
                  tenant_file)
    assert far.exit_code == 1
    [clock] = [line for line in lines(far.stdout) if line[2:].startswith("clock:")]
    assert clock.startswith("✗ clock: this clock (2026-12-01T12:10:00Z) is 10 min ahead of "
                            "Graph's (Date header 2026-12-01T12:00:00Z); more than 5 minutes")
    assert "fix: synchronise this machine's clock" in clock

    near = run_cli("doctor", directory, "--emulator", tenant_file, "--now",
                   "2026-12-01T11:58:00Z", "--format", "json")
    [check] = [c for c in near.json()["checks"] if c["check"] == "clock"]
    assert check["status"] == "warning" and "120 s behind" not in check["message"]
    assert "2 min behind" in check["message"]
    assert near.exit_code == 0  # a warning passes


def test_license_missing_in_doctor(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant(), {"ops": OPS})
    run = run_cli("doctor", directory, "--emulator", tenant_file, "--format", "json")
    assert run.exit_code == 0  # warnings only
    warned = [c for c in run.json()["checks"] if c["check"] == "licence"]
    # the unlicensed user and the one whose only plan is suspended; never the P2 user, the
    # ID Governance user or the group principal, and an active-only entry is not judged
    assert [(c["status"], c["subject"], c["line"]) for c in warned] == [
        ("warning", "none@contoso.example", 8),
        ("warning", "suspended@contoso.example", 10),
    ]
    assert all(c["file"].endswith("groups/ops.yaml") for c in warned)
    assert all("license_missing" in c["message"] for c in warned)
    text = run_cli("doctor", directory, "--emulator", tenant_file)
    [line] = [ln for ln in lines(text.stdout) if "none@contoso.example" in ln]
    assert line.startswith("! licence: license_missing: none@contoso.example is made eligible")
    assert "groups/ops.yaml:8" in line


def test_license_missing_in_plan(tmp_path: Path) -> None:
    directory, tenant_file = write(tmp_path, tenant(), {"ops": OPS})
    run = run_cli("plan", directory, "--emulator", tenant_file, "--format", "json")
    assert run.exit_code == 2, run.stdout  # changes; the warnings do not make it an error
    found = [p for p in run.json()["problems"] if p["code"] == "license_missing"]
    assert [(p["severity"], p["principal"], p["group"], p["line"]) for p in found] == [
        ("warning", "none@contoso.example", "PIM-Ops", 8),
        ("warning", "suspended@contoso.example", "PIM-Ops", 10),
    ]
    assert all(p["file"].endswith("groups/ops.yaml") for p in found)
    assert "Microsoft Entra ID P2 or Microsoft Entra ID Governance" in found[0]["message"]


def test_example_plan_has_no_licence_warning() -> None:
    run = run_cli("plan", str(EXAMPLES / "assignments"), "--emulator",
                  str(EXAMPLES / "tenant.yaml"), "--format", "json")
    assert not [p for p in run.json()["problems"] if p["code"] == "license_missing"]


def test_credential_that_cannot_be_built_is_the_failed_first_check(monkeypatch: Any) -> None:
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    run = run_cli("doctor", str(EXAMPLES / "assignments"), "--credential", "client-secret",
                  "--tenant", "contoso.onmicrosoft.com")
    assert run.exit_code == 1
    first, not_run, summary = lines(run.stdout)
    # the tenant was given: only the client's settings are missing, and the fix says so once
    assert first == ("✗ credential: cannot be built: --credential client-secret needs "
                     "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; fix: set them, or use --emulator "
                     "FILE to try the tool without a tenant")
    assert not_run.startswith("- not run: graph, clock, permissions, groups, licences: ")
    assert "Microsoft Graph (tenant contoso.onmicrosoft.com)" in summary


def test_probes_name_the_missing_permission_when_roles_are_unknown(tmp_path: Path) -> None:
    """Anonymous `--graph-url` (a served emulator over loopback HTTP): no token, so no roles;
    each permission is probed by the read that needs it and Graph's 403 names it."""
    from reconciler.emulator.fixture import load_tenant
    from reconciler.emulator.server import running_server

    data = tenant(granted_permissions=READ_ALL_BUT_ASSIGNMENTS)
    directory, _ = write(tmp_path, data, {"ops": OPS})
    with running_server(load_tenant(data)) as url:
        run = run_cli("--now", NOW, "doctor", directory, "--graph-url", url, "--format", "json")
    assert run.exit_code == 1, run.stdout
    checks = run.json()["checks"]
    assert "anonymous (no sign-in)" in checks[0]["message"]
    assert "roles unknown" in checks[0]["message"]
    [failed] = [c for c in checks if c["status"] == "fail"]
    assert failed["subject"] == "PrivilegedAssignmentSchedule.Read.AzureADGroup"
    assert "Graph refused the probe read (403" in failed["message"]
    [clock] = [c for c in checks if c["check"] == "clock"]
    assert clock["status"] == "ok"  # the served Date header is the tenant's clock
