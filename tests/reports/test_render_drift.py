"""Drift renderers: JSON against schemas/drift.schema.json, markdown for an issue body, text."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
from rich.console import Console

from reconciler.desired.model import Access, Lifetime, Mode
from reconciler.desired.policy import EXPIRATION_ACTIVATION
from reconciler.graph import decode
from reconciler.plan.drift import classify
from reconciler.plan.planner import plan
from reconciler.render.drift import (
    ISSUE_MARKER,
    LIMIT,
    render_drift_json,
    render_drift_markdown,
    render_drift_text,
)

from ..planner.builders import GID, NOW, desired, entry, group, live, rolling, row
from ..planner.test_policies import declared, wire_policy, with_policy

D = timedelta
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "drift.schema.json")
                    .read_text(encoding="utf-8"))


def sample_report(extra_rows: int = 0):
    """One item in every class, plus `extra_rows` undeclared rows. The policy item: the
    member activation maximum was lengthened by hand to PT12H, the file says PT4H."""
    soon = NOW + D(days=3)
    the_group = with_policy(
        group(entry(1, Lifetime.fixed(soon)), entry(2, rolling("P30D")),
              entry(3, rolling("P90D")), entry(4, Lifetime.fixed(NOW + D(days=60)))),
        declared(Access.MEMBER, (EXPIRATION_ACTIVATION, {"max_duration": D(hours=4)})))
    state = desired(the_group, max_removals=10_000)
    pols = tuple(decode.policy(wire_policy(a, **(
        {EXPIRATION_ACTIVATION: {"maximumDuration": "PT12H"}} if a is Access.MEMBER else {})),
        GID) for a in Access)
    rows = [row(1, end=soon), row(3, end=NOW + D(days=4)), row(4, end=NOW + D(days=90)),
            row(5, end=NOW + D(days=100)),
            row(6, end=NOW + D(days=7), created=NOW - D(minutes=1))]
    rows += [row(100 + n, end=NOW + D(days=100)) for n in range(extra_rows)]
    resolution, state_live = live(*rows, users=range(1, 100 + extra_rows), policies=pols)
    the_plan = plan(state, resolution, state_live, NOW)
    return classify(state, resolution, state_live, the_plan, NOW, D(days=14))


def test_sample_has_every_class():
    report = sample_report()
    assert {k: v for k, v in report.counts().items() if k not in ("warnings", "information")} \
        == {"out_of_band": 1, "missing": 1, "lifetime_changed": 1, "renewal_due": 1,
            "pending_deferrals": 1, "policy_changed": 1, "expiring_soon": 1, "errors": 0}


def test_json_output_validates_against_the_schema():
    report = sample_report()
    data = json.loads(render_drift_json(report))
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data["exit_code"] == 2 and data["drift"] is True
    assert data["expiring_within"] == "P14D"
    assert data["pending_deferrals"][0]["not_before"] == "2026-12-01T12:04:00Z"


def test_schema_describes_every_property():
    def walk(node, path):
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                assert "description" in prop, f"{path}/{name}"
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for n, value in enumerate(node):
                walk(value, f"{path}/{n}")
    walk(SCHEMA, "")


def test_markdown_is_an_issue_body_with_a_marker():
    text = render_drift_markdown(sample_report())
    assert text.startswith(ISSUE_MARKER + "\n")
    assert "⚠️ **Drift: 1 out of band, 1 missing, 1 lifetime changed, 1 renewal due, " \
           "1 pending deferrals, 1 policy changed.**" in text
    assert "### Expiring soon (not drift) (1)" in text
    assert "| grp-app | eligible | member | `user5@contoso.example` (user) " in text
    assert "### Policy changed (PIM settings differ from the files) (1)" in text
    assert ("| grp-app | member | `Expiration_EndUser_Assignment` ⚠️ live is looser | max_duration "
            "| PT12H | PT4H |") in text


def test_markdown_stays_under_githubs_limit():
    report = sample_report(extra_rows=1500)
    text = render_drift_markdown(report)
    assert len(text) < 65_000 and len(text) <= LIMIT + 200
    assert "Output truncated:" in text and "row(s) left out" in text


def test_markdown_without_drift_says_so():
    far = NOW + D(days=100)
    state = desired(group(entry(1, Lifetime.fixed(far)), mode=Mode.ADDITIVE))
    resolution, state_live = live(row(1, end=far))
    report = classify(state, resolution, state_live, plan(state, resolution, state_live, NOW),
                      NOW, D(days=14))
    text = render_drift_markdown(report)
    assert "✅ **No drift.**" in text and "###" not in text


def test_text_lists_each_class():
    console = Console(record=True, width=200)
    render_drift_text(sample_report(), console)
    out = console.export_text()
    assert out.splitlines()[0] == ("Drift: 1 out of band, 1 missing, 1 lifetime changed, "
                                   "1 renewal due, 1 pending deferrals, 1 policy changed")
    for title in ("Out of band", "Missing", "Lifetime changed", "Renewal due",
                  "Pending deferrals", "Expiring soon (not drift)"):
        assert title in out
    assert "planned: remove (not before 2026-12-01T12:04:00Z)" in out
    assert "  grp-app  member Expiration_EndUser_Assignment  LIVE IS LOOSER" in out
    assert "      max_duration: live PT12H -> declared PT4H" in out
