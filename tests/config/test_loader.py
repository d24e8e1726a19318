"""reconciler.config.load_desired: model building, defaults, semantics, file handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.config import load_desired
from reconciler.desired.model import (
    Access,
    Kind,
    LifetimeType,
    Mode,
    PrincipalRef,
    PrincipalType,
    Ticket,
)
from reconciler.problems import Code, Severity

from .helpers import ROOT, codes, load

EXAMPLES = ROOT / "examples" / "assignments"
UTC_2027 = datetime(2027, 6, 30, tzinfo=UTC)


def one_group(tmp_path: Path, body: str, settings: str | None = None):
    files = {"groups/app.yaml": body}
    if settings is not None:
        files["pim-reconciler.yaml"] = settings
    return load(tmp_path, files)


# --- the bundled example -----------------------------------------------------------------


def test_examples_validate_without_any_problem() -> None:
    state, problems = load_desired(EXAMPLES)
    assert problems == []
    assert state is not None
    assert 6 <= len(state.groups) <= 10
    assert state.settings.tenant == "contoso.onmicrosoft.com"
    assert state.settings.protected == (
        PrincipalRef(PrincipalType.USER, "bg-01@contoso.example"),
        PrincipalRef(PrincipalType.USER, "bg-02@contoso.example"),
    )


def test_examples_cover_every_form() -> None:
    state, _ = load_desired(EXAMPLES)
    assert state is not None
    by_name = {g.group: g for g in state.groups}
    every = [a for g in state.groups for a in g.assignments]
    assert {a.lifetime.type for a in every} == set(LifetimeType)
    assert {a.principal.type for a in every} >= {
        PrincipalType.USER,
        PrincipalType.GROUP,
        PrincipalType.SERVICE_PRINCIPAL,
    }
    assert by_name["PIM-Contractors"].mode is Mode.ADDITIVE
    app = by_name["PIM-App-Owners"]
    assert app.managed == {(Access.OWNER, Kind.ELIGIBLE), (Access.OWNER, Kind.ACTIVE)}
    defaulted = [a for a in app.assignments if a.kind is Kind.ELIGIBLE]
    assert [a.lifetime.duration_text for a in defaulted] == ["P365D", "P365D"]
    assert all(a.justification and "pim-reconciler" in a.justification for a in defaulted)
    assert any(a.ticket and a.ticket.number for a in every)
    assert any(a.start is not None for a in every)
    # owners: active: [] is managed and empty
    db = by_name["PIM-Database-Owners"]
    assert (Access.OWNER, Kind.ACTIVE) in db.managed
    assert not [a for a in db.assignments if (a.access, a.kind) == (Access.OWNER, Kind.ACTIVE)]


def test_examples_carry_schema_modelines() -> None:
    for path in sorted((EXAMPLES / "groups").glob("*.yaml")):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../../schemas/assignments.schema.json"
        assert (path.parent / first.split("=", 1)[1]).resolve().is_file()


# --- the model built from a group file ---------------------------------------------------


def test_full_group_file_builds_the_model(tmp_path: Path) -> None:
    state, problems = one_group(
        tmp_path,
        "group: PIM-Platform-Admins\n"
        "description: Admins\n"
        "members:\n"
        "  eligible:\n"
        "    - principal: alex.doe@contoso.example\n"
        "      duration: P180D\n"
        "    - principals: [sam@contoso.example, 6F1B7A1C-0000-4000-8000-00000000000A]\n"
        "      until: 2027-06-30T02:00:00+02:00\n"
        "    - principal: { group: Platform-Oncall }\n"
        "      permanent: true\n"
        "  active:\n"
        "    - principal: { servicePrincipal: deploy-pipeline }\n"
        "      until: 2027-01-31T00:00:00Z\n"
        "      start: 2026-12-01T00:00:00Z\n"
        "      justification: Release freeze cover\n"
        "      ticket: { system: ServiceNow, number: 1234 }\n",
    )
    assert problems == []
    assert state is not None
    (group,) = state.groups
    assert group.group == "PIM-Platform-Admins"
    assert group.mode is Mode.AUTHORITATIVE
    assert group.description == "Admins"
    assert group.managed == {(Access.MEMBER, Kind.ELIGIBLE), (Access.MEMBER, Kind.ACTIVE)}
    assert group.location.file == f"{tmp_path}/groups/app.yaml" and group.location.line == 1
    rows = [
        (a.kind, str(a.principal), a.lifetime.describe(), a.location.line)
        for a in group.assignments
    ]
    assert rows == [
        (Kind.ELIGIBLE, "alex.doe@contoso.example", "rolling P180D", 5),
        (Kind.ELIGIBLE, "sam@contoso.example", "until 2027-06-30T00:00:00Z", 7),
        (Kind.ELIGIBLE, "6f1b7a1c-0000-4000-8000-00000000000a", "until 2027-06-30T00:00:00Z", 7),
        (Kind.ELIGIBLE, "group:Platform-Oncall", "permanent", 9),
        (Kind.ACTIVE, "servicePrincipal:deploy-pipeline", "until 2027-01-31T00:00:00Z", 12),
    ]
    assert group.assignments[2].principal.type is PrincipalType.ID
    assert group.assignments[0].lifetime.duration == timedelta(days=180)
    active = group.assignments[4]
    assert active.start == datetime(2026, 12, 1, tzinfo=UTC)
    assert active.justification == "Release freeze cover"
    assert active.ticket == Ticket("ServiceNow", "1234")


def test_left_out_sections_are_unmanaged_and_empty_lists_managed(tmp_path: Path) -> None:
    state, problems = one_group(tmp_path, "group: g\nowners:\n  active: []\n")
    assert problems == [] and state is not None
    assert state.groups[0].managed == {(Access.OWNER, Kind.ACTIVE)}
    assert state.groups[0].assignments == ()


def test_additive_mode(tmp_path: Path) -> None:
    state, _ = one_group(tmp_path, "group: g\nmode: additive\n")
    assert state is not None and state.groups[0].mode is Mode.ADDITIVE
    assert state.groups[0].managed == frozenset()


def test_same_principal_eligible_and_active_is_fine(tmp_path: Path) -> None:
    state, problems = one_group(
        tmp_path,
        "group: g\nmembers:\n"
        "  eligible: [{principal: a@x.example, duration: P30D}]\n"
        "  active: [{principal: a@x.example, duration: P1D, justification: j}]\n"
        "owners:\n  eligible: [{principal: a@x.example, duration: P30D}]\n",
    )
    assert problems == [] and state is not None
    assert len(state.groups[0].assignments) == 3


def test_until_in_the_past_is_left_to_the_planner(tmp_path: Path) -> None:
    state, problems = one_group(
        tmp_path,
        "group: g\nmembers:\n  eligible:\n    - {principal: a@x.example, "
        "until: 2001-01-01T00:00:00Z}\n",
    )
    assert problems == [] and state is not None


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("a@x.example", "{user: A@X.example}"),
        ("6f1b7a1c-0000-4000-8000-00000000000a", "{user: 6F1B7A1C-0000-4000-8000-00000000000A}"),
        ("{group: Team}", "{group: team}"),
    ],
)
def test_duplicate_assignment_forms(tmp_path: Path, first: str, second: str) -> None:
    _, problems = one_group(
        tmp_path,
        f"group: g\nmembers:\n  eligible:\n    - principal: {first}\n      duration: P30D\n"
        f"    - principal: {second}\n      duration: P60D\n",
    )
    assert [(p.code, p.line) for p in problems] == [(Code.DUPLICATE_ASSIGNMENT, 6)]


def test_group_and_servicePrincipal_of_same_name_are_different(tmp_path: Path) -> None:
    state, problems = one_group(
        tmp_path,
        "group: g\nmembers:\n  eligible:\n    - principals: [{group: x}, {servicePrincipal: x}]\n"
        "      duration: P30D\n",
    )
    assert problems == [] and state is not None


def test_start_must_be_before_until(tmp_path: Path) -> None:
    _, problems = one_group(
        tmp_path,
        "group: g\nmembers:\n  eligible:\n    - principal: a@x.example\n"
        "      start: 2027-07-01T00:00:00Z\n      until: 2027-06-30T00:00:00Z\n",
    )
    assert [(p.code, p.line) for p in problems] == [(Code.SCHEMA, 6)]


@pytest.mark.parametrize(
    ("entry", "code", "line"),
    [
        ("until: 2027-06-30", Code.SCHEMA, 5),
        ("until: 2027-06-30T00:00:00", Code.SCHEMA, 5),
        ("until: 2027-13-01T00:00:00Z", Code.SCHEMA, 5),
        ("duration: 30", Code.SCHEMA, 5),
        ("duration: 30 days", Code.SCHEMA, 5),
        ("duration: P2W", Code.DURATION_UNIT_UNSUPPORTED, 5),
        ("duration: P1Y", Code.DURATION_UNIT_UNSUPPORTED, 5),
        ("duration: PT4M59S", Code.DURATION_TOO_SHORT, 5),
        ("duration: P0D", Code.DURATION_TOO_SHORT, 5),
        ("permanent: false", Code.SCHEMA, 5),
        ("permanent: yes", Code.SCHEMA, 5),
        ("until: 2027-06-30T00:00:00Z\n      permanent: true", Code.LIFETIME_CONFLICT, 6),
        ("durations: P30D", Code.SCHEMA, 5),
    ],
)
def test_lifetime_problems(tmp_path: Path, entry: str, code: Code, line: int) -> None:
    _, problems = one_group(
        tmp_path, f"group: g\nmembers:\n  eligible:\n    - principal: a@x.example\n      {entry}\n"
    )
    assert (code, line) in [(p.code, p.line) for p in problems]
    assert all(p.principal == "a@x.example" for p in problems if p.code is code)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    _, problems = one_group(tmp_path, "group: g\nmembers:\n  eligable: []\n")
    assert [(p.code, p.line) for p in problems] == [(Code.SCHEMA, 3)]
    assert "did you mean 'eligible'?" in problems[0].message


def test_type_errors_hint_at_quoting(tmp_path: Path) -> None:
    _, problems = one_group(tmp_path, "group: 1234\n")
    assert [(p.code, p.line) for p in problems] == [(Code.SCHEMA, 1)]
    assert "quote it" in problems[0].message


@pytest.mark.parametrize("body", ["group: g\nmembers: {}\n", "group: g\nmembers:\n"])
def test_section_without_lists_is_refused(tmp_path: Path, body: str) -> None:
    _, problems = one_group(tmp_path, body)
    assert codes(problems) == ["schema"] and problems[0].line == 2


def test_several_principals_one_problem_per_principal_form(tmp_path: Path) -> None:
    _, problems = one_group(
        tmp_path,
        "group: g\nmembers:\n  eligible:\n    - principals:\n        - a@x.example\n"
        "        - Platform Team\n      duration: P6M\n",
    )
    got = sorted((str(p.code), p.line, p.principal) for p in problems)
    assert got == [
        ("duration_unit_unsupported", 7, "a@x.example, Platform Team"),
        ("principal_ambiguous", 6, "Platform Team"),
    ]


# --- settings -------------------------------------------------------------------------------


def test_settings_defaults_apply(tmp_path: Path) -> None:
    state, problems = one_group(
        tmp_path,
        "group: g\nmembers:\n  eligible: [{principal: a@x.example}]\n"
        "  active: [{principal: a@x.example}]\n",
        settings="defaults:\n  renew_before: P7D\n  justification: Because\n"
        "  eligible: {permanent: true}\n  active: {duration: PT8H}\n"
        "safety: {max_removals: 3, max_removal_fraction: 0.5}\n",
    )
    assert problems == [] and state is not None
    s = state.settings
    assert s.defaults.renew_before == timedelta(days=7) and s.defaults.renew_before_text == "P7D"
    assert (s.safety.max_removals, s.safety.max_removal_fraction) == (3, 0.5)
    eligible, active = state.groups[0].assignments
    assert eligible.lifetime.type is LifetimeType.PERMANENT
    assert active.lifetime.duration == timedelta(hours=8)
    assert eligible.justification == active.justification == "Because"


def test_no_settings_file_gives_defaults(tmp_path: Path) -> None:
    state, _ = one_group(tmp_path, "group: g\n")
    assert state is not None
    assert state.settings.defaults.renew_before == timedelta(days=14)
    assert state.settings.safety.max_removals == 10
    assert state.settings.location is None


def test_empty_settings_file_means_defaults(tmp_path: Path) -> None:
    state, problems = one_group(tmp_path, "group: g\n", settings="# nothing yet\n")
    assert problems == [] and state is not None


@pytest.mark.parametrize(
    ("settings", "code", "line"),
    [
        ("defaults:\n  renew_before: PT4M\n", Code.SCHEMA, 2),
        ("defaults:\n  renew_before: P1M\n", Code.DURATION_UNIT_UNSUPPORTED, 2),
        ("defaults:\n  eligible: {duration: P6M}\n", Code.DURATION_UNIT_UNSUPPORTED, 2),
        ("defaults:\n  eligible: {permanent: true, duration: P1D}\n", Code.LIFETIME_CONFLICT, 2),
        ("defaults:\n  eligible: {}\n", Code.SCHEMA, 2),
        ("protected:\n  - bg-01@x.example\n  - breakglass\n", Code.PRINCIPAL_AMBIGUOUS, 3),
        ("safety:\n  max_removals: -1\n", Code.SCHEMA, 2),
        ("safety:\n  max_removal_fraction: 2\n", Code.SCHEMA, 2),
        ("tenant: contoso\nunknown: 1\n", Code.SCHEMA, 2),
        ("- tenant\n", Code.SCHEMA, 1),
    ],
)
def test_settings_problems(tmp_path: Path, settings: str, code: Code, line: int) -> None:
    state, problems = one_group(
        tmp_path,
        "group: g\nmembers:\n  eligible: [{principal: a@x.example, duration: P1D}]\n",
        settings=settings,
    )
    assert state is None
    assert [(p.code, p.file, p.line) for p in problems] == [
        (code, f"{tmp_path}/pim-reconciler.yaml", line)
    ]


@pytest.mark.parametrize(
    "settings",
    [
        "defaults:\n  eligible: {duration: P6M}\n",
        "defaults:\n  eligible: {permanent: true, until: 2027-06-30T00:00:00Z}\n",
        "defaults:\n  eligible: P30D\n",
        "defaults: [\n",
        "- not a mapping\n",
    ],
)
def test_a_broken_default_is_reported_once(tmp_path: Path, settings: str) -> None:
    """Not once more as lifetime_missing on every entry that relies on it."""
    _, problems = one_group(
        tmp_path, "group: g\nmembers:\n  eligible: [{principal: a@x.example}]\n", settings=settings
    )
    assert len(problems) == 1
    assert problems[0].file == f"{tmp_path}/pim-reconciler.yaml"


def test_missing_default_for_the_other_kind_is_still_reported(tmp_path: Path) -> None:
    _, problems = one_group(
        tmp_path,
        "group: g\nmembers:\n  active: [{principal: a@x.example}]\n",
        settings="defaults:\n  eligible: {duration: P30D}\n",
    )
    assert [(p.code, p.line) for p in problems] == [(Code.LIFETIME_MISSING, 3)]


# --- files -----------------------------------------------------------------------------------


def test_all_files_are_checked_before_returning(tmp_path: Path) -> None:
    state, problems = load(
        tmp_path,
        {
            "groups/a.yaml": "group: a\nmembers:\n  eligible: [{principal: x, duration: P1D}]\n",
            "groups/b.yml": "group: b\nowners:\n  active: [{principal: y@x.example}]\n",
            "teams/c/d.yaml": "group: c\nmembers: [\n",
        },
    )
    assert state is None
    assert [(p.file.removeprefix(f"{tmp_path}/"), p.line, str(p.code)) for p in problems] == [
        ("groups/a.yaml", 3, "principal_ambiguous"),
        ("groups/b.yml", 3, "lifetime_missing"),
        ("teams/c/d.yaml", 2, "yaml_syntax"),
    ]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"# only a comment\n", "empty"),
        (b"- group: g\n", "list"),
        (b"just text\n", "str"),
        (b"group: caf\xe9\n", "not UTF-8"),
        (b"\xff\xfeg\x00r\x00", "not UTF-8"),
    ],
)
def test_unusable_files_are_clear_problems(tmp_path: Path, content: bytes, words: str) -> None:
    state, problems = load(tmp_path, {"groups/app.yaml": content})
    assert state is None
    assert len(problems) == 1
    assert words in problems[0].message
    assert problems[0].severity is Severity.ERROR


def test_hidden_and_other_files_are_ignored(tmp_path: Path) -> None:
    state, problems = load(
        tmp_path,
        {
            "groups/app.yaml": "group: g\n",
            ".github/workflows/ci.yml": "on: push\n",
            "groups/.draft.yaml": "not: a group\n",
            "README.md": "# access\n",
            "groups/notes.txt": "x",
        },
    )
    assert problems == [] and state is not None
    assert [g.group for g in state.groups] == ["g"]


def test_settings_name_below_the_top_is_refused(tmp_path: Path) -> None:
    _, problems = load(tmp_path, {"groups/pim-reconciler.yaml": "tenant: x\n"})
    assert codes(problems) == ["schema"]
    assert "at the top" in problems[0].message


def test_missing_directory(tmp_path: Path) -> None:
    state, problems = load_desired(tmp_path / "nope")
    assert state is None and codes(problems) == ["empty_desired_set"]


def test_directory_without_group_files_warns(tmp_path: Path) -> None:
    state, problems = load(tmp_path, {"pim-reconciler.yaml": "tenant: x\n"})
    assert state is not None and state.groups == ()
    assert [(p.code, p.severity) for p in problems] == [(Code.EMPTY_DESIRED_SET, Severity.WARNING)]


def test_digest_binds_paths_and_bytes(tmp_path: Path) -> None:
    a, _ = load(tmp_path / "a", {"groups/x.yaml": "group: g\n"})
    b, _ = load(tmp_path / "b", {"groups/x.yaml": "group: g\n"})
    c, _ = load(tmp_path / "c", {"groups/y.yaml": "group: g\n"})
    d, _ = load(tmp_path / "d", {"groups/x.yaml": "group: g # changed\n"})
    assert a and b and c and d
    assert a.digest == b.digest
    assert len({a.digest, c.digest, d.digest}) == 3
    assert len(a.digest) == 64


@pytest.mark.parametrize("value", ["[]", "{}", "1", "null", "Additive"])
def test_odd_mode_values_are_schema_problems(tmp_path: Path, value: str) -> None:
    """Found by the fuzz test: `mode: []` once raised TypeError."""
    _, problems = one_group(tmp_path, f"group: g\nmode: {value}\n")
    assert [(p.code, p.line) for p in problems] == [(Code.SCHEMA, 2)]


@pytest.mark.parametrize(
    "entry",
    ["{duration: P1D}", "{principal: a@x.example, principals: [b@x.example], duration: P1D}"],
)
def test_entry_needs_exactly_one_of_principal_or_principals(tmp_path: Path, entry: str) -> None:
    _, problems = one_group(tmp_path, f"group: g\nmembers:\n  eligible:\n    - {entry}\n")
    assert [(p.code, p.line) for p in problems] == [(Code.SCHEMA, 4)]
    assert problems[0].message == (
        "members.eligible[0]: give exactly one of principal or principals"
    )
