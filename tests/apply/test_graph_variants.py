"""The product under the emulator's unconfirmed-behaviour switches (emulator/variants.py):
where the product depends on one, it says so in the plan, and apply reports Graph's code."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.emulator import variants
from tests.cliutil import run_cli

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-01T12:00:00Z"
GROUP_FILE = """group: PIM-Platform-Admins
mode: additive
members:
  eligible:
    - principal: isla.murphy@contoso.example
      until: 2028-01-05T12:00:00Z
"""


def setup(tmp_path: Path, graph_variants: dict[str, str] | None) -> tuple[str, str]:
    data = yaml.safe_load((ROOT / "examples" / "tenant.yaml").read_text("utf-8"))
    if graph_variants:
        data["graph_variants"] = graph_variants
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    (tmp_path / "files" / "groups").mkdir(parents=True)
    (tmp_path / "files" / "groups" / "admins.yaml").write_text(GROUP_FILE, encoding="utf-8")
    return str(tenant), str(tmp_path / "files")


@pytest.mark.parametrize("enforced", [False, True], ids=["ignored", "enforced"])
def test_an_until_beyond_the_maximum_of_a_permanence_rule(tmp_path: Path, enforced: bool):
    # PIM-Platform-Admins' member eligibility allows permanence with maximumDuration P365D;
    # whether Graph still enforces the maximum is unconfirmed (reference 4.4)
    tenant, files = setup(tmp_path, {"max_duration_without_expiration":
                                     "enforced" if enforced else "ignored"})
    plan = run_cli("--now", NOW, "plan", files, "--emulator", tenant, "--format", "json")
    assert plan.exit_code == 2
    assert [(p["code"], p["severity"]) for p in plan.json()["problems"]
            if p["code"] != "approval_recommended"] == [("maximum_may_apply", "warning")]
    applied = run_cli("--now", NOW, "apply", files, "--emulator", tenant, "--yes")
    if enforced:
        assert applied.exit_code == 1
        assert "RoleAssignmentRequestPolicyValidationFailed" in applied.stdout
        assert '["ExpirationRule"]' in applied.stdout
    else:
        assert applied.exit_code == 0, applied.stdout
        again = run_cli("--now", NOW, "plan", files, "--emulator", tenant, "--format", "json")
        assert again.json()["changes"] == []


def test_switches_come_from_the_fixture_then_the_environment_then_the_defaults():
    env = {variants.ENV: "batch_order=reversed,five_minute_anchor=made"}
    values = variants.resolve({"five_minute_anchor": "latest_change"}, env)
    assert values["batch_order"] == "reversed"  # environment
    assert values["five_minute_anchor"] == "latest_change"  # fixture wins
    assert values["week_durations"] == "refused"  # default
    every = variants.resolve(None, {variants.ENV: variants.ALTERNATIVES})
    assert all(every[s.name] == s.options[1] for s in variants.SWITCHES)
    with pytest.raises(variants.VariantError, match="known: max_duration_without_expiration"):
        variants.resolve({"no_such_switch": "x"}, {})
    with pytest.raises(variants.VariantError, match="not one of ignored, enforced"):
        variants.parse("max_duration_without_expiration=sometimes")


def test_describe_lists_every_switch_with_its_reference():
    text = variants.describe()
    for switch in variants.SWITCHES:
        assert f"{switch.name}: {switch.default} | " in text
        assert f"(reference {switch.reference})" in text


def test_apply_converges_when_graph_keeps_no_request_history(tmp_path: Path):
    # Graph purges schedule requests; nothing in the product may rely on them
    data = yaml.safe_load((ROOT / "examples" / "tenant.yaml").read_text("utf-8"))
    data["request_history"] = 0
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    examples = str(ROOT / "examples" / "assignments")
    applied = run_cli("--now", NOW, "apply", examples, "--emulator", str(tenant), "--yes")
    assert applied.exit_code == 3, applied.stdout  # one removal deferred (five minutes)
    assert "0 failed" in applied.stdout
    saved = yaml.safe_load(tenant.read_text("utf-8"))
    assert saved.get("requests") in (None, [])
    again = run_cli("--now", NOW, "plan", examples, "--emulator", str(tenant), "--format",
                    "json").json()
    assert again["policy_changes"] == []
    assert [(c["action"], c["principal"]) for c in again["changes"]] == [
        ("remove", "kofi.mensah@contoso.example")]


def test_request_history_keeps_only_the_newest():
    from reconciler.emulator.fixture import load_tenant
    from reconciler.emulator.state import ScheduleRequest

    tenant = load_tenant({"now": NOW, "request_history": 2})
    for n in range(3):
        tenant.add_request(ScheduleRequest(id=f"r{n}", kind="eligible", action="adminAssign",
                                           status="Provisioned", group_id="g", access="member",
                                           principal_id="p", created=tenant.now(),
                                           completed=tenant.now()))
    assert list(tenant.requests) == ["r1", "r2"]


def test_an_unauthorized_operation_403_on_reads_is_one_clear_line(tmp_path: Path):
    data = yaml.safe_load((ROOT / "examples" / "tenant.yaml").read_text("utf-8"))
    data["faults"] = [{"match": "GET */eligibilitySchedules", "kind": "unauthorized"}]
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    run = run_cli("--now", NOW, "plan", str(ROOT / "examples" / "assignments"), "--emulator",
                  str(tenant))
    assert run.exit_code == 1
    assert "Traceback" not in run.stderr + run.stdout
    assert "403" in run.stderr and "Attempted to perform an unauthorized operation." in run.stderr
