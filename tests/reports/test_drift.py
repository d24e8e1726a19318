"""Drift classification on hand-made states (pure; no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from reconciler.drift import DriftClass, classify
from reconciler.live import AssignmentType, MemberType
from reconciler.model import Access, Kind, Lifetime, Mode
from reconciler.plan import Action
from reconciler.planner import plan
from reconciler.problems import Code, Severity

from ..planner.builders import NOW, desired, entry, group, live, ref, rolling, row, user

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


def test_undeclared_row_in_additive_group_is_out_of_band_without_action():
    state = desired(group(entry(1, Lifetime.permanent()), mode=Mode.ADDITIVE))
    report = report_for(state, row(1, end=None), row(2, end=NOW + D(days=100)))
    assert only(report, DriftClass.OUT_OF_BAND) == [(2, None)]
    assert "additive" in report.out_of_band[0].detail
    assert report.exit_code() == 2
    # moved out of information, not listed twice
    assert [i.code for i in report.information] == []


def test_unmanaged_section_rows_are_not_drift():
    state = desired(group(entry(1, Lifetime.permanent())))  # manages member eligible only
    report = report_for(state, row(1, end=None),
                        row(2, end=None, access=Access.OWNER),
                        row(3, end=None, kind=Kind.ACTIVE))
    assert report.exit_code() == 0 and not report.out_of_band


def test_declared_not_live_is_missing():
    state = desired(group(entry(1, rolling("P30D"))))
    report = report_for(state)
    assert only(report, DriftClass.MISSING) == [(1, Action.CREATE)]
    [item] = report.missing
    assert not item.live and item.end == NOW + D(days=30) and item.duration == "P30D"
    assert item.file == "groups/app.yaml" and item.line == 5


def test_changed_lifetime_is_lifetime_changed():
    until = NOW + D(days=60)
    state = desired(group(entry(1, Lifetime.fixed(until))))
    report = report_for(state, row(1, end=NOW + D(days=90)))
    assert only(report, DriftClass.LIFETIME_CHANGED) == [(1, Action.UPDATE)]
    [item] = report.lifetime_changed
    assert (item.live_end, item.end) == (NOW + D(days=90), until)


def test_rolling_entry_in_renewal_window_is_renewal_due_not_expiring():
    state = desired(group(entry(1, rolling("P90D"))))
    report = report_for(state, row(1, end=NOW + D(days=4)))
    assert only(report, DriftClass.RENEWAL_DUE) == [(1, Action.RENEW)]
    assert report.expiring_soon == ()  # renewed by the plan: it does not run out


def test_deferred_change_is_only_a_pending_deferral():
    state = desired(group(entry(1, Lifetime.permanent())))
    fresh = row(2, end=NOW + D(days=7), created=NOW - D(minutes=2))
    report = report_for(state, row(1, end=None), fresh)
    assert only(report, DriftClass.PENDING_DEFERRALS) == [(2, Action.REMOVE)]
    [item] = report.pending_deferrals
    assert item.not_before == NOW + D(minutes=3)
    assert report.exit_code() == 2


def test_fixed_until_within_window_is_expiring_soon_but_not_drift():
    soon = NOW + D(days=10)
    state = desired(group(entry(1, Lifetime.fixed(soon)), entry(2, Lifetime.permanent())))
    report = report_for(state, row(1, end=soon), row(2, end=None))
    assert [(i.principal, i.end, i.action) for i in report.expiring_soon] == [
        ("user1@contoso.example", soon, None)]
    assert report.expiring_soon[0].file == "groups/app.yaml"
    assert not report.has_drift and report.exit_code() == 0


def test_window_bounds_expiring_soon():
    end = NOW + D(days=20)
    state = desired(group(entry(1, Lifetime.fixed(end))))
    assert report_for(state, row(1, end=end), window=D(days=14)).expiring_soon == ()
    assert len(report_for(state, row(1, end=end), window=D(days=20)).expiring_soon) == 1


def test_declared_until_within_window_counts_after_the_update():
    soon = NOW + D(days=5)
    state = desired(group(entry(1, Lifetime.fixed(soon))))
    report = report_for(state, row(1, end=NOW + D(days=90)))
    assert [i.action for i in report.lifetime_changed] == [Action.UPDATE]
    [item] = report.expiring_soon
    assert item.end == soon and item.action is Action.UPDATE and "once the planned" in item.detail


def test_removed_and_lapsed_rows_are_not_expiring():
    state = desired(group(entry(1, Lifetime.permanent())))
    report = report_for(state, row(1, end=None), row(2, end=NOW + D(days=3)),
                        row(3, end=NOW - D(days=1)))
    assert report.expiring_soon == ()
    assert [int(i.principal_id[-4:]) for i in report.out_of_band] == [2]


def test_activations_and_inherited_rows_are_information():
    state = desired(group(entry(1, Lifetime.permanent()),
                          entry(2, Lifetime.permanent(), kind=Kind.ACTIVE)))
    report = report_for(
        state, row(1, end=None), row(2, end=None, kind=Kind.ACTIVE),
        row(3, end=NOW + D(hours=8), kind=Kind.ACTIVE,
            assignment_type=AssignmentType.ACTIVATED),
        row(4, end=None, member_type=MemberType.GROUP))
    assert sorted(i.code for i in report.information) == ["activation", "inherited"]
    assert report.exit_code() == 0 and report.expiring_soon == ()


def test_plan_errors_exit_1_and_keep_valid_drift():
    state = desired(group(entry(1, rolling("P30D")), entry(9, rolling("P30D"))))
    resolution, live_state = live(users=range(1, 3))
    resolution = replace(resolution, principals={**resolution.principals, ref(9): ()})
    report = classify(state, resolution, live_state, plan(state, resolution, live_state, NOW),
                      NOW, WINDOW)  # user 9 does not exist
    assert [p.code for p in report.errors] == [Code.PRINCIPAL_NOT_FOUND]
    assert [i.action for i in report.missing] == [Action.CREATE]
    assert report.exit_code() == 1


def test_safety_guard_is_a_warning_in_a_report():
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
    [item] = report.out_of_band
    assert item.principal == user(7).id and str(item.principal_type) == "id"
    assert [i.principal for i in report.expiring_soon] == [user(7).id]


def test_items_are_sorted_by_group_access_kind_principal():
    state = desired(group(entry(1, Lifetime.permanent())))
    report = report_for(state, row(1, end=None), row(5, end=None), row(3, end=None),
                        row(4, end=None, access=Access.OWNER), users=range(1, 10))
    assert [i.principal for i in report.out_of_band] == [
        "user3@contoso.example", "user5@contoso.example"]
