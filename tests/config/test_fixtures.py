"""Every offline problem code has a fixture directory named after it (tests/fixtures/<code>/);
loading it gives exactly that code, at the right file and line, with group and principal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.config import load_desired
from reconciler.problems import Code, Severity

from .helpers import FIXTURES, ROOT

# code -> (file relative to the fixture directory, line, group, principal)
EXPECTED: dict[str, tuple[str, int, str | None, str | None]] = {
    "yaml_syntax": ("groups/app.yaml", 5, None, None),
    "duplicate_key": ("groups/app.yaml", 6, None, None),
    "schema": ("groups/app.yaml", 5, "grp-app", "user-a@contoso.example"),
    "duplicate_group": ("groups/app.yaml", 1, "grp-app", None),
    "duplicate_assignment": ("groups/app.yaml", 6, "grp-app", "User-B@contoso.example"),
    "lifetime_missing": ("groups/app.yaml", 4, "grp-app", "user-a@contoso.example"),
    "lifetime_conflict": ("groups/app.yaml", 6, "grp-app", "user-a@contoso.example"),
    "duration_unit_unsupported": ("groups/app.yaml", 5, "grp-app", "user-a@contoso.example"),
    "duration_too_short": ("groups/app.yaml", 5, "grp-app", "user-a@contoso.example"),
    "principal_ambiguous": ("groups/app.yaml", 4, "grp-app", "deploy-pipeline"),
}


# time-dependent codes: decided by `validate` against its clock, not by the loader
CLOCK_EXPECTED = {
    "until_in_past": ("groups/app.yaml", 4, "grp-app", "user-a@contoso.example", "warning"),
}


def test_every_fixture_directory_is_expected() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == sorted(
        [*EXPECTED, *CLOCK_EXPECTED])


@pytest.mark.parametrize("code", sorted(CLOCK_EXPECTED))
def test_clock_fixture_gives_its_code_file_and_line(
        code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from tests.cliutil import run_cli

    monkeypatch.chdir(ROOT)
    root = f"tests/fixtures/{code}"
    run = run_cli("--now", "2026-12-01T12:00:00Z", "validate", root, "--format", "json")
    assert run.exit_code == 0  # a warning: the files are still valid
    rel, line, group, principal, severity = CLOCK_EXPECTED[code]
    assert [(p["code"], p["file"], p["line"], p["group"], p["principal"], p["severity"])
            for p in json.loads(run.stdout)] == [
        (code, f"{root}/{rel}", line, group, principal, severity)]


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_fixture_gives_its_code_file_and_line(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # pass the root as a user would: relative to the checkout
    root = f"tests/fixtures/{code}"
    state, problems = load_desired(root)
    assert state is None
    rel, line, group, principal = EXPECTED[code]
    assert [(p.code, p.file, p.line, p.group, p.principal, p.severity) for p in problems] == [
        (Code(code), f"{root}/{rel}", line, group, principal, Severity.ERROR)
    ]


def test_problem_file_joins_the_root_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    _, problems = load_desired("./schema/")
    assert problems[0].file == "schema/groups/app.yaml"
    _, problems = load_desired(Path(FIXTURES / "schema"))
    assert problems[0].file == os.path.join(str(FIXTURES / "schema"), "groups", "app.yaml")


def test_messages_say_what_to_do() -> None:
    messages = {c: load_desired(FIXTURES / c)[1][0].message for c in EXPECTED}
    assert "use days, e.g. P180D" in messages["duration_unit_unsupported"]
    assert messages["principal_ambiguous"] == (
        "ambiguous principal 'deploy-pipeline'; write {group: deploy-pipeline} or "
        "{servicePrincipal: deploy-pipeline} (or {user: deploy-pipeline})"
    )
    assert "groups/app-copy.yaml:2" in messages["duplicate_group"]
    assert "groups/app.yaml:1" in messages["duplicate_group"]
    assert "app.yaml:4" in messages["duplicate_assignment"]  # the first place
    assert "2027-06-30T00:00:00Z" in messages["schema"]  # the expected form
    assert "first at line 5" in messages["duplicate_key"]
