"""The planner's rules at their boundaries, on hand-made states (pure; no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from reconciler.desired.model import Access, Kind, Lifetime, Mode
from reconciler.live.model import AssignmentType, MemberType
from reconciler.plan.changes import Action, GraphAction
from reconciler.plan.planner import plan
from reconciler.problems import Code, Problem, Severity

from .builders import NOW, desired, entry, group, live, policy, ref, rolling, row, user

D = timedelta


def codes(p, severity=Severity.ERROR):
    return sorted(str(x.code) for x in p.problems if x.severity is severity)


def test_create_rolling_entry_ends_at_now_plus_duration():
    resolution, state = live()
    p = plan(desired(group(entry(1, rolling("P180D")))), resolution, state, NOW)
    [c] = p.changes
    assert (c.action, c.graph_action) == (Action.CREATE, GraphAction.ADMIN_ASSIGN)
    assert c.end == NOW + D(days=180)
    assert c.duration == "P180D" and not c.permanent
    assert c.principal == "user1@contoso.example" and c.group == "grp-app"
    assert p.exit_code() == 2


def test_until_in_sync_within_a_minute_plans_nothing():
    until = NOW + D(days=30)
    resolution, state = live(row(1, end=until + D(seconds=59)))
    p = plan(desired(group(entry(1, Lifetime.fixed(until)))), resolution, state, NOW)
    assert p.changes == () and p.exit_code() == 0


def test_until_moved_is_one_update_in_place():
    resolution, state = live(row(1, end=NOW + D(days=30)))
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW + D(days=60))))), resolution, state, NOW)
    [c] = p.changes
    assert (c.action, c.graph_action) == (Action.UPDATE, GraphAction.ADMIN_UPDATE)
    assert c.schedule_id == f"{state.schedules[0].id}"
    assert c.old_end == NOW + D(days=30) and c.end == NOW + D(days=60)


def test_removal_deferred_until_five_minutes_after_creation_boundary():
    # made 4:59 ago: deferred by one second; made exactly 5:00 ago: may be sent now
    young = row(1, end=NOW + D(days=30), created=NOW - D(minutes=4, seconds=59))
    old = row(2, end=NOW + D(days=30), created=NOW - D(minutes=5))
    resolution, state = live(young, old)
    p = plan(desired(group(managed={(Access.MEMBER, Kind.ELIGIBLE)})), resolution, state, NOW)
    by_principal = {c.principal: c for c in p.changes}
    assert by_principal["user1@contoso.example"].not_before == NOW + D(seconds=1)
    assert by_principal["user2@contoso.example"].not_before is None
    assert p.valid_until == NOW + D(seconds=1)


def test_renewal_window_edges():
    # rolling P90D, renew_before P14D: end exactly 14 days out renews; 14 days + 1 s does not
    at_edge = row(1, end=NOW + D(days=14), start=NOW - D(days=76))
    outside = row(2, end=NOW + D(days=14, seconds=1), start=NOW - D(days=76))
    resolution, state = live(at_edge, outside)
    p = plan(desired(group(entry(1, rolling("P90D")), entry(2, rolling("P90D"), line=7))),
             resolution, state, NOW)
    [c] = p.changes
    assert c.principal == "user1@contoso.example"
    assert (c.action, c.graph_action) == (Action.RENEW, GraphAction.ADMIN_EXTEND)
    assert c.end == NOW + D(days=90)
    assert p.valid_until == NOW + D(seconds=1)  # user2 enters its window then


def test_extended_by_hand_is_planned_back():
    resolution, state = live(row(1, end=NOW + D(days=200), start=NOW - D(days=1)))
    p = plan(desired(group(entry(1, rolling("P90D")))), resolution, state, NOW)
    [c] = p.changes
    assert c.action is Action.UPDATE and c.end == NOW + D(days=90)


def test_permanent_live_for_rolling_entry_is_bounded():
    resolution, state = live(row(1, end=None))
    p = plan(desired(group(entry(1, rolling("P30D")))), resolution, state, NOW)
    [c] = p.changes
    assert c.action is Action.UPDATE and c.old_permanent and c.end == NOW + D(days=30)


def test_policy_maximum_equal_is_allowed_and_above_is_an_error():
    resolution, state = live(policies=(policy(eligible_max="P180D"), policy(Access.OWNER)))
    ok = plan(desired(group(entry(1, rolling("P180D")))), resolution, state, NOW)
    assert codes(ok) == [] and len(ok.changes) == 1
    bad = plan(desired(group(entry(1, rolling("P181D")))), resolution, state, NOW)
    assert codes(bad) == ["duration_exceeds_policy"] and bad.changes == ()
    assert bad.exit_code() == 1


def test_permanent_checked_against_the_rule_for_its_kind():
    pols = (policy(Access.OWNER, eligible_permanent=True, active_permanent=False),
            policy(Access.MEMBER))
    resolution, state = live(policies=pols)
    eligible = entry(1, Lifetime.permanent(), access=Access.OWNER, kind=Kind.ELIGIBLE)
    active = entry(2, Lifetime.permanent(), access=Access.OWNER, kind=Kind.ACTIVE, line=9)
    p = plan(desired(group(eligible, active)), resolution, state, NOW)
    assert [(c.principal, c.permanent) for c in p.changes] == [("user1@contoso.example", True)]
    [problem] = p.errors
    assert problem.code is Code.PERMANENT_NOT_ALLOWED and problem.line == 9
    assert problem.principal == "user2@contoso.example"


def test_justification_required_for_active_assignments():
    resolution, state = live()
    bare = entry(1, rolling("P30D"), kind=Kind.ACTIVE, justification=None)
    p = plan(desired(group(bare)), resolution, state, NOW)
    assert codes(p) == ["justification_required"]


def test_until_too_soon_and_in_past():
    resolution, state = live()
    soon = entry(1, Lifetime.fixed(NOW + D(minutes=4, seconds=59)))
    fine = entry(2, Lifetime.fixed(NOW + D(minutes=5)), line=6)
    past = entry(3, Lifetime.fixed(NOW - D(days=1)), line=7)
    p = plan(desired(group(soon, fine, past)), resolution, state, NOW)
    assert codes(p) == ["until_too_soon"]
    assert codes(p, Severity.WARNING) == ["until_in_past"]
    assert [c.principal for c in p.changes] == ["user2@contoso.example"]


def test_activation_and_inherited_rows_are_information_never_changes():
    activation = row(1, end=NOW + D(hours=2), kind=Kind.ACTIVE,
                     assignment_type=AssignmentType.ACTIVATED)
    inherited = row(2, end=NOW + D(days=20), member_type=MemberType.GROUP)
    resolution, state = live(activation, inherited)
    g = group(managed={(Access.MEMBER, Kind.ACTIVE), (Access.MEMBER, Kind.ELIGIBLE)})
    p = plan(desired(g), resolution, state, NOW)
    assert p.changes == ()
    assert sorted(i.code for i in p.info) == ["activation", "inherited"]


def test_additive_group_never_removes():
    resolution, state = live(row(1, end=NOW + D(days=20)))
    p = plan(desired(group(entry(2, rolling("P30D")), mode=Mode.ADDITIVE)), resolution, state, NOW)
    assert [c.action for c in p.changes] == [Action.CREATE]
    assert [i.code for i in p.info] == ["undeclared"]


def test_unmanaged_section_is_left_alone():
    resolution, state = live(row(1, end=NOW + D(days=20), access=Access.OWNER))
    p = plan(desired(group(entry(2, rolling("P30D")))), resolution, state, NOW)
    assert [c.action for c in p.changes] == [Action.CREATE]


def test_protected_principal_is_never_removed_nor_shortened():
    keep = row(1, end=None, kind=Kind.ACTIVE)
    shorten = row(2, end=NOW + D(days=100))
    resolution, state = live(keep, shorten)
    g = group(entry(2, Lifetime.fixed(NOW + D(days=50))),
              managed={(Access.MEMBER, Kind.ACTIVE), (Access.MEMBER, Kind.ELIGIBLE)})
    p = plan(desired(g, protected=(1, 2)), resolution, state, NOW)
    assert p.changes == ()
    assert codes(p, Severity.WARNING) == ["protected_principal", "protected_principal"]


def test_removal_count_guard_and_its_override():
    rows = [row(n, end=NOW + D(days=20)) for n in range(1, 5)]
    resolution, state = live(*rows)
    keep = [entry(n, Lifetime.fixed(NOW + D(days=20)), line=n) for n in range(1, 2)]
    d = desired(group(*keep), max_removals=2)
    p = plan(d, resolution, state, NOW)
    assert len(p.removals) == 3
    assert "too_many_removals" in codes(p) and p.exit_code() == 1
    overridden = plan(d, resolution, state, NOW, allow_removals=3)
    assert codes(overridden) == [] and overridden.exit_code() == 2
    wrong = plan(d, resolution, state, NOW, allow_removals=2)
    assert "too_many_removals" in codes(wrong)


def test_fraction_guard_counts_only_above_two():
    two = live(*[row(n, end=NOW + D(days=20)) for n in range(1, 3)])
    p = plan(desired(group(managed={(Access.MEMBER, Kind.ELIGIBLE)})), *two, NOW)
    assert codes(p) == [] and len(p.removals) == 2
    four = live(*[row(n, end=NOW + D(days=20)) for n in range(1, 9)])
    keep = [entry(n, Lifetime.fixed(NOW + D(days=20)), line=n) for n in range(1, 6)]
    p = plan(desired(group(*keep)), *four, NOW)  # 3 of 8 = 0.375 > 0.25
    assert codes(p) == ["too_many_removals"]


def test_emptied_group_needs_override():
    resolution, state = live(*[row(n, end=NOW + D(days=20)) for n in range(1, 4)])
    p = plan(desired(group(managed={(Access.MEMBER, Kind.ELIGIBLE)})), resolution, state, NOW)
    assert codes(p) == ["empty_desired_set"]


def test_plan_order_creates_then_updates_then_removals():
    resolution, state = live(row(1, end=NOW + D(days=20)), row(2, end=NOW + D(days=20)))
    g = group(entry(2, Lifetime.fixed(NOW + D(days=40))), entry(3, rolling("P30D"), line=8))
    p = plan(desired(g), resolution, state, NOW)
    assert [c.action for c in p.changes] == [Action.CREATE, Action.UPDATE, Action.REMOVE]


def test_unresolved_principal_withholds_removals_in_its_section():
    resolution, state = live(row(1, end=NOW + D(days=20)), users=range(1, 2))
    resolution = replace(resolution, principals={**resolution.principals, ref(5): ()})
    g = group(entry(5, rolling("P30D")))
    p = plan(desired(g), resolution, state, NOW)
    assert codes(p) == ["principal_not_found"]
    assert p.changes == ()
    assert [i.code for i in p.info] == ["removal_withheld"]


def test_refused_lookup_is_not_reported_as_not_found():
    # the adapter leaves a principal out of the resolution when the lookup was refused (403);
    # its permission_denied problem is the one reported, and nothing is removed for it
    denied = Problem(Severity.ERROR, Code.PERMISSION_DENIED, "User.Read.All missing")
    resolution, state = live(row(1, end=NOW + D(days=20)), users=range(1, 2))
    resolution = replace(resolution, problems=(denied,))
    p = plan(desired(group(entry(5, rolling("P30D")))), resolution, state, NOW)
    assert codes(p) == ["permission_denied"]
    assert p.changes == ()


def test_next_renewal_information_when_duration_grows():
    resolution, state = live(row(1, end=NOW + D(days=50), start=NOW - D(days=10)))
    p = plan(desired(group(entry(1, rolling("P90D")))), resolution, state, NOW)
    assert p.changes == ()
    [info] = p.info
    assert info.code == "next_renewal" and "P90D" in info.message


def test_policy_tightened_under_in_sync_entry_is_a_warning_only():
    resolution, state = live(row(1, end=None), policies=(policy(), policy(Access.OWNER)))
    p = plan(desired(group(entry(1, Lifetime.permanent()))), resolution, state, NOW)
    assert p.changes == () and p.exit_code() == 0
    assert codes(p, Severity.WARNING) == ["policy_tightened"]


def test_checksum_is_stable_and_json_round_trips():
    from reconciler.plan.changes import Plan

    resolution, state = live(row(1, end=NOW + D(days=20)))
    p = plan(desired(group(entry(2, rolling("P30D")))), resolution, state, NOW)
    again = Plan.from_dict(p.to_dict())
    assert again.checksum == p.checksum and again.changes == p.changes
    assert user(1).id in {c.principal_id for c in p.changes}


def test_renewal_that_would_not_move_the_end_is_not_planned():
    # renew_before longer than the duration: a schedule granted a minute ago is "in its
    # window", but renewing it now would give the same end, so nothing is planned
    fresh = row(1, end=NOW + D(days=30) - D(seconds=30), start=NOW - D(seconds=30),
                created=NOW - D(seconds=30))
    older = row(2, end=NOW + D(days=20), start=NOW - D(days=10))
    resolution, state = live(fresh, older)
    p = plan(desired(group(entry(1, rolling("P30D")), entry(2, rolling("P30D"), line=7)),
                     renew_before="P60D"), resolution, state, NOW)
    [c] = p.changes
    assert c.principal == "user2@contoso.example" and c.action is Action.RENEW
    assert "renewed on every run" in c.reason


def test_past_until_with_live_assignment_running_on_is_removed():
    # setting a past `until` is how people revoke: the live end is later, so PIM will not
    # remove it by itself
    resolution, state = live(row(1, end=NOW + D(days=200)), row(2, end=NOW + D(days=200)))
    g = group(entry(1, Lifetime.fixed(NOW - D(days=30))),
              entry(2, Lifetime.fixed(NOW + D(days=200)), line=7))
    p = plan(desired(g), resolution, state, NOW)
    [c] = p.changes
    assert (c.action, c.principal, c.line) == (Action.REMOVE, "user1@contoso.example", 5)
    assert "has passed" in c.reason
    assert codes(p, Severity.WARNING) == ["until_in_past"]


def test_past_until_already_lapsed_plans_nothing():
    lapsed_at = NOW - D(seconds=30)
    resolution, state = live(row(1, end=lapsed_at + D(days=1)))  # still listed, ends later
    p = plan(desired(group(entry(1, Lifetime.fixed(lapsed_at + D(days=1) - D(days=2))))),
             resolution, state, NOW)
    assert [c.action for c in p.changes] == [Action.REMOVE]
    resolution, state = live(row(1, end=NOW - D(days=1) + D(seconds=30)))
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW - D(days=1))))), resolution, state, NOW)
    assert p.changes == ()


def test_past_until_in_additive_group_is_kept_as_information():
    resolution, state = live(row(1, end=NOW + D(days=200)))
    g = group(entry(1, Lifetime.fixed(NOW - D(days=30))), mode=Mode.ADDITIVE)
    p = plan(desired(g), resolution, state, NOW)
    assert p.changes == () and [i.code for i in p.info] == ["lapsed"]


def test_in_sync_rolling_entry_above_the_policy_cap_is_an_error():
    # the next renewal would write P400D, which the policy refuses
    resolution, state = live(row(1, end=NOW + D(days=100), start=NOW - D(days=10)))
    p = plan(desired(group(entry(1, rolling("P400D")))), resolution, state, NOW)
    assert codes(p) == ["duration_exceeds_policy"]
    assert "next renewal" in p.errors[0].message


def test_protected_principal_that_does_not_exist_is_a_warning():
    resolution, state = live(users=range(1, 3))
    resolution = replace(resolution, principals={**resolution.principals, ref(9): ()})
    p = plan(desired(group(entry(1, rolling("P30D"))), protected=(9,)), resolution, state, NOW)
    [w] = p.warnings
    assert (w.code, w.principal) == (Code.PRINCIPAL_NOT_FOUND, "user9@contoso.example")


def test_duration_inside_the_renewal_window_warns_standing_access():
    resolution, state = live()
    active = entry(1, rolling("PT8H"), kind=Kind.ACTIVE)
    p = plan(desired(group(active)), resolution, state, NOW)
    assert codes(p, Severity.WARNING) == ["renew_before_too_long"]
    assert [c.action for c in p.changes] == [Action.CREATE]


def test_not_before_is_rounded_up_to_whole_seconds():
    young = row(1, end=NOW + D(days=3), created=NOW - D(minutes=2, microseconds=250))
    resolution, state = live(young)
    p = plan(desired(group(managed={(Access.MEMBER, Kind.ELIGIBLE)})), resolution, state, NOW)
    assert p.changes[0].not_before == NOW + D(minutes=3)
