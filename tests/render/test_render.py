"""Renderers against golden files (the example plan), the plan JSON schema, and the PR-comment
size limit. Regenerate the golden files with UPDATE_GOLDEN=1 after an intended change."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from reconciler.desired.model import Access, Kind, PrincipalType
from reconciler.plan.changes import Action, Change, GraphAction, Plan
from reconciler.render.markdown import LIMIT, render_markdown
from reconciler.render.text import render_plan
from tests.cliutil import run_cli

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
NOW = "2026-12-01T12:00:00Z"


def _example_plan(tmp_path: Path) -> Plan:
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text((ROOT / "examples" / "tenant.yaml").read_text())
    run = run_cli("--now", NOW, "plan", "examples/assignments", "--emulator", str(tenant),
                  "--format", "json")
    assert run.exit_code == 2, run.stdout + run.stderr
    return Plan.from_dict(run.json())


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_text_golden(tmp_path: Path, in_root: None) -> None:
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=160, color_system=None, file=sink)
        render_plan(_example_plan(tmp_path), console)
    _check_golden("example-plan.txt", console.export_text())


def test_markdown_golden(tmp_path: Path, in_root: None) -> None:
    _check_golden("example-plan.md", render_markdown(_example_plan(tmp_path)))


def test_without_policy_changes_the_output_is_what_it_was(tmp_path: Path, in_root: None) -> None:
    """The `-no-policy` golden files were rendered before PIM settings existed: a plan without
    policy changes must still render byte for byte the same."""
    plan = dataclasses.replace(_example_plan(tmp_path), policy_changes=())
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=160, color_system=None, file=sink)
        render_plan(plan, console)
    _check_golden("example-plan-no-policy.txt", console.export_text())
    _check_golden("example-plan-no-policy.md", render_markdown(plan))


def test_json_matches_schema_and_round_trips(tmp_path: Path, in_root: None) -> None:
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    plan = _example_plan(tmp_path)
    data = plan.to_dict()
    jsonschema.Draft202012Validator(schema).validate(data)
    assert Plan.from_dict(data).checksum == data["checksum"]
    actions = {c["action"] for c in data["changes"]}
    assert actions == {"create", "renew", "update", "remove"}
    assert any(c["not_before"] for c in data["changes"])
    assert {i["code"] for i in data["info"]} >= {"activation", "inherited", "undeclared"}


def test_markdown_stays_under_the_comment_limit() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    changes = tuple(
        Change(Action.CREATE, GraphAction.ADMIN_ASSIGN, f"g{g}", f"group-{g:04d}", Access.MEMBER,
               Kind.ELIGIBLE, f"p{g}-{i}", f"user{i}@contoso.example", PrincipalType.USER,
               "declared rolling P90D; not assigned", end=now + timedelta(days=90),
               duration="P90D")
        for g in range(300) for i in range(10))
    plan = Plan(changes, (), (), now, None, "fp", "digest")
    text = render_markdown(plan)
    assert len(text) <= LIMIT + 500
    assert "Output truncated" in text
    assert "group-0000" in text and "group-0299" not in text


def test_markdown_cells_cannot_be_reshaped_by_names() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    change = Change(Action.CREATE, GraphAction.ADMIN_ASSIGN, "g", "grp", Access.OWNER,
                    Kind.ELIGIBLE, "p", "evil`|<!-- x -->", PrincipalType.SERVICE_PRINCIPAL,
                    "declared", end=now + timedelta(days=1), justification="why | not")
    text = render_markdown(Plan((change,), (), (), now, None, "fp", "d"))
    row = next(line for line in text.splitlines() if "**create**" in line)
    assert "`evil'\\|&lt;!-- x --&gt;`" in row
    assert "justification: why \\| not" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 9  # the row keeps its eight columns


def test_the_deferred_note_shows_only_with_a_deferred_change(tmp_path: Path,
                                                             in_root: None) -> None:
    from reconciler.render.common import DEFERRED_NOTE

    plan = _example_plan(tmp_path)
    assert plan.summary()["deferred"] == 1
    undeferred = dataclasses.replace(
        plan, changes=tuple(c for c in plan.changes if c.not_before is None))
    for shown, expected in ((plan, True), (undeferred, False)):
        with open(os.devnull, "w") as sink:
            console = Console(record=True, width=400, color_system=None, file=sink)
            render_plan(shown, console)
        assert (DEFERRED_NOTE in console.export_text()) is expected
        assert ("⏳ Deferred: PIM refuses to change or remove an assignment within five "
                "minutes of it being made" in render_markdown(shown)) is expected
