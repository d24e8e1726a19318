"""Planner behaviour that a mutation run (mutmut over reconciler/plan) showed no test pinned:
boundaries at `now`, loop order (one skipped row must not stop the rest), what a removal
writes, and the exact text and location of problems and information. Pure, hand-made states."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from reconciler.desired.model import (
    Access,
    DesiredGroup,
    Kind,
    Lifetime,
    Location,
    Mode,
    PrincipalRef,
    PrincipalType,
    Ticket,
)
from reconciler.live.model import AssignmentType, MemberType
from reconciler.plan.changes import Action, GraphAction, Info
from reconciler.plan.planner import plan
from reconciler.plan.removals import REMOVAL_JUSTIFICATION, REMOVAL_LAPSED
from reconciler.plan.safety import safety_problems
from reconciler.problems import Code, Severity

from .builders import GID, NOW, desired, entry, group, live, policy, ref, rolling, row, user

D = timedelta
U1, U2, U3 = (f"user{n}@contoso.example" for n in (1, 2, 3))
ELIGIBLE_MEMBERS = {(Access.MEMBER, Kind.ELIGIBLE)}


def problems(p, severity=None):
    return [(x.code, x.message, x.file, x.line, x.group, x.principal) for x in p.problems
            if severity is None or x.severity is severity]


# --- time problems (rules.time_problems) ---------------------------------------------------


def test_until_exactly_now_has_passed_and_names_its_entry():
    resolution, state = live()
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW), line=8))), resolution, state, NOW)
    assert problems(p) == [(
        Code.UNTIL_IN_PAST,
        "until 2026-12-01T12:00:00Z has passed; the entry has lapsed and PIM removes it by "
        "itself, so nothing is planned for it", "groups/app.yaml", 8, "grp-app", U1)]
    assert p.problems[0].severity is Severity.WARNING and p.changes == ()


def test_until_too_soon_is_measured_from_a_future_start():
    # 4 minutes after a start two days out: too soon, though it is two days from now
    start = NOW + D(days=2)
    resolution, state = live()
    p = plan(desired(group(entry(1, Lifetime.fixed(start + D(minutes=4)), start=start))),
             resolution, state, NOW)
    assert problems(p) == [(
        Code.UNTIL_TOO_SOON,
        "until 2026-12-03T12:04:00Z leaves less than five minutes from 2026-12-03T12:00:00Z; "
        "PIM refuses assignments shorter than PT5M", "groups/app.yaml", 5, "grp-app", U1)]
    assert p.changes == ()


# --- policy checks (rules.policy_problems, lifetimes) --------------------------------------


def test_policy_maximum_has_exactly_one_minute_of_slack():
    pols = (policy(eligible_max="P90D"), policy(Access.OWNER))
    resolution, state = live(policies=pols)
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW + D(days=90, minutes=1))))),
             resolution, state, NOW)
    assert p.problems == () and [c.action for c in p.changes] == [Action.CREATE]


def test_policy_maximum_is_named_as_the_policy_writes_it():
    pols = (policy(eligible_max="PT2160H"), policy(Access.OWNER))  # 90 days, in hours
    resolution, state = live(policies=pols)
    p = plan(desired(group(entry(1, rolling("P91D")))), resolution, state, NOW)
    assert [x.message for x in p.errors] == [
        "P91D is longer than the member policy's Expiration_Admin_Eligibility maximum of "
        "PT2160H"]


def test_missing_policy_is_an_error_naming_the_group():
    resolution, state = live(policies=(policy(Access.OWNER),))
    p = plan(desired(group(entry(1, rolling("P30D"), line=6))), resolution, state, NOW)
    assert problems(p, Severity.ERROR) == [(
        Code.POLICY_NOT_FOUND,
        "no member role management policy was found for group 'grp-app'",
        "groups/app.yaml", 6, "grp-app", U1)]
    assert p.changes == ()


def test_duration_equal_to_renew_before_warns_standing_access():
    resolution, state = live()
    p = plan(desired(group(entry(1, rolling("P14D"))), renew_before="P14D"),
             resolution, state, NOW)
    assert problems(p, Severity.WARNING) == [(
        Code.RENEW_BEFORE_TOO_LONG,
        "duration P14D is not longer than defaults.renew_before (P14D): every run renews it, "
        "which makes it standing access; declare a longer duration or a shorter renew_before "
        "if that is not meant", "groups/app.yaml", 5, "grp-app", U1)]
    assert [c.action for c in p.changes] == [Action.CREATE]


# --- start ---------------------------------------------------------------------------------


def test_past_or_present_start_is_not_written_and_the_clock_starts_now():
    resolution, state = live()
    past = entry(1, rolling("P30D"), start=NOW - D(days=3))
    present = entry(2, rolling("P30D"), start=NOW, line=7)
    p = plan(desired(group(past, present)), resolution, state, NOW)
    assert [(c.principal, c.start, c.end) for c in p.changes] == [
        (U1, None, NOW + D(days=30)), (U2, None, NOW + D(days=30))]


def test_start_equal_to_now_against_an_older_live_start_is_in_sync():
    until = NOW + D(days=30)
    resolution, state = live(row(1, end=until, start=NOW - D(days=10)))
    p = plan(desired(group(entry(1, Lifetime.fixed(until), start=NOW))), resolution, state, NOW)
    assert p.changes == ()


def test_start_exactly_one_minute_off_is_the_same_start():
    start, until = NOW + D(days=2), NOW + D(days=30)
    resolution, state = live(row(1, end=until, start=start + D(minutes=1),
                                 created=NOW - D(days=1)))
    p = plan(desired(group(entry(1, Lifetime.fixed(until), start=start))), resolution, state, NOW)
    assert p.changes == ()


def test_update_of_a_future_start_carries_the_new_start_and_keeps_the_end():
    start, until = NOW + D(days=2), NOW + D(days=30)
    resolution, state = live(row(1, end=until, start=NOW + D(days=5), created=NOW - D(days=1)))
    p = plan(desired(group(entry(1, Lifetime.fixed(until), start=start)), protected=(1,)),
             resolution, state, NOW)
    # a protected principal: moving the start is not a shortening of the end
    [c] = p.changes
    assert (c.action, c.start, c.end, c.old_start) == (
        Action.UPDATE, start, until, NOW + D(days=5))


# --- in-place updates and renewals (lifetimes._compare, plan_entry) ------------------------


def test_declared_permanent_over_an_expiring_row_is_an_update_with_its_reason():
    pols = (policy(eligible_permanent=True), policy(Access.OWNER))
    resolution, state = live(row(1, end=NOW + D(days=20)), policies=pols)
    p = plan(desired(group(entry(1, Lifetime.permanent()))), resolution, state, NOW)
    [c] = p.changes
    assert (c.action, c.permanent, c.end, c.reason) == (
        Action.UPDATE, True, None, "declared permanent; live assignment expires")


def test_rolling_end_exactly_one_minute_late_is_in_sync():
    resolution, state = live(row(1, end=NOW + D(days=90, minutes=1), start=NOW - D(minutes=1),
                                 created=NOW - D(minutes=1)))
    p = plan(desired(group(entry(1, rolling("P90D")))), resolution, state, NOW)
    assert p.changes == () and p.info == ()


def test_renewal_moving_the_end_by_exactly_one_minute_is_not_planned():
    # in its window (ends in 10 days), but renewing P10D now adds only a minute
    resolution, state = live(row(1, end=NOW + D(days=10) - D(minutes=1),
                                 start=NOW - D(days=1)))
    p = plan(desired(group(entry(1, rolling("P10D"))), renew_before="P14D"),
             resolution, state, NOW)
    assert p.changes == ()


def test_renewal_reason_names_the_window_and_the_duration():
    resolution, state = live(row(1, end=NOW + D(days=5), start=NOW - D(days=25)))
    p = plan(desired(group(entry(1, rolling("P30D")))), resolution, state, NOW)
    [c] = p.changes
    assert (c.action, c.graph_action) == (Action.RENEW, GraphAction.ADMIN_EXTEND)
    assert c.reason == ("expires 2026-12-06T12:00:00Z, within the renewal window (P14D); "
                        "renewed for P30D")


def test_renewal_of_a_duration_equal_to_renew_before_says_every_run():
    resolution, state = live(row(1, end=NOW + D(days=5), start=NOW - D(days=9)))
    p = plan(desired(group(entry(1, rolling("P14D")))), resolution, state, NOW)
    [c] = p.changes
    assert c.reason == ("expires 2026-12-06T12:00:00Z, within the renewal window (P14D); "
                        "renewed for P14D (a duration no longer than renew_before P14D is "
                        "renewed on every run)")


def test_update_of_a_row_expiring_soon_is_an_admin_update_not_an_extend():
    resolution, state = live(row(1, end=NOW + D(days=10)))
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW + D(days=40))))), resolution, state, NOW)
    [c] = p.changes
    assert (c.action, c.graph_action) == (Action.UPDATE, GraphAction.ADMIN_UPDATE)


def test_update_of_a_young_row_is_deferred_to_five_minutes_after_it_was_made():
    resolution, state = live(row(1, end=NOW + D(days=10), created=NOW - D(minutes=2)))
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW + D(days=40))))), resolution, state, NOW)
    [c] = p.changes
    assert c.action is Action.UPDATE and c.not_before == NOW + D(minutes=3)
    assert p.valid_until == NOW + D(minutes=3)


def test_change_made_exactly_now_is_deferred_five_minutes():
    resolution, state = live(row(1, end=NOW + D(days=20), created=NOW))
    p = plan(desired(group(managed=ELIGIBLE_MEMBERS)), resolution, state, NOW)
    [c] = p.changes
    assert c.action is Action.REMOVE and c.not_before == NOW + D(minutes=5)


def test_row_whose_every_time_is_in_the_future_is_not_deferred():
    # a clock behind the tenant's: no anchor at or before now, so no five-minute deferral
    resolution, state = live(row(1, end=NOW + D(days=20), created=NOW + D(minutes=1)))
    p = plan(desired(group(managed=ELIGIBLE_MEMBERS)), resolution, state, NOW)
    [c] = p.changes
    assert c.action is Action.REMOVE and c.not_before is None


# --- protected principals (lifetimes._shortens) --------------------------------------------


def test_protected_principal_may_be_lengthened_or_made_permanent():
    pols = (policy(eligible_permanent=True), policy(Access.OWNER))
    resolution, state = live(row(1, end=NOW + D(days=30)), row(2, end=NOW + D(days=30)),
                             policies=pols)
    g = group(entry(1, Lifetime.fixed(NOW + D(days=60))),
              entry(2, Lifetime.permanent(), line=7))
    p = plan(desired(g, protected=(1, 2)), resolution, state, NOW)
    assert [(c.principal, c.action, c.end, c.permanent) for c in p.changes] == [
        (U1, Action.UPDATE, NOW + D(days=60), False), (U2, Action.UPDATE, None, True)]
    assert p.problems == ()


def test_protected_permanent_principal_is_not_bounded():
    resolution, state = live(row(1, end=None))
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW + D(days=60)), line=9)), protected=(1,)),
             resolution, state, NOW)
    assert p.changes == ()
    assert problems(p) == [(
        Code.PROTECTED_PRINCIPAL,
        f"{U1} is protected: its eligible member assignment is never shortened, so the "
        "declared change is not planned", "groups/app.yaml", 9, "grp-app", U1)]


# --- in-sync entries (lifetimes._in_sync) --------------------------------------------------


def test_next_renewal_information_names_group_principal_and_lengths():
    resolution, state = live(row(1, end=NOW + D(days=50), start=NOW - D(days=10)))
    p = plan(desired(group(entry(1, rolling("P90D")))), resolution, state, NOW)
    assert p.info == (Info(
        "next_renewal",
        "declared P90D but the live assignment was granted for P60D; it stays until "
        "2027-01-20T12:00:00Z and the next renewal grants P90D", "grp-app", U1),)


def test_in_sync_row_granted_exactly_its_duration_has_no_information():
    resolution, state = live(row(1, end=NOW + D(days=80), start=NOW - D(days=10)))
    p = plan(desired(group(entry(1, rolling("P90D")))), resolution, state, NOW)
    assert p.changes == () and p.info == () and p.problems == ()


def test_in_sync_rolling_entry_with_its_ticket_passes_a_ticketing_policy():
    pols = (replace(policy(), eligibility_enablement=frozenset({"Ticketing"})),
            policy(Access.OWNER))
    resolution, state = live(row(1, end=NOW + D(days=80), start=NOW - D(days=10)), policies=pols)
    ticketed = replace(entry(1, rolling("P90D")), ticket=Ticket("ServiceNow", "CHG1"))
    p = plan(desired(group(ticketed)), resolution, state, NOW)
    assert p.problems == () and p.changes == ()


def test_in_sync_fixed_entries_are_not_rejudged_for_justification_or_ticket():
    # an active entry in sync under a policy that asks justification and ticket for new
    # writes: nothing is written, so nothing is asked
    pols = (policy(active_enabled=frozenset({"Justification", "Ticketing"})),
            policy(Access.OWNER))
    until = NOW + D(days=30)
    resolution, state = live(row(1, end=until, kind=Kind.ACTIVE), policies=pols)
    bare = entry(1, Lifetime.fixed(until), kind=Kind.ACTIVE, justification=None)
    p = plan(desired(group(bare)), resolution, state, NOW)
    assert p.problems == () and p.changes == ()


def test_in_sync_entry_granted_longer_than_a_tightened_maximum_warns():
    # granted 200 days ago for 230 days; the policy now caps at P180D
    until = NOW + D(days=30)
    resolution, state = live(row(1, end=until, created=NOW - D(days=200)),
                             policies=(policy(eligible_max="P180D"), policy(Access.OWNER)))
    p = plan(desired(group(entry(1, Lifetime.fixed(until), line=4))), resolution, state, NOW)
    assert p.changes == ()
    assert problems(p) == [(
        Code.POLICY_TIGHTENED,
        f"{U1}'s eligible member assignment is in sync but the current policy would refuse it "
        "(P230D is longer than the member policy's "
        "Expiration_Admin_Eligibility maximum of P180D); it is left as is",
        "groups/app.yaml", 4, "grp-app", U1)]


# --- the group loop (planner._plan_group) --------------------------------------------------


def test_a_skipped_row_does_not_stop_the_rows_after_it():
    # rows the loop skips (activation, inherited, unmanaged section, lapsed) come first;
    # the undeclared managed row after them is still removed
    rows = (
        row(1, end=NOW + D(hours=2), kind=Kind.ACTIVE, assignment_type=AssignmentType.ACTIVATED),
        row(2, end=NOW + D(days=20), member_type=MemberType.GROUP),
        row(3, end=NOW + D(days=20), access=Access.OWNER),
        row(4, end=NOW),  # ends exactly now: lapsed, PIM removes it
        row(5, end=NOW + D(days=20)),
    )
    resolution, state = live(*rows)
    p = plan(desired(group(managed=ELIGIBLE_MEMBERS | {(Access.MEMBER, Kind.ACTIVE)})),
             resolution, state, NOW)
    assert [(c.action, c.principal) for c in p.changes] == [
        (Action.REMOVE, "user5@contoso.example")]
    assert p.info == (
        Info("activation", f"{U1} has activated membership until 2026-12-01T14:00:00Z "
             "(just-in-time activation; never managed)", "grp-app", U1),
        Info("inherited", f"{U2} holds eligible member through membership of another group "
             "(inherited; never managed)", "grp-app", U2),
    )


def test_permanent_activation_information_has_no_until():
    resolution, state = live(row(1, end=None, kind=Kind.ACTIVE,
                                 assignment_type=AssignmentType.ACTIVATED))
    p = plan(desired(group(managed={(Access.MEMBER, Kind.ACTIVE)})), resolution, state, NOW)
    assert [i.message for i in p.info] == [
        f"{U1} has activated membership (just-in-time activation; never managed)"]


def test_an_unresolved_group_does_not_stop_the_groups_after_it():
    resolution, state = live()
    resolution = replace(resolution, groups={**resolution.groups, "grp-gone": ()})
    gone = DesiredGroup("grp-gone", Mode.AUTHORITATIVE, frozenset(ELIGIBLE_MEMBERS), (),
                        Location("groups/gone.yaml", 1))
    p = plan(desired(gone, group(entry(1, rolling("P30D")))), resolution, state, NOW)
    assert [x.code for x in p.errors] == [Code.GROUP_NOT_FOUND]
    assert [(c.action, c.principal) for c in p.changes] == [(Action.CREATE, U1)]


def test_two_references_to_one_principal_are_a_duplicate():
    by_id = PrincipalRef(PrincipalType.ID, user(1).id)
    resolution, state = live(row(2, end=NOW + D(days=20)))
    resolution = replace(resolution, principals={**resolution.principals, by_id: (user(1),)})
    second = replace(entry(1, rolling("P60D"), line=9), principal=by_id)
    p = plan(desired(group(entry(1, rolling("P30D")), second, entry(2, rolling("P30D"), line=11))),
             resolution, state, NOW)
    assert problems(p) == [(
        Code.DUPLICATE_ASSIGNMENT,
        f"{user(1).id} is declared eligible member twice (also at groups/app.yaml:5)",
        "groups/app.yaml", 9, "grp-app", user(1).id)]
    # the first declaration is planned; the entry after the duplicate is still judged
    assert [(c.action, c.principal, c.duration) for c in p.changes] == [
        (Action.CREATE, U1, "P30D")]


def test_withheld_removals_say_why_for_each_section():
    rows = (row(1, end=NOW + D(days=20)), row(2, end=NOW + D(days=20), kind=Kind.ACTIVE),
            row(3, end=NOW + D(days=20), kind=Kind.ACTIVE))
    resolution, state = live(*rows, users=range(1, 4))
    resolution = replace(resolution, principals={**resolution.principals, ref(7): ()})
    g = replace(group(entry(7, rolling("P30D")),
                      managed=ELIGIBLE_MEMBERS | {(Access.MEMBER, Kind.ACTIVE)}),
                incomplete=frozenset({(Access.MEMBER, Kind.ACTIVE)}))
    p = plan(desired(g), resolution, state, NOW)
    assert p.changes == ()
    assert p.info == (  # in (access, kind, principal id) order
        Info("removal_withheld", f"not removing {U2}: an entry of the member active section "
             "has an error", "grp-app", U2),
        Info("removal_withheld", f"not removing {U3}: an entry of the member active section "
             "has an error", "grp-app", U3),
        Info("removal_withheld", f"not removing {U1}: a principal in the member eligible "
             "section could not be resolved", "grp-app", U1),
    )


# --- what a removal writes (removals.plan_removal) -----------------------------------------


def test_removal_carries_the_live_row_and_the_removal_justification():
    live_row = row(1, end=NOW + D(days=20), start=NOW - D(days=3))
    resolution, state = live(live_row)
    p = plan(desired(group(managed=ELIGIBLE_MEMBERS)), resolution, state, NOW)
    [c] = p.changes
    assert (c.action, c.graph_action, c.schedule_id, c.old_start, c.old_end, c.old_permanent,
            c.permanent, c.end, c.justification, c.principal_type, c.principal_id) == (
        Action.REMOVE, GraphAction.ADMIN_REMOVE, live_row.id, NOW - D(days=3),
        NOW + D(days=20), False, False, None, REMOVAL_JUSTIFICATION, PrincipalType.USER,
        user(1).id)
    assert (c.reason, c.file, c.line) == ("not declared in groups/app.yaml", "groups/app.yaml", 1)
    assert p.valid_until == NOW + D(days=20)  # the row lapses by itself then


def test_removal_of_a_permanent_row_of_an_unnamed_principal():
    resolution, state = live(row(8, end=None), users=range(1, 3))  # user 8 not in the tenant
    p = plan(desired(group(managed=ELIGIBLE_MEMBERS)), resolution, state, NOW)
    [c] = p.changes
    assert (c.principal, c.principal_type, c.old_permanent, c.old_end) == (
        user(8).id, PrincipalType.ID, True, None)
    assert p.valid_until is None


def test_lapsed_removal_carries_its_own_justification_and_reason():
    resolution, state = live(row(1, end=None))
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW - D(days=30)), line=6))),
             resolution, state, NOW)
    [c] = p.changes
    assert (c.action, c.justification, c.line, c.old_permanent) == (
        Action.REMOVE, REMOVAL_LAPSED, 6, True)
    assert c.reason == ("declared until 2026-11-01T12:00:00Z has passed, but the live "
                        "assignment runs on")


def test_past_until_with_a_row_ending_within_the_same_minute_is_left_to_lapse():
    # declared until 30 s ago, live ends in 30 s: the same end, PIM removes it by itself
    resolution, state = live(row(1, end=NOW + D(seconds=30)))
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW - D(seconds=30))))), resolution, state,
             NOW)
    assert p.changes == ()
    assert [x.code for x in p.problems] == [Code.UNTIL_IN_PAST]


def test_additive_group_information_says_what_is_kept():
    resolution, state = live(row(1, end=NOW + D(days=200)), row(2, end=NOW + D(days=20)))
    g = group(entry(1, Lifetime.fixed(NOW - D(days=30))), mode=Mode.ADDITIVE)
    p = plan(desired(g), resolution, state, NOW)
    assert p.changes == ()
    assert p.info == (
        Info("lapsed", f"{U1} holds eligible member past its declared until; kept (additive "
             "group: never removes)", "grp-app", U1),
        Info("undeclared", f"{U2} holds eligible member without a declaration; kept "
             "(additive group: never removes)", "grp-app", U2),
    )


def test_protected_removal_warning_names_the_principal_and_where():
    resolution, state = live(row(1, end=NOW + D(days=20)), row(2, end=None))
    g = group(entry(1, Lifetime.fixed(NOW - D(days=1)), line=6), managed=ELIGIBLE_MEMBERS)
    p = plan(desired(g, protected=(1, 2)), resolution, state, NOW)
    assert p.changes == ()
    assert sorted(x for x in problems(p, Severity.WARNING)
                  if x[0] is Code.PROTECTED_PRINCIPAL) == [
        (Code.PROTECTED_PRINCIPAL,
         f"{U1} is protected: its lapsed eligible member assignment is kept",
         "groups/app.yaml", 6, "grp-app", U1),
        (Code.PROTECTED_PRINCIPAL,
         f"{U2} is protected: its undeclared eligible member assignment is kept",
         "groups/app.yaml", 1, "grp-app", U2),
    ]


# --- safety over several groups (safety.safety_problems) -----------------------------------


def test_safety_guards_judge_every_group_and_run_without_a_settings_file():
    # group A loses two (never judged by fraction), group B loses three of three; A's id
    # sorts first, so skipping it must not stop the loop
    rows = [row(n, end=NOW + D(days=20)) for n in range(1, 4)]
    resolution, state = live(*rows)
    p = plan(desired(group(managed=ELIGIBLE_MEMBERS)), resolution, state, NOW)
    b = list(p.removals)
    a = [replace(c, group_id="0A", group="grp-a") for c in b[:2]]
    d = desired()
    settings = replace(d.settings, location=None)
    found = safety_problems(a + b, {"0A": 10, GID: 3}, {GID}, settings, None)
    assert [(x.code, x.group, x.file, x.line) for x in found] == [
        (Code.EMPTY_DESIRED_SET, "grp-app", "groups/app.yaml", 1)]
    few = replace(settings, safety=replace(settings.safety, max_removals=4))
    found = safety_problems(a + b, {"0A": 10, GID: 3}, set(), few, None)
    assert [(x.code, x.group, x.file) for x in found] == [
        (Code.TOO_MANY_REMOVALS, None, None),  # 5 > 4, no settings file to point at
        (Code.TOO_MANY_REMOVALS, "grp-app", "groups/app.yaml"),  # 3 of 3
    ]


def test_in_sync_entry_is_judged_by_the_live_policy_not_the_planned_one():
    # this plan tightens the member policy (permanence no longer allowed) under an in-sync
    # permanent entry: that is live_exceeds_policy, not policy_tightened
    from reconciler.desired.policy import EXPIRATION_ELIGIBILITY

    from .test_policies import declared, state_with, with_policy

    loose = {Access.MEMBER: {EXPIRATION_ELIGIBILITY: {"isExpirationRequired": False}}}
    g = with_policy(group(entry(3, Lifetime.permanent())), declared(
        Access.MEMBER, (EXPIRATION_ELIGIBILITY, {"permanent": False})))
    resolution, state = state_with(loose, row(3, end=None))
    p = plan(desired(g), resolution, state, NOW)
    assert p.changes == ()
    assert [(x.code, x.principal) for x in p.problems] == [
        (Code.LIVE_EXCEEDS_POLICY, U3)]
