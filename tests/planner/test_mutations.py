"""Tests that pin what small mutations of the planner would change (issue 12): the rule a
policy problem names, the safety guards exactly at their limits, and the one-minute
same-instant tolerance. Pure: hand-made states, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from reconciler.desired.model import Access, Kind, Lifetime, Mode, Ticket
from reconciler.live.model import GroupPolicy
from reconciler.plan.changes import Action, GraphAction
from reconciler.plan.planner import plan
from reconciler.problems import Code, Severity

from .builders import NOW, desired, entry, group, live, policy, rolling, row

D = timedelta

RULE = {Kind.ELIGIBLE: "Admin_Eligibility", Kind.ACTIVE: "Admin_Assignment"}
OTHER = {Kind.ELIGIBLE: Kind.ACTIVE, Kind.ACTIVE: Kind.ELIGIBLE}
CASES = [(a, k) for a in (Access.MEMBER, Access.OWNER) for k in (Kind.ELIGIBLE, Kind.ACTIVE)]
IDS = [f"{a}-{k}" for a, k in CASES]


def _policies(access: Access, strict: GroupPolicy) -> tuple[GroupPolicy, GroupPolicy]:
    """`strict` for `access`; the other access's policy allows everything."""
    other = Access.OWNER if access is Access.MEMBER else Access.MEMBER
    lenient = policy(other, eligible_permanent=True, active_permanent=True,
                     active_enabled=frozenset())
    return strict, lenient


def _errors(p):
    return [(x.code, x.message, x.group, x.principal, x.line)
            for x in p.problems if x.severity is Severity.ERROR]


# --- the rule a policy problem names (rules.rule_id) ---------------------------------------


@pytest.mark.parametrize(("access", "kind"), CASES, ids=IDS)
def test_permanent_refusal_names_the_expiration_rule_of_its_kind(access, kind):
    # the policy for `access` refuses permanence for `kind` only; the other kind may be
    # permanent, so the refusal must be judged, and named, by the rule of `kind`
    strict = policy(access, eligible_permanent=kind is Kind.ACTIVE,
                    active_permanent=kind is Kind.ELIGIBLE, active_enabled=frozenset())
    resolution, state = live(policies=_policies(access, strict))
    refused = entry(1, Lifetime.permanent(), access=access, kind=kind)
    allowed = entry(2, Lifetime.permanent(), access=access, kind=OTHER[kind], line=7)
    p = plan(desired(group(refused, allowed)), resolution, state, NOW)
    assert _errors(p) == [(
        Code.PERMANENT_NOT_ALLOWED,
        f"the {access} policy's Expiration_{RULE[kind]} rule requires an expiration, "
        f"so a permanent {kind} assignment is refused",
        "grp-app", "user1@contoso.example", 5)]
    [c] = p.changes
    assert (c.principal, c.kind, c.access, c.permanent) == (
        "user2@contoso.example", OTHER[kind], access, True)


@pytest.mark.parametrize(("access", "kind"), CASES, ids=IDS)
def test_maximum_refusal_names_the_expiration_rule_of_its_kind(access, kind):
    # both rules cap at P90D for `access`: a P91D entry of `kind` names its own rule's cap
    strict = policy(access, eligible_max="P90D", active_max="P90D",
                    active_enabled=frozenset())
    resolution, state = live(policies=_policies(access, strict))
    p = plan(desired(group(entry(1, rolling("P91D"), access=access, kind=kind))),
             resolution, state, NOW)
    assert _errors(p) == [(
        Code.DURATION_EXCEEDS_POLICY,
        f"P91D is longer than the {access} policy's Expiration_{RULE[kind]} maximum of P90D",
        "grp-app", "user1@contoso.example", 5)]
    assert p.changes == ()


@pytest.mark.parametrize(("access", "kind"), CASES, ids=IDS)
def test_justification_refusal_names_the_enablement_rule_of_its_kind(access, kind):
    strict = replace(policy(access, active_enabled=frozenset()),
                     **{("eligibility_enablement" if kind is Kind.ELIGIBLE
                         else "assignment_enablement"): frozenset({"Justification"})})
    resolution, state = live(policies=_policies(access, strict))
    bare = entry(1, rolling("P30D"), access=access, kind=kind, justification=None)
    other = entry(2, rolling("P30D"), access=access, kind=OTHER[kind], justification=None,
                  line=7)
    p = plan(desired(group(bare, other)), resolution, state, NOW)
    assert _errors(p) == [(
        Code.JUSTIFICATION_REQUIRED,
        f"the {access} policy's Enablement_{RULE[kind]} rule requires a justification; "
        "add `justification:` or set defaults.justification",
        "grp-app", "user1@contoso.example", 5)]
    assert [c.principal for c in p.changes] == ["user2@contoso.example"]


@pytest.mark.parametrize(("access", "kind"), CASES, ids=IDS)
def test_ticket_refusal_names_the_enablement_rule_of_its_kind(access, kind):
    strict = replace(policy(access, active_enabled=frozenset()),
                     **{("eligibility_enablement" if kind is Kind.ELIGIBLE
                         else "assignment_enablement"): frozenset({"Ticketing"})})
    resolution, state = live(policies=_policies(access, strict))
    bare = entry(1, rolling("P30D"), access=access, kind=kind)
    ticketed = replace(entry(3, rolling("P30D"), access=access, kind=kind, line=9),
                       ticket=Ticket("ServiceNow", "CHG0001"))
    p = plan(desired(group(bare, ticketed)), resolution, state, NOW)
    assert _errors(p) == [(
        Code.TICKET_REQUIRED,
        f"the {access} policy's Enablement_{RULE[kind]} rule requires ticket information; "
        "add `ticket: {system, number}`",
        "grp-app", "user1@contoso.example", 5)]
    [c] = p.changes
    assert (c.principal, c.ticket_system, c.ticket_number) == (
        "user3@contoso.example", "ServiceNow", "CHG0001")


def test_next_renewal_refusal_names_the_rule_of_its_kind():
    # an in-sync rolling active owner entry whose next renewal the owner policy refuses
    pols = (policy(Access.MEMBER), policy(Access.OWNER, active_max="P30D"))
    resolution, state = live(row(1, end=NOW + D(days=50), start=NOW - D(days=10),
                                 access=Access.OWNER, kind=Kind.ACTIVE), policies=pols)
    p = plan(desired(group(entry(1, rolling("P60D"), access=Access.OWNER, kind=Kind.ACTIVE))),
             resolution, state, NOW)
    assert p.changes == ()
    assert [x.message for x in p.errors] == [
        "P60D is longer than the owner policy's Expiration_Admin_Assignment maximum of P30D "
        "(the next renewal would be refused)"]


# --- safety.max_removals and safety.max_removal_fraction at their limits -------------------


def _removing(n_removed: int, *, managed: int = 12, max_removals: int = 10):
    """`managed` live rows; the file keeps all but the first `n_removed`."""
    rows = [row(n, end=NOW + D(days=20)) for n in range(1, managed + 1)]
    resolution, state = live(*rows, users=range(1, managed + 1))
    keep = [entry(n, Lifetime.fixed(NOW + D(days=20)), line=n)
            for n in range(n_removed + 1, managed + 1)]
    return desired(group(*keep), max_removals=max_removals), resolution, state


def test_max_removals_allows_exactly_the_limit():
    # 3 of 12 is exactly the 0.25 fraction, so only the count guard could speak
    d, resolution, state = _removing(3, max_removals=3)
    p = plan(d, resolution, state, NOW)
    assert [(c.action, c.principal) for c in p.changes] == [
        (Action.REMOVE, f"user{n}@contoso.example") for n in (1, 2, 3)]
    assert p.problems == () and p.exit_code() == 2


def test_max_removals_refuses_one_more_than_the_limit():
    d, resolution, state = _removing(3, max_removals=2)
    p = plan(d, resolution, state, NOW)
    assert [(x.code, x.severity, x.message, x.file) for x in p.problems] == [(
        Code.TOO_MANY_REMOVALS, Severity.ERROR,
        "3 removals exceed safety.max_removals (2); pass --allow-removals 3 (this run's "
        "total removals) to apply it anyway", "pim-reconciler.yaml")]
    assert len(p.removals) == 3 and p.exit_code() == 1
    overridden = plan(d, resolution, state, NOW, allow_removals=3)
    assert [(x.code, x.severity) for x in overridden.problems] == [
        (Code.TOO_MANY_REMOVALS, Severity.WARNING)]
    assert overridden.problems[0].message.endswith("; passed with --allow-removals 3")
    assert overridden.exit_code() == 2


def test_a_wrong_allow_removals_count_is_named_as_the_problem():
    d, resolution, state = _removing(3, max_removals=2)
    wrong = plan(d, resolution, state, NOW, allow_removals=16)
    assert [(x.code, x.severity, x.message) for x in wrong.problems] == [(
        Code.TOO_MANY_REMOVALS, Severity.ERROR,
        "3 removals exceed safety.max_removals (2); --allow-removals 16 does not match this "
        "run's 3 removals: pass --allow-removals 3 to apply it anyway")]
    assert wrong.exit_code() == 1


def test_max_removals_zero_refuses_a_single_removal():
    d, resolution, state = _removing(1, max_removals=0)
    p = plan(d, resolution, state, NOW)
    assert [x.code for x in p.errors] == [Code.TOO_MANY_REMOVALS]
    assert p.errors[0].message.startswith("1 removals exceed safety.max_removals (0); ")


def test_removal_fraction_exactly_at_the_limit_is_allowed():
    d, resolution, state = _removing(3, managed=12)  # 3/12 == 0.25
    p = plan(d, resolution, state, NOW)
    assert p.problems == () and len(p.removals) == 3


def test_removal_fraction_just_above_the_limit_is_refused():
    d, resolution, state = _removing(4, managed=12)  # 4/12 > 0.25
    p = plan(d, resolution, state, NOW)
    assert [(x.code, x.message, x.group, x.file, x.line) for x in p.errors] == [(
        Code.TOO_MANY_REMOVALS,
        "4 of 12 managed assignments of 'grp-app' would be removed, more than "
        "safety.max_removal_fraction (0.25); pass --allow-removals 4 (this run's total "
        "removals) to apply it anyway", "grp-app", "groups/app.yaml", 1)]


def test_removal_fraction_counts_only_above_two_removals():
    # 2 of 3 removed is two thirds, yet two removals never trip the fraction guard;
    # 3 of 4 (same group shape) does
    d, resolution, state = _removing(2, managed=3)
    assert plan(d, resolution, state, NOW).problems == ()
    d, resolution, state = _removing(3, managed=4)
    assert [x.code for x in plan(d, resolution, state, NOW).errors] == [Code.TOO_MANY_REMOVALS]


def test_emptied_group_with_three_rows_names_all_of_them():
    rows = [row(n, end=NOW + D(days=20)) for n in range(1, 4)]
    resolution, state = live(*rows)
    g = group(managed={(Access.MEMBER, Kind.ELIGIBLE)})
    p = plan(desired(g), resolution, state, NOW)
    assert [(x.code, x.message) for x in p.errors] == [(
        Code.EMPTY_DESIRED_SET,
        "the file declares no assignments for 'grp-app', which would remove all 3 of its "
        "live assignments; pass --allow-removals 3 (this run's total removals) to apply it "
        "anyway")]
    additive = plan(desired(group(managed={(Access.MEMBER, Kind.ELIGIBLE)}, mode=Mode.ADDITIVE)),
                    resolution, state, NOW)
    assert additive.problems == () and additive.changes == ()


# --- rules.SAME_INSTANT: one minute, not more ----------------------------------------------


@pytest.mark.parametrize("offset", [D(minutes=2), -D(minutes=2)], ids=["later", "earlier"])
def test_until_two_minutes_off_is_an_update(offset):
    until = NOW + D(days=30)
    resolution, state = live(row(1, end=until + offset))
    p = plan(desired(group(entry(1, Lifetime.fixed(until)))), resolution, state, NOW)
    [c] = p.changes
    assert (c.action, c.graph_action) == (Action.UPDATE, GraphAction.ADMIN_UPDATE)
    assert (c.old_end, c.end) == (until + offset, until)


@pytest.mark.parametrize("offset", [D(seconds=30), -D(seconds=30), D(minutes=1)],
                         ids=["later", "earlier", "one-minute"])
def test_until_within_a_minute_is_in_sync(offset):
    until = NOW + D(days=30)
    resolution, state = live(row(1, end=until + offset))
    p = plan(desired(group(entry(1, Lifetime.fixed(until)))), resolution, state, NOW)
    assert p.changes == () and p.problems == () and p.exit_code() == 0


def test_rolling_end_two_minutes_past_now_plus_duration_is_planned_back():
    resolution, state = live(row(1, end=NOW + D(days=90, minutes=2), start=NOW - D(days=1)))
    p = plan(desired(group(entry(1, rolling("P90D")))), resolution, state, NOW)
    [c] = p.changes
    assert c.action is Action.UPDATE and c.end == NOW + D(days=90)
    assert "extended out of band" in c.reason


def test_rolling_end_thirty_seconds_past_now_plus_duration_is_in_sync():
    resolution, state = live(row(1, end=NOW + D(days=90, seconds=30), start=NOW - D(seconds=30),
                                 created=NOW - D(seconds=30)))
    p = plan(desired(group(entry(1, rolling("P90D")))), resolution, state, NOW)
    assert p.changes == ()


def test_future_start_two_minutes_off_moves_and_thirty_seconds_off_does_not():
    start = NOW + D(days=2)
    until = NOW + D(days=30)
    declared = entry(1, Lifetime.fixed(until), start=start)
    for offset, planned in ((D(minutes=2), [Action.UPDATE]), (D(seconds=30), [])):
        resolution, state = live(row(1, end=until, start=start + offset, created=NOW - D(days=1)))
        p = plan(desired(group(declared)), resolution, state, NOW)
        assert [c.action for c in p.changes] == planned, offset
        if planned:
            assert p.changes[0].start == start
            assert p.changes[0].reason == "start moves to 2026-12-03T12:00:00Z"


def test_until_two_minutes_beyond_the_policy_maximum_is_refused():
    # the cap is compared with one minute's slack: P90D + 30 s passes, P90D + 2 min does not
    pols = (policy(eligible_max="P90D"), policy(Access.OWNER))
    resolution, state = live(policies=pols)
    ok = plan(desired(group(entry(1, Lifetime.fixed(NOW + D(days=90, seconds=30))))),
              resolution, state, NOW)
    assert ok.problems == () and [c.action for c in ok.changes] == [Action.CREATE]
    bad = plan(desired(group(entry(1, Lifetime.fixed(NOW + D(days=90, minutes=2))))),
               resolution, state, NOW)
    assert [(x.code, x.message) for x in bad.errors] == [(
        Code.DURATION_EXCEEDS_POLICY,
        "about 90 days (P90DT2M) is longer than the member policy's "
        "Expiration_Admin_Eligibility maximum of P90D")]
    assert bad.changes == ()


def test_protected_principal_end_two_minutes_earlier_is_a_shortening():
    # shortening by two minutes is a shortening (kept, warned); 30 s is the same end
    until = NOW + D(days=30)
    for offset, warned in ((D(minutes=2), [Code.PROTECTED_PRINCIPAL]), (D(seconds=30), [])):
        resolution, state = live(row(1, end=until + offset))
        p = plan(desired(group(entry(1, Lifetime.fixed(until))), protected=(1,)),
                 resolution, state, NOW)
        assert p.changes == ()
        assert [x.code for x in p.warnings] == warned, offset


def test_until_beyond_the_maximum_of_a_rule_allowing_permanence_is_a_warning():
    # Graph may ignore maximumDuration when isExpirationRequired is false (reference 4.4,
    # unconfirmed): the create is planned, and the plan says it depends on that
    loose = policy(Access.MEMBER, eligible_permanent=True)  # max P365D
    resolution, state = live(policies=(loose, policy(Access.OWNER)))
    p = plan(desired(group(entry(1, Lifetime.fixed(NOW + D(days=400))))), resolution, state,
             NOW)
    assert [c.action for c in p.changes] == [Action.CREATE]
    assert [(x.code, x.severity, x.line) for x in p.problems] == [
        (Code.MAXIMUM_MAY_APPLY, Severity.WARNING, 5)]
    assert "Expiration_Admin_Eligibility maximum of P365D" in p.problems[0].message
    within = plan(desired(group(entry(1, Lifetime.fixed(NOW + D(days=300))))), resolution,
                  state, NOW)
    assert within.problems == ()
