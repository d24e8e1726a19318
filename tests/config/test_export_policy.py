"""`export --policies` text: fields that differ from a new group's defaults, read back by the
product's own reader to the same values (so a plan after export has nothing to change)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from reconciler.config.export import ExportedGroup, render_group_file
from reconciler.config.export_policy import differing, policy_block
from reconciler.config.loader import load_desired
from reconciler.desired.model import Access, PrincipalRef, PrincipalType
from reconciler.desired.policy import (
    APPROVAL_ACTIVATION,
    AUTH_CONTEXT_ACTIVATION,
    ENABLEMENT_ASSIGNMENT,
    EXPIRATION_ACTIVATION,
    EXPIRATION_ELIGIBILITY,
    NEW_GROUP_DEFAULTS,
    Approver,
    ApproverType,
    NotificationLevel,
    Requirement,
    notification_rule,
)

USER = Approver(ApproverType.USER, "aaaaaaaa-0000-0000-0000-000000000001")
GONE = Approver(ApproverType.USER, "aaaaaaaa-0000-0000-0000-000000000009")
TEAM = Approver(ApproverType.GROUP, "bbbbbbbb-0000-0000-0000-000000000002")
NAMES = {USER: "lead@contoso.example", TEAM: ("group", "PIM Approvers: EU"), GONE: GONE.id}


def live_settings(**changes):
    """Every rule at its default, with `changes` (rule id -> fields) over it."""
    out = {rule: dict(fields) for rule, fields in NEW_GROUP_DEFAULTS.items()}
    for rule, fields in changes.items():
        out[rule].update(fields)
    return out


def test_defaults_export_nothing():
    assert policy_block(live_settings(), NAMES.__getitem__) == {}
    assert differing(ENABLEMENT_ASSIGNMENT,
                     {"require": frozenset({Requirement.JUSTIFICATION})}) == {}
    # no maximum read (a rule without maximumDuration): nothing the file could say
    assert differing(EXPIRATION_ACTIVATION, {"max_duration": None}) == {}


def test_every_kind_of_field_is_written_in_file_order():
    settings = live_settings(**{
        EXPIRATION_ELIGIBILITY: {"permanent": True, "max_duration": timedelta(days=90)},
        ENABLEMENT_ASSIGNMENT: {"require": frozenset()},
        EXPIRATION_ACTIVATION: {"max_duration": timedelta(hours=4)},
        AUTH_CONTEXT_ACTIVATION: {"authentication_context": "c1"},
        APPROVAL_ACTIVATION: {"required": True, "approvers": frozenset({USER, TEAM, GONE})},
        notification_rule("eligible_assigned", "admin"): {
            "default_recipients": False, "recipients": frozenset({"sec@contoso.example"})},
        notification_rule("activated", "approver"): {"level": NotificationLevel.CRITICAL},
    })
    block = policy_block(settings, NAMES.__getitem__)
    assert block == {
        "eligible": {"permanent": True, "max_duration": "P90D"},
        "active": {"require": []},
        "activation": {"max_duration": "PT4H", "authentication_context": "c1",
                       "approval": {"required": True, "approvers": [
                           GONE.id, "lead@contoso.example", ("group", "PIM Approvers: EU")]}},
        "notifications": {
            "eligible_assigned": {"admin": {"default_recipients": False,
                                            "recipients": ["sec@contoso.example"]}},
            "activated": {"approver": {"level": "critical"}}},
    }


def test_exported_block_reads_back_to_the_live_values(tmp_path: Path):
    settings = live_settings(**{
        EXPIRATION_ELIGIBILITY: {"max_duration": timedelta(days=90)},
        ENABLEMENT_ASSIGNMENT: {"require": frozenset({Requirement.TICKET, Requirement.MFA})},
        APPROVAL_ACTIVATION: {"required": True, "approvers": frozenset({USER, TEAM})},
        notification_rule("activated", "requestor"): {"level": NotificationLevel.NONE},
    })
    group = ExportedGroup("gid", "PIM-X", "PIM-X", {}, "pim-x",
                          policy={Access.OWNER: policy_block(settings, NAMES.__getitem__)})
    text = render_group_file(group, None)
    assert "approvers: [lead@contoso.example, { group: \"PIM Approvers: EU\" }]" in text
    (tmp_path / "groups").mkdir()
    (tmp_path / "groups" / "x.yaml").write_text(text, encoding="utf-8")
    state, problems = load_desired(tmp_path)
    assert problems == [] and state is not None
    [policy] = state.groups[0].policies
    assert policy.access is Access.OWNER
    read = {r.rule: dict(r.fields) for r in policy.rules}
    assert read[EXPIRATION_ELIGIBILITY] == {"max_duration": timedelta(days=90)}
    assert read[ENABLEMENT_ASSIGNMENT] == {"require": frozenset({"ticket", "mfa"})}
    assert read[notification_rule("activated", "requestor")] == {"level": "none"}
    assert read[APPROVAL_ACTIVATION]["required"] is True
    assert set(policy.approvers) == {PrincipalRef(PrincipalType.USER, "lead@contoso.example"),
                                     PrincipalRef(PrincipalType.GROUP, "PIM Approvers: EU")}
    assert set(read) == {EXPIRATION_ELIGIBILITY, ENABLEMENT_ASSIGNMENT, APPROVAL_ACTIVATION,
                         notification_rule("activated", "requestor")}
