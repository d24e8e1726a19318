"""Drift classification on hand-made states (pure; no I/O)."""

from __future__ import annotations

from datetime import timedelta

from reconciler.desired.model import Access, Lifetime, Mode
from reconciler.plan.changes import Action
from reconciler.plan.drift import DriftClass, classify
from reconciler.plan.planner import plan
from reconciler.problems import Code, Severity

from ..planner.builders import NOW, desired, entry, group, live, row, user

D = timedelta
WINDOW = D(days=14)


def report_for(state, *rows, window=WINDOW, users=range(1, 10)):
    resolution, live_state = live(*rows, users=users)
    the_plan = plan(state, resolution, live_state, NOW)
    return classify(state, resolution, live_state, the_plan, NOW, window)


def only(report, cls):
    """The class's items as (principal number, action) pairs; every other class empty."""
    for other in DriftClass:
        if other is not cls and other is not DriftClass.EXPIRING_SOON:
            assert report.items(other) == (), other
    return [(int(i.principal_id[-4:]), i.action) for i in report.items(cls)]


def test_in_sync_state_has_no_drift_and_exits_0():
    far = NOW + D(days=100)
    state = desired(group(entry(1, Lifetime.fixed(far))))
    report = report_for(state, row(1, end=far))
    assert report.counts() == {**{str(c): 0 for c in DriftClass}, "information": 0,
                               "errors": 0, "warnings": 0}
    assert not report.has_drift and report.exit_code() == 0


def test_undeclared_row_in_authoritative_group_is_out_of_band_removal():
    state = desired(group(entry(1, Lifetime.permanent())))
    report = report_for(state, row(1, end=None), row(2, end=NOW + D(days=100)))
    assert only(report, DriftClass.OUT_OF_BAND) == [(2, Action.REMOVE)]
    [item] = report.out_of_band
    assert item.live and item.live_end == NOW + D(days=100) and not item.live_permanent
    assert item.principal == "user2@contoso.example" and item.group == "grp-app"
    assert report.exit_code() == 2


def test_undeclared_row_in_additive_group_is_information_not_drift():
    # the additive file says undeclared rows are acceptable: a drift issue must not be
    # reopened for them on every run
    state = desired(group(entry(1, Lifetime.permanent()), mode=Mode.ADDITIVE))
    report = report_for(state, row(1, end=None), row(2, end=NOW + D(days=100)))
    assert report.out_of_band == ()
    assert [(i.code, i.principal) for i in report.information] == [
        ("undeclared", "user2@contoso.example")]
    assert report.exit_code() == 0


def test_safety_guards_are_warnings_in_a_drift_report():
    state = desired(group(entry(1, Lifetime.permanent())), max_removals=2)
    rows = [row(n, end=None) for n in range(1, 5)]
    report = report_for(state, *rows)
    assert len(report.out_of_band) == 3
    guards = [p for p in report.problems if p.code == Code.TOO_MANY_REMOVALS]
    assert guards and all(p.severity is Severity.WARNING for p in guards)
    assert report.exit_code() == 2


def test_unknown_principal_names_fall_back_to_ids():
    state = desired(group(entry(1, Lifetime.permanent()), mode=Mode.ADDITIVE))
    report = report_for(state, row(1, end=None), row(7, end=NOW + D(days=2)),
                        users=range(1, 2))
    assert [i.principal for i in report.information] == [user(7).id]
    [item] = report.expiring_soon
    assert item.principal == user(7).id and str(item.principal_type) == "id"


def test_items_are_sorted_by_group_access_kind_principal():
    state = desired(group(entry(1, Lifetime.permanent())))
    report = report_for(state, row(1, end=None), row(5, end=None), row(3, end=None),
                        row(4, end=None, access=Access.OWNER), users=range(1, 10))
    assert [i.principal for i in report.out_of_band] == [
        "user3@contoso.example", "user5@contoso.example"]


# --- PIM settings ---------------------------------------------------------------------------

def _policy_report(live_rules, *declared_rules):
    from reconciler.graph import decode
    from tests.planner.builders import GID
    from tests.planner.test_policies import declared, wire_policy, with_policy

    pols = tuple(decode.policy(wire_policy(a, **live_rules.get(a, {})), GID) for a in Access)
    state = desired(with_policy(group(), declared(Access.MEMBER, *declared_rules)))
    resolution, live_state = live(policies=pols)
    the_plan = plan(state, resolution, live_state, NOW)
    return classify(state, resolution, live_state, the_plan, NOW, WINDOW)


def test_hand_lengthened_activation_is_policy_drift_marked_live_looser():
    from reconciler.desired.policy import EXPIRATION_ACTIVATION

    report = _policy_report(
        {Access.MEMBER: {EXPIRATION_ACTIVATION: {"maximumDuration": "PT12H"}}},
        (EXPIRATION_ACTIVATION, {"max_duration": D(hours=4)}))
    [item] = report.policy_changed
    assert (item.group, item.access, item.rule, item.live, item.declared, item.live_looser) == (
        "grp-app", Access.MEMBER, EXPIRATION_ACTIVATION, {"max_duration": "PT12H"},
        {"max_duration": "PT4H"}, True)
    assert (item.file, item.line) == ("groups/app.yaml", 4)
    assert report.counts()["policy_changed"] == 1 and report.has_drift
    assert report.exit_code() == 2
    assert report.to_dict()["policy_changed"][0]["live"] == {"max_duration": "PT12H"}


def test_live_stricter_than_the_file_is_drift_not_live_looser():
    from reconciler.desired.policy import ENABLEMENT_ACTIVATION, Requirement

    report = _policy_report(
        {Access.MEMBER: {ENABLEMENT_ACTIVATION: {"enabledRules": [
            "Justification", "MultiFactorAuthentication", "Ticketing"]}}},
        (ENABLEMENT_ACTIVATION, {"require": frozenset({Requirement.JUSTIFICATION,
                                                       Requirement.MFA})}))
    [item] = report.policy_changed
    assert item.live == {"require": ["justification", "mfa", "ticket"]}
    assert item.declared == {"require": ["justification", "mfa"]}
    assert item.live_looser is False and report.exit_code() == 2


def test_undeclared_policy_field_that_differs_is_not_drift():
    from reconciler.desired.policy import EXPIRATION_ACTIVATION, EXPIRATION_ELIGIBILITY

    # live: permanent eligibility allowed and a 12 h activation; the file manages only the
    # activation maximum, and declares the live value
    report = _policy_report(
        {Access.MEMBER: {EXPIRATION_ELIGIBILITY: {"isExpirationRequired": False},
                         EXPIRATION_ACTIVATION: {"maximumDuration": "PT12H"}}},
        (EXPIRATION_ACTIVATION, {"max_duration": D(hours=12)}))
    assert report.policy_changed == () and not report.has_drift and report.exit_code() == 0
