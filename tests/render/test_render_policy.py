"""PIM settings (policy rule changes) in the plan renderers and the apply report: one line or
row per changing field, `before -> after`, loosening changes flagged, approvers by name,
names from the tenant escaped, and the summaries counting rule changes."""

from __future__ import annotations

import io
import json
import os
import re
from datetime import UTC, datetime, timedelta

from rich.console import Console

from reconciler.apply.executor import ApplyReport, ChangeResult, Outcome, PolicyResult
from reconciler.desired.model import Access, Kind, PrincipalType
from reconciler.plan.changes import Action, Change, GraphAction, Plan, PolicyChange
from reconciler.render.markdown import render_markdown
from reconciler.render.report import (
    render_report_json,
    render_report_markdown,
    render_report_text,
    summary_line,
)
from reconciler.render.text import render_plan

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script> | x"

LOOSENING = PolicyChange(
    "gid-app", "grp-app", Access.OWNER, "Expiration_Admin_Assignment",
    before={"permanent": False, "max_duration": "P90D"},
    after={"permanent": True, "max_duration": None},
    loosens=True, reason="declared permanent differs from the live owner policy",
    file="groups/app.yaml", line=4)
TIGHTENING = PolicyChange(
    "gid-app", "grp-app", Access.MEMBER, "Approval_EndUser_Assignment",
    before={"required": False, "approvers": []},
    after={"required": True,
           "approvers": [{"type": "group", "id": "g-appr"}, {"type": "user", "id": "u-lead"}]},
    loosens=False, reason="declared approvers, required differ from the live member policy",
    names={"g-appr": "PIM-Approvers", "u-lead": "lead@contoso.example"},
    file="groups/app.yaml", line=9)
ENABLEMENT = PolicyChange(
    "gid-app", "grp-app", Access.MEMBER, "Enablement_EndUser_Assignment",
    before={"require": ["justification"]}, after={"require": ["justification", "mfa"]},
    loosens=False, reason="declared require differs from the live member policy")
AUTH_OFF = PolicyChange(
    "gid-ops", "grp-ops", Access.MEMBER, "AuthenticationContext_EndUser_Assignment",
    before={"authentication_context": "c1"}, after={"authentication_context": None},
    loosens=True, reason="declared authentication_context differs")
ASSIGNMENT = Change(Action.CREATE, GraphAction.ADMIN_ASSIGN, "gid-app", "grp-app",
                    Access.MEMBER, Kind.ELIGIBLE, "p-alex", "alex@contoso.example",
                    PrincipalType.USER, "declared rolling P30D; not assigned",
                    end=NOW + timedelta(days=30), duration="P30D")


def _plan(*policy: PolicyChange, changes: tuple[Change, ...] = ()) -> Plan:
    return Plan(changes, (), (), NOW, None, "fp", "digest", policy_changes=policy)


def _text(plan: Plan) -> list[str]:
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=200, color_system=None, file=sink)
        render_plan(plan, console)
    return console.export_text().splitlines()


def _columns(row: str) -> int:
    return len(re.findall(r"(?<!\\)\|", row)) - 1


# -- text ---------------------------------------------------------------------------------------

def test_text_shows_each_field_before_after_and_flags_loosening() -> None:
    lines = _text(_plan(LOOSENING, TIGHTENING, ENABLEMENT, AUTH_OFF, changes=(ASSIGNMENT,)))
    assert lines[0] == ("Plan: 1 to create, 0 to renew, 0 to update, 0 to remove, "
                        "4 policy rules to change (2 loosen control); 0 errors, 0 warnings")
    assert lines[1] == "Warning: 2 policy rule changes loosen control (marked LOOSENS below)"
    start = lines.index("grp-app (gid-app)")
    assert lines[start:start + 9] == [
        "grp-app (gid-app)",
        # plan order: member before owner, rules in RULE_IDS order
        "  ~ policy  member Enablement_EndUser_Assignment  require justification -> "
        "justification, mfa",
        "      declared require differs from the live member policy",
        "  ~ policy  member Approval_EndUser_Assignment  required false -> true",
        "  ~ policy  member Approval_EndUser_Assignment  approvers none -> "
        "PIM-Approvers (group), lead@contoso.example (user)",
        "      declared approvers, required differ from the live member policy",
        "  ~ policy  owner Expiration_Admin_Assignment  permanent false -> true  LOOSENS control",
        "  ~ policy  owner Expiration_Admin_Assignment  max_duration P90D -> none  "
        "LOOSENS control",
        "      declared permanent differs from the live owner policy",
    ]
    # the assignment changes come after the group's policy section
    assert lines[start + 9].startswith("  + create eligible member alex@contoso.example (user)")
    # a group with only a policy change is shown, with its id; no context is "off"
    ops = lines.index("grp-ops (gid-ops)")
    assert lines[ops + 1] == ("  ~ policy  member AuthenticationContext_EndUser_Assignment  "
                              "authentication_context c1 -> off  LOOSENS control")


def test_text_loosening_tag_is_bold_red_on_a_terminal() -> None:
    out = io.StringIO()
    render_plan(_plan(LOOSENING, TIGHTENING),
                Console(file=out, force_terminal=True, color_system="standard", width=200))
    text = out.getvalue()
    assert text.count("\x1b[1;31mLOOSENS control") == 2  # both fields of the loosening rule
    approval = next(line for line in text.splitlines() if "Approval_EndUser_Assignment" in line)
    assert "LOOSENS" not in approval


def test_text_summary_without_loosening_has_no_warning() -> None:
    lines = _text(_plan(TIGHTENING))
    assert lines[0] == ("Plan: 0 to create, 0 to renew, 0 to update, 0 to remove, "
                        "1 policy rule to change; 0 errors, 0 warnings")
    assert not any("Warning" in line or "LOOSENS" in line for line in lines)


def test_text_without_policy_changes_keeps_the_old_summary() -> None:
    lines = _text(_plan(changes=(ASSIGNMENT,)))
    assert lines[0] == ("Plan: 1 to create, 0 to renew, 0 to update, 0 to remove; "
                        "0 errors, 0 warnings")
    assert not any("policy" in line for line in lines)


# -- markdown -----------------------------------------------------------------------------------

def test_markdown_policy_table_before_assignments_with_loosening_marked() -> None:
    plan = _plan(LOOSENING, TIGHTENING, changes=(ASSIGNMENT,))
    text = render_markdown(plan)
    lines = text.splitlines()
    assert "Changes below need review." in lines
    assert ("> ⚠️ **1 PIM settings change loosens control:** grp-app owner "
            "`Expiration_Admin_Assignment` (marked ⚠️ loosens below).") in lines
    header = lines.index("| create | renew | update | remove | deferred | policy rules "
                         "| loosening | errors | warnings |")
    assert lines[header + 2] == "| 1 | 0 | 0 | 0 | 0 | 2 | 1 | 0 | 0 |"
    section = lines[lines.index("### grp-app"):]
    assert section[:10] == [
        "### grp-app",
        "",
        "**PIM settings**",
        "",
        "| | access | rule | field | before | after | why |",
        "|---|---|---|---|---|---|---|",
        "|  | member | `Approval_EndUser_Assignment` | required | false | true "
        "| declared approvers, required differ from the live member policy "
        "(groups/app.yaml:9) |",
        "|  | member | `Approval_EndUser_Assignment` | approvers | none "
        "| PIM-Approvers (group), lead@contoso.example (user) |  |",
        "| ⚠️ loosens | owner | `Expiration_Admin_Assignment` | permanent | false | true "
        "| declared permanent differs from the live owner policy (groups/app.yaml:4) |",
        "| ⚠️ loosens | owner | `Expiration_Admin_Assignment` | max_duration | P90D | none |  |",
    ]
    assert section[10:14] == ["", "**Assignments**", "",
                              "| | action | kind | access | principal | lifetime | why | flags |"]


def test_markdown_only_policy_changes_need_review() -> None:
    text = render_markdown(_plan(TIGHTENING))
    assert "Changes below need review." in text
    assert "No changes" not in text
    assert "loosens control" not in text  # no top-line warning without a loosening change
    assert "**Assignments**" not in text
    assert "| 0 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 |" in text


def test_markdown_empty_plan_is_unchanged() -> None:
    text = render_markdown(_plan())
    assert "✅ No changes." in text
    assert "| create | renew | update | remove | deferred | errors | warnings |" in text
    assert "policy" not in text and "PIM settings" not in text


def test_markdown_escapes_hostile_names_in_policy_output() -> None:
    hostile = PolicyChange(
        "gid-evil", HOSTILE, Access.MEMBER, "Approval_EndUser_Assignment",
        before={"approvers": []}, after={"approvers": [{"type": "user", "id": "u-evil"}]},
        loosens=True, reason="declared | approvers",
        names={"u-evil": "Evil`|<img src=x>"})
    text = render_markdown(_plan(hostile))
    assert "<script>" not in text and "<img" not in text
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; \\| x"
    assert f"### {escaped}" in text
    assert f"control:** {escaped} member `Approval_EndUser_Assignment`" in text
    row = next(line for line in text.splitlines() if line.startswith("| ⚠️ loosens"))
    assert "| Evil'\\|&lt;img src=x&gt; (user) |" in row
    assert "| declared \\| approvers |" in row
    assert _columns(row) == 7  # the row keeps its seven columns


# -- apply report -------------------------------------------------------------------------------

def _report() -> ApplyReport:
    applied = PolicyResult(LOOSENING, Outcome.APPLIED, "verified (read back)", at=NOW)
    not_applied = PolicyResult(
        TIGHTENING, Outcome.FAILED,
        "accepted but not applied: the rule reads back different (required: sent True, "
        "read False); the next run re-checks it", graph_code="policy_not_applied", at=NOW)
    skipped = ChangeResult(ASSIGNMENT, Outcome.SKIPPED,
                           "not sent: it needs the member policy change that failed")
    return ApplyReport((skipped,), policy_results=(applied, not_applied))


def test_report_text_lists_policy_results_first() -> None:
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=300, color_system=None, file=sink)
        render_report_text(_report(), console)
    lines = console.export_text().splitlines()
    assert lines[0] == ("applied  policy owner Expiration_Admin_Assignment in grp-app "
                        "(permanent false -> true; max_duration P90D -> none) LOOSENS control "
                        "- verified (read back)")
    assert lines[1] == ("failed   policy member Approval_EndUser_Assignment in grp-app "
                        "(required false -> true; approvers none -> PIM-Approvers (group), "
                        "lead@contoso.example (user)): policy_not_applied - accepted but not "
                        "applied: the rule reads back different (required: sent True, read "
                        "False); the next run re-checks it")
    assert lines[2].startswith("skipped  create eligible member alex@contoso.example in grp-app")
    assert lines[3] == ("Apply: 1 applied, 0 deferred, 1 failed, 1 skipped "
                        "(policy rules: 1 applied, 1 failed)")


def test_report_markdown_policy_table_before_assignments() -> None:
    lines = render_report_markdown(_report()).splitlines()
    assert lines[2] == ("Apply: 1 applied, 0 deferred, 1 failed, 1 skipped "
                        "(policy rules: 1 applied, 1 failed)")
    assert lines[4:8] == ["**PIM settings**", "",
                          "| outcome | | access | rule | group | change | detail |",
                          "|---|---|---|---|---|---|---|"]
    assert lines[8] == ("| applied | ⚠️ loosens | owner | `Expiration_Admin_Assignment` | grp-app "
                        "| permanent false -&gt; true; max_duration P90D -&gt; none "
                        "| verified (read back) |")
    assert lines[9].startswith("| failed |  | member | `Approval_EndUser_Assignment` | grp-app |")
    assert "| `policy_not_applied` accepted but not applied:" in lines[9]
    assert lines[10:14] == ["", "**Assignments**", "",
                            "| outcome | action | kind | access | principal | group | detail |"]
    assert lines[15].startswith("| skipped | create | eligible | member |")


def test_report_markdown_escapes_hostile_group_names() -> None:
    change = PolicyChange("gid-evil", HOSTILE, Access.MEMBER, "Expiration_EndUser_Assignment",
                          before={"max_duration": "PT8H"}, after={"max_duration": "PT4H"},
                          loosens=False)
    report = ApplyReport((), policy_results=(
        PolicyResult(change, Outcome.FAILED, "Bad | <b>request</b>", graph_code="BadRequest"),))
    text = render_report_markdown(report)
    assert "<script>" not in text and "<b>" not in text
    row = next(line for line in text.splitlines() if line.startswith("| failed"))
    assert "| &lt;script&gt;alert(1)&lt;/script&gt; \\| x |" in row
    assert _columns(row) == 7


def test_report_json_has_policy_results() -> None:
    data = json.loads(render_report_json(_report()))
    assert list(data) == ["refused", "summary", "policy_results", "results"]
    assert data["summary"] == {"applied": 1, "deferred": 0, "failed": 1, "skipped": 1}
    assert [(r["policy_rule"], r["access"], r["outcome"], r["graph_code"], r["loosens"])
            for r in data["policy_results"]] == [
        ("Expiration_Admin_Assignment", "owner", "applied", None, True),
        ("Approval_EndUser_Assignment", "member", "failed", "policy_not_applied", False),
    ]
    assert data["policy_results"][1]["after"]["approvers"] == [
        {"type": "group", "id": "g-appr"}, {"type": "user", "id": "u-lead"}]
    assert data["results"][0]["outcome"] == "skipped"


def test_report_without_policy_results_is_unchanged() -> None:
    report = ApplyReport((ChangeResult(ASSIGNMENT, Outcome.APPLIED),))
    assert summary_line(report) == "Apply: 1 applied, 0 deferred, 0 failed, 0 skipped"
    assert render_report_markdown(report).splitlines()[:6] == [
        "## PIM apply", "", "Apply: 1 applied, 0 deferred, 0 failed, 0 skipped", "",
        "| outcome | action | kind | access | principal | group | detail |",
        "|---|---|---|---|---|---|---|"]
