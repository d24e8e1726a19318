"""examples/assignments against examples/tenant.yaml (the bundled emulator tenant), at the
tenant's `now`: the plan shows every kind of change and information, and no problem."""

from __future__ import annotations

from ..cliutil import run_cli
from .helpers import ROOT

NOW = "2026-12-01T12:00:00Z"


def test_example_plan_shows_every_kind_of_change_and_no_problem() -> None:
    run = run_cli(
        "--now",
        NOW,
        "plan",
        str(ROOT / "examples" / "assignments"),
        "--emulator",
        str(ROOT / "examples" / "tenant.yaml"),
        "--format",
        "json",
    )
    assert run.exit_code == 2, run.stderr
    plan = run.json()
    assert plan["problems"] == []
    changes = {(c["action"], c["group"], c["principal"], c["not_before"]) for c in plan["changes"]}
    assert changes == {
        ("renew", "PIM-Finance-Approvers", "grace.kim@contoso.example", None),
        ("create", "PIM-Network-Ops", "backup-runner", None),
        ("create", "PIM-Network-Ops", "jonas.berg@contoso.example", None),
        ("update", "PIM-Security-Readers", "dana.levi@contoso.example", None),
        ("remove", "PIM-Database-Owners", "hugo.martin@contoso.example", None),
        ("remove", "PIM-Oncall-Responders", "kofi.mensah@contoso.example", "2026-12-01T12:03:00Z"),
    }
    assert {(i["code"], i["principal"]) for i in plan["info"]} == {
        ("undeclared", "mateo.rossi@contoso.example"),
        ("inherited", "chen.wei@contoso.example"),
        ("activation", "ben.carter@contoso.example"),
    }
