"""`report`: the access report of the example repository against the example tenant, as a
person would read it: states, counts, expiring / drifted / unmanaged / activation rows, policy
summaries, escaped hostile names, links to the YAML, nothing loaded from the network."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from reconciler.render.access_html import source_base
from tests.cliutil import run_cli

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-01T12:00:00Z"
EXAMPLES = str(ROOT / "examples" / "assignments")
SCHEMA = json.loads((ROOT / "schemas" / "access-report.schema.json").read_text("utf-8"))
HOSTILE = "<script>alert('pwn')</script> & \"Ops\""


@pytest.fixture
def tenant(tmp_path: Path) -> str:
    """The example tenant plus a group principal with a hostile display name holding an
    undeclared eligibility in the additive PIM-Contractors group."""
    data = yaml.safe_load((ROOT / "examples" / "tenant.yaml").read_text("utf-8"))
    data["groups"].append({"displayName": HOSTILE})
    data["schedules"].append({"group": "PIM-Contractors", "access": "member",
                              "kind": "eligible", "principal": HOSTILE, "created": "-P1D",
                              "end": "P40D"})
    path = tmp_path / "tenant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def make_report(tenant: str, out: Path, *args: str):
    run = run_cli("--now", NOW, "report", EXAMPLES, "--emulator", tenant, "--out", str(out),
                  *args)
    assert run.exit_code == 0, run.stdout + run.stderr
    data = json.loads((out / "report.json").read_text("utf-8"))
    return run, data, (out / "index.html").read_text("utf-8")


def rows(data, **match):
    return [(r["group"], r["access"], r["kind"], r["principal"], r["state"])
            for r in data["rows"] if all(r[k] == v for k, v in match.items())]


def test_report_json_has_every_state_and_the_right_counts(tenant: str, tmp_path: Path):
    run, data, _ = make_report(tenant, tmp_path / "out")
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data["counts"] == {
        "groups": 8, "principals": 24, "eligible": 21, "active": 6, "expiring": 4,
        "managed": 21, "drifted": 1, "pending": 2, "unmanaged": 5, "activation": 1,
        "errors": 0}
    assert run.stdout.strip().endswith("8 groups, 24 principals, 4 expiring soon, 1 drifted, "
                                       "2 pending, 5 unmanaged")
    assert sorted(g["group"] for g in data["groups"]) == [
        "PIM-App-Owners", "PIM-Contractors", "PIM-Database-Owners", "PIM-Finance-Approvers",
        "PIM-Network-Ops", "PIM-Oncall-Responders", "PIM-Platform-Admins",
        "PIM-Security-Readers"]
    assert rows(data, state="drifted") == [
        ("PIM-Security-Readers", "member", "active", "dana.levi@contoso.example", "drifted")]
    assert rows(data, state="pending") == [
        ("PIM-Network-Ops", "member", "active", "backup-runner", "pending"),
        ("PIM-Network-Ops", "member", "eligible", "jonas.berg@contoso.example", "pending")]
    assert rows(data, state="activation") == [
        ("PIM-Platform-Admins", "member", "activation", "ben.carter@contoso.example",
         "activation")]
    assert sorted(rows(data, state="unmanaged")) == sorted([
        ("PIM-Contractors", "member", "eligible", HOSTILE, "unmanaged"),
        ("PIM-Contractors", "member", "eligible", "mateo.rossi@contoso.example", "unmanaged"),
        ("PIM-Database-Owners", "owner", "active", "hugo.martin@contoso.example", "unmanaged"),
        ("PIM-Oncall-Responders", "member", "active", "kofi.mensah@contoso.example",
         "unmanaged"),
        ("PIM-Oncall-Responders", "member", "eligible", "chen.wei@contoso.example",
         "unmanaged")])  # inherited through SRE-Team
    [mateo] = [r for r in data["rows"] if r["group"] == "PIM-Contractors"
               and r["principal"] == "mateo.rossi@contoso.example"]
    assert (mateo["end"], mateo["expiring"], mateo["file"]) == (
        "2026-12-11T12:00:00Z", True, None)
    [grace] = [r for r in data["rows"] if r["principal"] == "grace.kim@contoso.example"]
    assert (grace["state"], grace["expiring"]) == ("managed", True)
    assert grace["file"].endswith("finance-approvers.yaml") and grace["line"] == 6
    # week 1: ben's activation (Dec 1) and grace (Dec 5); week 2: kofi (Dec 8), mateo (Dec 11)
    assert [w["ends"] for w in data["timeline"]][:4] == [2, 2, 1, 1]
    assert len(data["timeline"]) == 13


def test_policy_summaries_show_live_settings_and_pending_changes(tenant: str, tmp_path: Path):
    _, data, _ = make_report(tenant, tmp_path / "out")
    admins = next(g for g in data["groups"] if g["group"] == "PIM-Platform-Admins")
    member = next(p for p in admins["policies"] if p["access"] == "member")
    assert admins["role_assignable"] is True
    assert (member["activation_max"], member["activation_require"], member["approval_required"],
            member["eligible_permanent"], member["declared"], member["template"]) == (
        "PT8H", ["justification"], False, True, True, "privileged")
    assert member["pending_rules"] == [
        "Expiration_EndUser_Assignment", "Enablement_EndUser_Assignment",
        "Approval_EndUser_Assignment", "Notification_Admin_EndUser_Assignment"]
    owners = next(g for g in data["groups"] if g["group"] == "PIM-App-Owners")
    assert [p["declared"] for p in owners["policies"]] == [False, False]


def test_page_escapes_names_loads_nothing_and_links_to_the_files(tenant: str, tmp_path: Path,
                                                                 monkeypatch):
    monkeypatch.chdir(ROOT)  # links are relative to the working directory (the repo root)
    _, _, page = make_report(tenant, tmp_path / "out", "--repo-url",
                             "https://github.com/contoso/access/blob/abc123")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;pwn&#39;)&lt;/script&gt; &amp; &#34;Ops&#34;" in page
    assert page.count("<script>") == 1  # the page's own inline script
    # nothing from the network: no src/href to another origin, a CSP forbidding it
    assert not re.search(r'(src|href)="(https?:)?//(?!github\.com/contoso/access/)', page)
    assert "default-src 'none'" in page
    assert ('href="https://github.com/contoso/access/blob/abc123/examples/assignments/groups/'
            'finance-approvers.yaml#L6"') in page
    for state in ("managed", "drifted", "pending", "unmanaged", "activation"):
        assert f'data-state="{state}"' in page
    assert "⚠ expiring" in page and "role-assignable" in page


def test_markdown_summary_lists_expiring_drifted_unmanaged(tenant: str, tmp_path: Path,
                                                           monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run, _, _ = make_report(tenant, tmp_path / "out", "--format", "markdown",
                            "--link", "https://example.test/artifact")
    text = run.stdout
    assert text.startswith("## PIM access report")
    assert "| 8 | 24 | 21 | 6 | 4 | 1 | 2 | 5 | 1 |" in text
    assert "### Expiring soon (4)" in text and "### Drifted (1)" in text
    assert "### Unmanaged (5)" in text
    assert "[Full report](https://example.test/artifact)" in text
    assert "| PIM-Security-Readers | member | active | `dana.levi@contoso.example` |" in text
    assert summary.read_text("utf-8").startswith("## PIM access report")


def test_markdown_is_cut_below_githubs_limit():
    from datetime import UTC, datetime, timedelta

    from reconciler.desired.model import Access, PrincipalType
    from reconciler.plan.access import AccessReport, AccessRow, GroupSection, State
    from reconciler.render.access import render_access_markdown

    now = datetime(2026, 12, 1, tzinfo=UTC)
    many = tuple(AccessRow("g", "grp", Access.MEMBER, "eligible", f"p{n}", f"user{n}@x.example",
                           PrincipalType.USER, None, None, now + timedelta(days=3), False,
                           State.UNMANAGED, True, "not declared " * 5) for n in range(3000))
    report = AccessReport(now, "t", timedelta(days=14),
                          (GroupSection("grp", "g", "f.yaml", 1, "additive", many, ()),),
                          (0,) * 13, ())
    text = render_access_markdown(report)
    assert len(text) < 65_536
    assert re.search(r"…and \d+ more", text)


def test_source_links_from_githubs_environment():
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r",
           "GITHUB_SHA": "f00"}
    assert source_base(None, env) == "https://github.com/o/r/blob/f00"
    assert source_base("https://x.test/blob/main/", env) == "https://x.test/blob/main"
    assert source_base(None, {"GITHUB_SERVER_URL": "https://github.com"}) is None


def test_report_settings_window_and_bad_input(tenant: str, tmp_path: Path):
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo)
    settings = repo / "pim-reconciler.yaml"
    settings.write_text(settings.read_text("utf-8") + "report:\n  expiring_within: P3D\n",
                        encoding="utf-8")
    run = run_cli("--now", NOW, "report", str(repo), "--emulator", tenant, "--out",
                  str(tmp_path / "o"), "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["expiring_within"] == "P3D"
    # only ben.carter's activation (ends in 7 hours) ends within three days
    assert [(r["principal"], r["kind"]) for r in run.json()["rows"] if r["expiring"]] == [
        ("ben.carter@contoso.example", "activation")]
    settings.write_text(settings.read_text("utf-8").replace("P3D", "P1M"), encoding="utf-8")
    bad = run_cli("report", str(repo), "--emulator", tenant, "--out", str(tmp_path / "o2"))
    assert bad.exit_code == 1 and "report.expiring_within" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "o2").exists()
