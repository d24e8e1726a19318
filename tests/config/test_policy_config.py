"""A group's `policy:`, `policy_templates` and `defaults.policy` -> `DesiredPolicy` values
(format.md "The group's PIM settings"): the exact rules and fields, template merging, the
offline problems at their lines, "did you mean", the schemas editors use, and `validate`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.config import load_desired
from reconciler.config.schema import GROUP_SCHEMA, SETTINGS_SCHEMA, load_schema
from reconciler.config.yamlsafe import load_yaml_bytes
from reconciler.desired.model import (
    Access,
    DesiredGroup,
    DesiredPolicy,
    DesiredState,
    Kind,
    PrincipalRef,
    PrincipalType,
)
from reconciler.desired.policy import (
    APPROVAL_ACTIVATION,
    AUTH_CONTEXT_ACTIVATION,
    ENABLEMENT_ACTIVATION,
    ENABLEMENT_ASSIGNMENT,
    ENABLEMENT_ELIGIBILITY,
    EXPIRATION_ACTIVATION,
    EXPIRATION_ASSIGNMENT,
    EXPIRATION_ELIGIBILITY,
    NotificationLevel,
    Requirement,
)
from reconciler.problems import Code, Problem

from ..cliutil import run_cli
from ..conftest import SHARED_CASES
from .helpers import write_tree

MFA, JUSTIFICATION, TICKET = Requirement.MFA, Requirement.JUSTIFICATION, Requirement.TICKET

SETTINGS = """\
policy_templates:
  strict:
    eligible: { permanent: false, max_duration: P180D }
    activation: { max_duration: PT2H, require: [mfa, justification] }
defaults:
  policy: { member: strict, owner: strict }   # applied to every group without policy:
"""

# format.md's full example, verbatim but for one shortened comment
FORMAT_EXAMPLE = """\
group: PIM-Platform-Admins
policy:
  member:
    template: strict                  # optional: start from a template of the settings file
    eligible:                                                    # Expiration_Admin_Eligibility
      permanent: false
      max_duration: P365D
      require: []                     # Enablement_Admin_Eligibility (not shown in the admin center)
    active:                                                      # Expiration_Admin_Assignment
      permanent: false
      max_duration: P90D
      require: [justification]                                   # Enablement_Admin_Assignment
    activation:                                                  # what an eligible principal
      max_duration: PT4H                                         #   meets when activating:
      require: [mfa, justification, ticket]                      # Enablement_EndUser_Assignment
      authentication_context: c1      # AuthenticationContext_EndUser_Assignment (not with mfa)
      approval:                                                  # Approval_EndUser_Assignment
        required: true
        approvers: [{ group: PIM-Approvers }, lead@contoso.example]
    notifications:                    # the 9 Notification_* rules: event x recipient
      eligible_assigned:              # Admin_Eligibility | active_assigned: Admin_Assignment
        admin: { default_recipients: true, recipients: [sec@contoso.example], level: all }
      activated:                      # EndUser_Assignment; recipients: admin, requestor, approver
        approver: { level: critical }
  owner: { template: strict }
"""


def line(text: str, needle: str) -> int:
    """1-based line of the first line of `text` containing `needle`."""
    return next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)


def load(tmp_path: Path, group: str, settings: str | None = None, *, partial: bool = False,
         **more: str) -> tuple[DesiredState | None, list[Problem]]:
    files = {"groups/app.yaml": group, **{f"groups/{k}.yaml": v for k, v in more.items()}}
    if settings is not None:
        files["pim-reconciler.yaml"] = settings
    return load_desired(write_tree(tmp_path, files), partial=partial)


def only_group(state: DesiredState | None, problems: list[Problem]) -> DesiredGroup:
    assert state is not None, [p.to_dict() for p in problems]
    assert problems == []
    (group,) = state.groups
    return group


def policy(group: DesiredGroup, access: Access) -> DesiredPolicy:
    (found,) = [p for p in group.policies if p.access is access]
    return found


def rules(p: DesiredPolicy) -> dict[str, dict[str, Any]]:
    return {r.rule: dict(r.fields) for r in p.rules}


def lines(p: DesiredPolicy) -> dict[str, dict[str, int | None]]:
    return {r.rule: dict(r.lines) for r in p.rules}


def problems_of(problems: list[Problem]) -> list[tuple[str, str, int | None]]:
    return [(str(p.code), Path(p.file or "").name, p.line) for p in problems]


# --- format.md's example ------------------------------------------------------------------


def test_format_example_verbatim_is_a_policy_conflict_at_its_authentication_context(
        tmp_path: Path) -> None:
    """The example sets mfa and an authentication context together, which format.md's own
    rules refuse (`policy_conflict`): reported offline, at the authentication_context line."""
    state, problems = load(tmp_path, FORMAT_EXAMPLE, SETTINGS)
    assert state is None
    assert problems_of(problems) == [
        ("policy_conflict", "app.yaml", line(FORMAT_EXAMPLE, "authentication_context: c1"))]
    assert problems[0].group == "PIM-Platform-Admins"
    assert "mfa" in problems[0].message and "'c1'" in problems[0].message


def test_format_example_gives_these_exact_rules(tmp_path: Path) -> None:
    text = FORMAT_EXAMPLE.replace("require: [mfa, justification, ticket]",
                                  "require: [justification, ticket]")
    group = only_group(*load(tmp_path, text, SETTINGS))
    member = policy(group, Access.MEMBER)
    assert member.template == "strict"
    assert member.location.line == line(text, "  member:")
    assert rules(member) == {
        EXPIRATION_ELIGIBILITY: {"permanent": False, "max_duration": timedelta(days=365)},
        ENABLEMENT_ELIGIBILITY: {"require": frozenset()},
        EXPIRATION_ASSIGNMENT: {"permanent": False, "max_duration": timedelta(days=90)},
        ENABLEMENT_ASSIGNMENT: {"require": frozenset({JUSTIFICATION})},
        EXPIRATION_ACTIVATION: {"max_duration": timedelta(hours=4)},
        ENABLEMENT_ACTIVATION: {"require": frozenset({JUSTIFICATION, TICKET})},
        APPROVAL_ACTIVATION: {
            "required": True,
            "approvers": frozenset({PrincipalRef(PrincipalType.GROUP, "PIM-Approvers"),
                                    PrincipalRef(PrincipalType.USER, "lead@contoso.example")}),
        },
        AUTH_CONTEXT_ACTIVATION: {"authentication_context": "c1"},
        "Notification_Admin_Admin_Eligibility": {
            "default_recipients": True,
            "recipients": frozenset({"sec@contoso.example"}),
            "level": NotificationLevel.ALL,
        },
        "Notification_Approver_EndUser_Assignment": {"level": NotificationLevel.CRITICAL},
    }
    # in the order plans show them
    assert [r.rule for r in member.rules] == list(rules(member))
    # approvers as written, in order, for the Graph adapter to resolve like principals
    assert member.approvers == (PrincipalRef(PrincipalType.GROUP, "PIM-Approvers"),
                                PrincipalRef(PrincipalType.USER, "lead@contoso.example"))
    at = lines(member)
    assert at[EXPIRATION_ELIGIBILITY] == {"permanent": line(text, "permanent: false"),
                                          "max_duration": line(text, "P365D")}
    assert at[EXPIRATION_ACTIVATION] == {"max_duration": line(text, "PT4H")}
    assert at[APPROVAL_ACTIVATION] == {"required": line(text, "required: true"),
                                       "approvers": line(text, "approvers:")}
    assert at["Notification_Approver_EndUser_Assignment"] == {
        "level": line(text, "approver: { level")}
    assert member.rule(APPROVAL_ACTIVATION).location.line == line(text, "approval:")  # type: ignore[union-attr]

    owner = policy(group, Access.OWNER)  # template only, placed at the owner's template line
    assert owner.template == "strict" and owner.approvers == ()
    assert rules(owner) == {
        EXPIRATION_ELIGIBILITY: {"permanent": False, "max_duration": timedelta(days=180)},
        EXPIRATION_ACTIVATION: {"max_duration": timedelta(hours=2)},
        ENABLEMENT_ACTIVATION: {"require": frozenset({MFA, JUSTIFICATION})},
    }
    owner_line = line(text, "owner: { template")
    assert {f: n for r in lines(owner).values() for f, n in r.items()} == {
        "permanent": owner_line, "max_duration": owner_line, "require": owner_line}
    assert all(r.location.line == owner_line and r.location.file.endswith("groups/app.yaml")
               for r in owner.rules)


# --- templates and defaults ---------------------------------------------------------------


def test_group_field_wins_and_the_template_fills_the_rest(tmp_path: Path) -> None:
    text = """\
group: grp-app
policy:
  member:
    template: strict
    activation:
      max_duration: PT4H
"""
    member = policy(only_group(*load(tmp_path, text, SETTINGS)), Access.MEMBER)
    assert rules(member) == {
        EXPIRATION_ELIGIBILITY: {"permanent": False, "max_duration": timedelta(days=180)},
        EXPIRATION_ACTIVATION: {"max_duration": timedelta(hours=4)},
        ENABLEMENT_ACTIVATION: {"require": frozenset({MFA, JUSTIFICATION})},
    }
    assert lines(member)[EXPIRATION_ACTIVATION] == {"max_duration": 6}
    assert lines(member)[ENABLEMENT_ACTIVATION] == {"require": 4}  # the template: line
    assert member.rule(EXPIRATION_ACTIVATION).location.line == 5  # type: ignore[union-attr]
    assert member.rule(ENABLEMENT_ACTIVATION).location.line == 4  # type: ignore[union-attr]


def test_lists_replace_the_templates_lists(tmp_path: Path) -> None:
    settings = """\
policy_templates:
  gated:
    activation:
      require: [mfa, justification]
      approval: { required: true, approvers: [sec@contoso.example] }
"""
    text = """\
group: grp-app
policy:
  member:
    template: gated
    activation:
      require: [ticket]
      approval: { approvers: [{ group: Approvers }] }
  owner: { template: gated }
"""
    group = only_group(*load(tmp_path, text, settings))
    member, owner = policy(group, Access.MEMBER), policy(group, Access.OWNER)
    assert rules(member)[ENABLEMENT_ACTIVATION] == {"require": frozenset({TICKET})}
    approvers = PrincipalRef(PrincipalType.GROUP, "Approvers")
    assert rules(member)[APPROVAL_ACTIVATION] == {"required": True,
                                                  "approvers": frozenset({approvers})}
    assert member.approvers == (approvers,)
    sec = PrincipalRef(PrincipalType.USER, "sec@contoso.example")
    assert rules(owner)[APPROVAL_ACTIVATION] == {"required": True, "approvers": frozenset({sec})}
    assert owner.approvers == (sec,)


def test_defaults_policy_applies_to_each_access_a_group_leaves_out(tmp_path: Path) -> None:
    bare = "group: grp-bare\n"
    owner_only = """\
group: grp-owner
policy:
  owner:
    eligible: { permanent: true }
"""
    opted_out = """\
group: grp-out
policy:
  member: {}
"""
    state, problems = load(tmp_path, bare, SETTINGS, owner=owner_only, out=opted_out)
    assert state is not None and problems == []
    by = {g.group: g for g in state.groups}
    strict = {
        EXPIRATION_ELIGIBILITY: {"permanent": False, "max_duration": timedelta(days=180)},
        EXPIRATION_ACTIVATION: {"max_duration": timedelta(hours=2)},
        ENABLEMENT_ACTIVATION: {"require": frozenset({MFA, JUSTIFICATION})},
    }
    assert [(p.access, p.template, rules(p)) for p in by["grp-bare"].policies] == [
        (Access.MEMBER, "strict", strict), (Access.OWNER, "strict", strict)]
    assert all(line == 1 for p in by["grp-bare"].policies for r in lines(p).values()
               for line in r.values())  # at the group: line
    assert by["grp-bare"].policies[0].location.line == 1
    assert [(p.access, p.template, rules(p)) for p in by["grp-owner"].policies] == [
        (Access.MEMBER, "strict", strict),
        (Access.OWNER, None, {EXPIRATION_ELIGIBILITY: {"permanent": True}})]
    # member: {} is the group's own (empty) policy: nothing managed, default not applied
    assert [(p.access, p.template) for p in by["grp-out"].policies] == [
        (Access.OWNER, "strict")]
    assert state.settings.defaults.policy == {Access.MEMBER: "strict", Access.OWNER: "strict"}
    assert set(state.settings.policy_templates) == {"strict"}


def test_without_policy_or_defaults_nothing_is_managed(tmp_path: Path) -> None:
    group = only_group(*load(tmp_path, "group: grp-app\n"))
    assert group.policies == ()


def test_notifications_map_to_their_rule_ids(tmp_path: Path) -> None:
    text = """\
group: grp-app
policy:
  owner:
    notifications:
      activated:
        approver: { default_recipients: false, recipients: [Sec@Contoso.example], level: none }
      active_assigned:
        requestor: { level: critical }
"""
    owner = policy(only_group(*load(tmp_path, text)), Access.OWNER)
    assert rules(owner) == {
        "Notification_Requestor_Admin_Assignment": {"level": NotificationLevel.CRITICAL},
        "Notification_Approver_EndUser_Assignment": {
            "default_recipients": False,
            "recipients": frozenset({"Sec@Contoso.example"}),  # compared ignoring case
            "level": NotificationLevel.NONE,
        },
    }
    assert owner.rule("Notification_Approver_EndUser_Assignment").location.line == 6  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["null", "false", "~"])
def test_authentication_context_off(tmp_path: Path, value: str) -> None:
    text = f"group: grp-app\npolicy:\n  member:\n    activation:\n" \
           f"      require: [mfa]\n      authentication_context: {value}\n"
    member = policy(only_group(*load(tmp_path, text)), Access.MEMBER)
    assert rules(member)[AUTH_CONTEXT_ACTIVATION] == {"authentication_context": None}


def test_approver_forms(tmp_path: Path) -> None:
    gid = "0F2C7E3A-1B2C-4D5E-8F90-A1B2C3D4E5F6"
    text = f"""\
group: grp-app
policy:
  member:
    activation:
      approval:
        approvers: [kim@contoso.example, {gid}, {{ id: {gid} }}, {{ user: Kim Doe }},
                    {{ group: Approvers }}]
"""
    member = policy(only_group(*load(tmp_path, text)), Access.MEMBER)
    assert member.approvers == (
        PrincipalRef(PrincipalType.USER, "kim@contoso.example"),
        PrincipalRef(PrincipalType.ID, gid.lower()),
        PrincipalRef(PrincipalType.USER, "Kim Doe"),
        PrincipalRef(PrincipalType.GROUP, "Approvers"),
    )
    # only approvers declared: `required` is not managed
    assert set(rules(member)[APPROVAL_ACTIVATION]) == {"approvers"}


# --- problems -----------------------------------------------------------------------------


def _activation(body: str) -> str:
    return "group: grp-app\npolicy:\n  member:\n    activation:\n" + "".join(
        f"      {t}\n" for t in body.splitlines())


@pytest.mark.parametrize(
    ("body", "code", "at"),
    [
        ("max_duration: P2D", Code.ACTIVATION_TOO_LONG, 5),
        ("max_duration: PT24H1M", Code.ACTIVATION_TOO_LONG, 5),
        ("max_duration: P1M", Code.DURATION_UNIT_UNSUPPORTED, 5),
        ("max_duration: PT1M", Code.DURATION_TOO_SHORT, 5),
        ("approval:\n  required: true\n  approvers: []", Code.APPROVAL_WITHOUT_APPROVERS, 7),
        ("require: [mfa]\nauthentication_context: c1", Code.POLICY_CONFLICT, 6),
        ("approval: { approvers: [{ servicePrincipal: deploy }] }", Code.APPROVER_INVALID, 5),
        ("approval: { approvers: [Approvers] }", Code.PRINCIPAL_AMBIGUOUS, 5),
        ("authentication_context: true", Code.SCHEMA, 5),
    ],
)
def test_activation_problems_at_their_line(tmp_path: Path, body: str, code: Code,
                                           at: int) -> None:
    state, problems = load(tmp_path, _activation(body))
    assert state is None
    assert problems_of(problems) == [(str(code), "app.yaml", at)]
    assert problems[0].group == "grp-app" and problems[0].message


def test_messages_say_what_to_do(tmp_path: Path) -> None:
    _, problems = load(tmp_path, _activation("max_duration: P2D"))
    assert "PT24H" in problems[0].message and "policy.member.activation.max_duration" in (
        problems[0].message)
    _, problems = load(tmp_path, _activation("approval: { approvers: [{ servicePrincipal: d }] }"))
    assert problems[0].principal == "d" and "users or groups" in problems[0].message
    _, problems = load(tmp_path, _activation("max_duration: P6M"))
    assert "P180D" in problems[0].message


def test_admin_durations_follow_the_assignment_rules(tmp_path: Path) -> None:
    text = "group: grp-app\npolicy:\n  owner:\n    eligible:\n      max_duration: P1Y\n" \
           "    active: { max_duration: P2W }\n"
    _, problems = load(tmp_path, text)
    assert problems_of(problems) == [("duration_unit_unsupported", "app.yaml", 5),
                                     ("duration_unit_unsupported", "app.yaml", 6)]


def test_approval_without_any_approvers_given_is_left_to_the_planner(tmp_path: Path) -> None:
    """The planner knows the live approvers; `required: true` alone loads."""
    member = policy(only_group(*load(tmp_path, _activation("approval: { required: true }"))),
                    Access.MEMBER)
    assert rules(member) == {APPROVAL_ACTIVATION: {"required": True}}
    assert member.approvers == ()


def test_conflict_of_a_group_field_with_its_template_is_the_groups(tmp_path: Path) -> None:
    text = """\
group: grp-app
policy:
  member:
    template: strict
    activation: { authentication_context: c2 }
"""
    state, problems = load(tmp_path, text, SETTINGS)
    assert state is None
    assert problems_of(problems) == [("policy_conflict", "app.yaml", 5)]
    assert "template 'strict'" in problems[0].message


def test_template_problems_are_reported_once_in_the_settings_file(tmp_path: Path) -> None:
    settings = """\
policy_templates:
  loose:
    activation:
      max_duration: P3D
  clash:
    activation: { require: [mfa], authentication_context: c1 }
"""
    text = "group: grp-a\npolicy:\n  member: { template: clash }\n"
    state, problems = load(tmp_path, text, settings, partial=True,
                           b="group: grp-b\npolicy:\n  member: { template: clash }\n")
    assert problems_of(problems) == [("activation_too_long", "pim-reconciler.yaml", 4),
                                     ("policy_conflict", "pim-reconciler.yaml", 6)]
    assert state is not None
    assert {t.name: t.usable for t in state.settings.policy_templates.values()} == {
        "loose": False, "clash": False}
    # a group using a broken template plans none of its settings
    assert [g.policies for g in state.groups] == [(), ()]


def test_unknown_template_is_template_not_found_with_a_suggestion(tmp_path: Path) -> None:
    text = "group: grp-app\npolicy:\n  member:\n    template: strct\n"
    state, problems = load(tmp_path, text, SETTINGS)
    assert state is None
    assert problems_of(problems) == [("template_not_found", "app.yaml", 4)]
    assert "did you mean 'strict'?" in problems[0].message
    assert problems[0].group == "grp-app"


def test_unknown_default_template_is_reported_in_the_settings(tmp_path: Path) -> None:
    settings = "defaults:\n  policy:\n    owner: strict\n"
    state, problems = load(tmp_path, "group: grp-app\n", settings, partial=True)
    assert problems_of(problems) == [("template_not_found", "pim-reconciler.yaml", 3)]
    assert "defines no policy_templates" in problems[0].message
    assert state is not None and state.settings.defaults.policy == {}
    assert state.groups[0].policies == ()


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("group: g\npolicy:\n  member:\n    eligible:\n      max_duraton: P10D\n", 5,
         "unknown key 'max_duraton' in policy.member.eligible; did you mean 'max_duration'?"),
        ("group: g\npolicy:\n  member:\n    activaton:\n      max_duration: PT1H\n", 4,
         "unknown key 'activaton' in policy.member; did you mean 'activation'?"),
        ("group: g\npolicy:\n  members: {}\n", 3,
         "unknown key 'members' in policy; did you mean 'member'?"),
        ("group: g\npolicy:\n  owner:\n    notifications:\n      activated:\n"
         "        approvers: { level: all }\n", 6,
         "unknown key 'approvers' in policy.owner.notifications.activated; "
         "did you mean 'approver'?"),
        ("group: g\npolicy:\n  owner:\n    activation:\n      approval: { require: true }\n",
         5, "unknown key 'require' in policy.owner.activation.approval; "
         "did you mean 'required'?"),
    ],
)
def test_misspelt_policy_keys_suggest_the_right_one(tmp_path: Path, text: str, at: int,
                                                    words: str) -> None:
    state, problems = load(tmp_path, text)
    assert state is None
    assert [(str(p.code), p.line) for p in problems] == [("schema", at)]
    assert words in problems[0].message


def test_misspelt_template_key_in_settings_suggests_the_right_one(tmp_path: Path) -> None:
    settings = "policy_templates:\n  strict:\n    eligble: { permanent: false }\n"
    _, problems = load(tmp_path, "group: grp-app\n", settings)
    assert problems_of(problems) == [("schema", "pim-reconciler.yaml", 3)]
    assert "did you mean 'eligible'?" in problems[0].message


@pytest.mark.parametrize(
    "body",
    ["require: [sms]", "approval: { required: yes please }", "max_duration: 4h",
     "approval: { approvers: [{ id: not-a-guid }] }"],
)
def test_wrong_values_are_schema_problems(tmp_path: Path, body: str) -> None:
    state, problems = load(tmp_path, _activation(body))
    assert state is None
    assert [str(p.code) for p in problems] == ["schema"]


def test_a_broken_policy_drops_the_groups_settings_but_keeps_its_assignments(
        tmp_path: Path) -> None:
    text = """\
group: grp-app
policy:
  member:
    eligible: { permanent: true }
  owner:
    activation: { max_duration: P2D }
members:
  eligible:
    - principal: alex@contoso.example
      permanent: true
"""
    state, problems = load(tmp_path, text, partial=True)
    assert problems_of(problems) == [("activation_too_long", "app.yaml", 6)]
    assert state is not None
    (group,) = state.groups
    assert group.usable and group.incomplete == frozenset()
    assert group.policies == ()
    assert [(a.kind, a.principal.value) for a in group.assignments] == [
        (Kind.ELIGIBLE, "alex@contoso.example")]


# --- schemas and the CLI ------------------------------------------------------------------


def test_settings_schema_shares_the_group_schemas_policy_shape() -> None:
    """One shape for a group's policy.<access> and a template (written twice, since each
    schema file stands alone for editors)."""
    group, settings = load_schema(GROUP_SCHEMA)["$defs"], load_schema(SETTINGS_SCHEMA)["$defs"]
    shared = [name for name in group if name.startswith("policy_") and name != "policy_access"]
    assert len(shared) >= 8
    for name in shared:
        assert settings[name] == group[name], name
    access = dict(group["policy_access"]["properties"])
    del access["template"]
    assert settings["policy_template"]["properties"] == access


def test_files_with_policies_validate_against_the_raw_schemas(tmp_path: Path) -> None:
    """What yaml-language-server checks through the modeline agrees with the loader."""
    groups = Draft202012Validator(load_schema(GROUP_SCHEMA))
    settings = Draft202012Validator(load_schema(SETTINGS_SCHEMA))
    settings.validate(load_yaml_bytes(SETTINGS.encode()).data)
    groups.validate(load_yaml_bytes(FORMAT_EXAMPLE.encode()).data)
    bad = load_yaml_bytes(b"group: g\npolicy:\n  member:\n    activaton: {}\n").data
    assert [e.validator for e in groups.iter_errors(bad)] == ["additionalProperties"]


def test_validate_cli_accepts_a_directory_with_policies(tmp_path: Path) -> None:
    modeline = "# yaml-language-server: $schema=../schemas/assignments.schema.json\n"
    text = FORMAT_EXAMPLE.replace("authentication_context: c1", "authentication_context: false")
    root = write_tree(tmp_path / "d", {"pim-reconciler.yaml": SETTINGS,
                                       "groups/app.yaml": modeline + text,
                                       "groups/bare.yaml": "group: grp-bare\n"})
    run = run_cli("validate", str(root), "--format", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.json() == []
    write_tree(root, {"groups/bad.yaml": _activation("max_duration: P2D")})
    run = run_cli("validate", str(root), "--format", "json")
    assert run.exit_code == 1
    assert [(p["code"], p["line"], p["group"]) for p in run.json()] == [
        ("activation_too_long", 5, "grp-app")]


POLICY_CASES = sorted((SHARED_CASES / "policy").glob("*.yaml"))


@pytest.mark.skipif(not POLICY_CASES, reason=f"no policy cases at {SHARED_CASES}/policy")
@pytest.mark.parametrize("path", POLICY_CASES, ids=[p.stem for p in POLICY_CASES])
def test_policy_cases_validate_as_expected(path: Path, tmp_path: Path) -> None:
    """`validate` on each policy case's desired files: its `validate_exit` when stated, and
    otherwise 0 (what remains needs the tenant: e.g. approval required with no approver
    written at all is the planner's `approval_without_approvers`, as it knows the live ones)."""
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    root = write_tree(tmp_path / "d", case.get("desired") or {})
    run = run_cli("--now", str(case["tenant"]["now"]), "validate", str(root), "--format", "json")
    assert run.exit_code == (case.get("expect") or {}).get("validate_exit", 0), run.stdout
    state, _ = load_desired(root)
    assert state is not None
    assert all(g.policies for g in state.groups)
