"""The drift and access reports of a `--shard` / `--only` run record their scope, as a plan
does: JSON `scope` (the plan's shape, validated against the reports' schemas), one
`Scope:` line in markdown and text, and a header line on the access page, so that a drift
issue opened per shard, or one shard's report page, says which groups it covers. Unscoped
reports carry none of it (the existing output is unchanged)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rich.console import Console

from reconciler.config import load_desired
from reconciler.desired.select import Shard
from reconciler.plan.scope import PlanScope
from reconciler.render.drift import render_drift_json, render_drift_markdown, render_drift_text
from tests.cliutil import run_cli

from .test_render_drift import sample_report

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "assignments"
NOW = "2026-12-01T12:00:00Z"
GROUPS = sorted(g.group for g in load_desired(EXAMPLE)[0].groups)  # type: ignore[union-attr]


def schema(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))


DRIFT_SCHEMA, ACCESS_SCHEMA, PLAN_SCHEMA = schema("drift"), schema("access-report"), schema("plan")


@pytest.fixture
def tenant(tmp_path: Path) -> str:
    copy = tmp_path / "tenant.yaml"
    shutil.copy(ROOT / "examples" / "tenant.yaml", copy)
    return str(copy)


def cli_json(command: str, tenant: str, *extra: str) -> dict[str, Any]:
    run = run_cli("--now", NOW, command, str(EXAMPLE), "--emulator", tenant, "--format", "json",
                  *extra)
    assert run.exit_code in (0, 2), run.stderr
    return run.json()


def drift_groups(data: dict[str, Any]) -> set[str]:
    classes = ("out_of_band", "missing", "lifetime_changed", "renewal_due", "pending_deferrals",
               "policy_changed", "expiring_soon")
    return {item["group"] for c in classes for item in data[c]}


def test_the_three_schemas_share_the_plans_scope_definition() -> None:
    assert DRIFT_SCHEMA["$defs"]["scope"] == PLAN_SCHEMA["$defs"]["scope"]
    assert ACCESS_SCHEMA["$defs"]["scope"] == PLAN_SCHEMA["$defs"]["scope"]
    for report in (DRIFT_SCHEMA, ACCESS_SCHEMA):
        assert "scope" not in report["required"]  # optional: unscoped reports have none


def test_drift_json_of_each_shard_carries_the_plans_scope_and_validates(tenant: str) -> None:
    whole = cli_json("drift", tenant)
    jsonschema.Draft202012Validator(DRIFT_SCHEMA).validate(whole)
    assert "scope" not in whole
    covered: list[str] = []
    for i in (1, 2):
        data = cli_json("drift", tenant, "--shard", f"{i}/2")
        jsonschema.Draft202012Validator(DRIFT_SCHEMA).validate(data)
        plan_scope = cli_json("plan", tenant, "--shard", f"{i}/2")["scope"]
        assert data["scope"] == plan_scope  # the same record as the shard's plan
        assert data["scope"]["shard"] == {"index": i, "count": 2}
        assert data["scope"]["declared"] == 8 and data["scope"]["only"] == []
        assert drift_groups(data) <= set(data["scope"]["groups"])
        covered += data["scope"]["groups"]
    assert sorted(covered) == GROUPS  # every declared group in exactly one shard's issue
    assert drift_groups(whole) and drift_groups(whole) <= set(covered)

    narrowed = cli_json("drift", tenant, "--only", "PIM-Network-Ops")
    jsonschema.Draft202012Validator(DRIFT_SCHEMA).validate(narrowed)
    assert narrowed["scope"] == {"only": ["PIM-Network-Ops"], "shard": None,
                                 "groups": ["PIM-Network-Ops"], "declared": 8}


def test_report_json_of_a_shard_carries_the_scope_and_validates(tenant: str,
                                                                 tmp_path: Path) -> None:
    whole = cli_json("report", tenant, "--out", str(tmp_path / "whole"))
    jsonschema.Draft202012Validator(ACCESS_SCHEMA).validate(whole)
    assert "scope" not in whole
    page = (tmp_path / "whole" / "index.html").read_text(encoding="utf-8")
    assert 'id="scope"' not in page and "Scope" not in page

    data = cli_json("report", tenant, "--out", str(tmp_path / "shard"), "--shard", "1/2")
    assert json.loads((tmp_path / "shard" / "report.json").read_text("utf-8")) == data
    jsonschema.Draft202012Validator(ACCESS_SCHEMA).validate(data)
    assert data["scope"] == cli_json("plan", tenant, "--shard", "1/2")["scope"]
    scope = data["scope"]
    assert sorted(g["group"] for g in data["groups"]) == sorted(scope["groups"])
    assert data["counts"]["groups"] == len(scope["groups"]) < scope["declared"] == 8
    page = (tmp_path / "shard" / "index.html").read_text(encoding="utf-8")
    assert (f'<p class="meta" id="scope">Scope <b>shard 1/2: {len(scope["groups"])} of 8 '
            "groups</b> · this page covers only these groups.</p>") in page


def test_markdown_and_text_of_scoped_reports_have_one_scope_line(tenant: str,
                                                                 tmp_path: Path) -> None:
    def run(command: str, *extra: str) -> str:
        result = run_cli("--now", NOW, command, str(EXAMPLE), "--emulator", tenant, *extra)
        assert result.exit_code in (0, 2), result.stderr
        return result.stdout

    scoped = ("--shard", "2/2", "--only", "groups/*-owners.yaml")
    groups = cli_json("drift", tenant, *scoped)["scope"]["groups"]
    assert groups  # shard 2/2 holds at least one of the two owners groups
    described = f"shard 2/2, --only 'groups/*-owners.yaml': {len(groups)} of 8 groups"

    markdown = run("drift", "--format", "markdown", *scoped).splitlines()
    assert [line for line in markdown if "Scope" in line] == [f"**Scope:** {described}"]
    text = run("drift", *scoped).splitlines()
    assert [line for line in text if "scope" in line.lower()] == [f"scope: {described}"]
    report = run("report", "--out", str(tmp_path / "r"), "--format", "markdown", *scoped)
    assert [line for line in report.splitlines() if "Scope" in line] == [
        f"**Scope:** {described}"]
    summary = run("report", "--out", str(tmp_path / "r"), *scoped)
    assert summary.rstrip().endswith(f"(scope: {described})")

    for unscoped in (run("drift", "--format", "markdown"), run("drift"),
                     run("report", "--out", str(tmp_path / "w"), "--format", "markdown"),
                     run("report", "--out", str(tmp_path / "w"))):
        assert "scope" not in unscoped.lower()


def test_the_scope_line_is_the_only_difference_a_scope_makes() -> None:
    """The same report with and without a scope: markdown and text differ by the scope line
    alone (and its blank line), JSON by the `scope` key alone; so unscoped output is what it
    was before reports had a scope."""
    report = sample_report()
    assert report.scope is None
    scope = PlanScope(only=("groups/a-*",), shard=Shard(1, 3), groups=("PIM-A",), declared=3)
    scoped = replace(report, scope=scope)

    plain, marked = render_drift_markdown(report), render_drift_markdown(scoped)
    line = "**Scope:** shard 1/3, --only 'groups/a-*': 1 of 3 groups"
    assert "Scope" not in plain
    assert marked.replace(f"\n\n{line}", "", 1) == plain
    assert marked.count("Scope") == 1

    def text(r: Any) -> list[str]:
        console = Console(record=True, width=200, color_system=None)
        render_drift_text(r, console)
        return console.export_text().splitlines()

    lines = text(scoped)
    assert lines[2] == "scope: shard 1/3, --only 'groups/a-*': 1 of 3 groups"
    assert lines[:2] + lines[3:] == text(report)

    data = json.loads(render_drift_json(scoped))
    jsonschema.Draft202012Validator(DRIFT_SCHEMA).validate(data)
    assert data.pop("scope") == {"only": ["groups/a-*"], "shard": {"index": 1, "count": 3},
                                 "groups": ["PIM-A"], "declared": 3}
    assert data == json.loads(render_drift_json(report))
