"""`reconciler.apply.executor` against a scripted writer (no emulator, no HTTP): refusal, the
permission check, fatal stops, deferral and waiting order, policy results and the report's
fields. Written from a mutation run (mutmut) that showed these unpinned."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from reconciler.apply.executor import (
    ApplyReport,
    AuditLog,
    ChangeResult,
    Outcome,
    PolicyResult,
    execute,
    refusal,
)
from reconciler.clock import FixedClock
from reconciler.desired.model import Access, Kind
from reconciler.desired.policy import EXPIRATION_ELIGIBILITY
from reconciler.graph.errors import GraphError
from reconciler.graph.policy_writer import PolicyWriteResult
from reconciler.graph.writer import WriteResult
from reconciler.plan.changes import Change, Plan, PolicyChange
from reconciler.plan.planner import plan as make_plan
from reconciler.problems import Code
from tests.planner.builders import (
    GID,
    NOW,
    desired,
    entry,
    group,
    live,
    ref,
    rolling,
    row,
    user,
)

D = timedelta
MEMBERS = {(Access.MEMBER, Kind.ELIGIBLE)}


class ScriptedWriter:
    """Answers each change by principal id from `answers` (a WriteResult or a GraphError to
    raise; default: applied and verified), records what was sent and how many at once."""

    def __init__(self, clock: FixedClock, answers: dict[str, Any] | None = None,
                 policy_answers: list[Any] | None = None,
                 granted: frozenset[str] | None = None) -> None:
        self.clock = clock
        self.answers = answers or {}
        self.policy_answers = list(policy_answers or [])
        self.granted = granted
        self.sent: list[str] = []
        self.policies_sent: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def submit(self, change: Change) -> WriteResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0)
        self.in_flight -= 1
        self.sent.append(change.principal)
        answer = self.answers.get(change.principal_id)
        if isinstance(answer, GraphError):
            raise answer
        return answer or WriteResult("applied", request_id=f"req-{change.principal}",
                                     verified=True)

    async def update_policy(self, change: PolicyChange) -> PolicyWriteResult:
        self.policies_sent.append(change.rule)
        answer = self.policy_answers.pop(0)
        if isinstance(answer, GraphError):
            raise answer
        return answer

    async def granted_permissions(self) -> frozenset[str] | None:
        return self.granted


def run(plan: Plan, writer: ScriptedWriter, **kwargs: Any) -> ApplyReport:
    async def no_sleep(_seconds: float) -> None:
        return None

    kwargs.setdefault("sleep", no_sleep)
    return asyncio.run(execute(plan, writer, writer.clock, **kwargs))


def creates(*ns: int) -> Plan:
    resolution, state = live()
    return make_plan(desired(group(*(entry(n, rolling("P30D"), line=n) for n in ns))),
                     resolution, state, NOW)


def removals(n: int, *, extra_error: bool = False) -> Plan:
    """`n` undeclared rows removed (max_removals 1: a safety error when n > 1)."""
    resolution, state = live(*[row(k, end=NOW + D(days=20)) for k in range(1, n + 1)])
    entries = ()
    if extra_error:
        resolution = replace(resolution, principals={**resolution.principals, ref(9): ()})
        entries = (entry(9, rolling("P30D")),)
    g = group(*entries, managed=MEMBERS)
    return make_plan(desired(g, max_removals=1), resolution, state, NOW)


def policy_change(rule: str = EXPIRATION_ELIGIBILITY) -> PolicyChange:
    return PolicyChange(GID, "grp-app", Access.MEMBER, rule, {"maximumDuration": "P365D"},
                        {"maximumDuration": "P90D"}, False)


# --- refusal -------------------------------------------------------------------------------


def test_refusal_names_codes_and_the_override_only_for_safety_errors():
    guarded = removals(3)
    assert refusal(guarded) == ("the plan has 2 error(s) (empty_desired_set, too_many_removals); "
                                "nothing written (pass --allow-removals 3 to pass the safety "
                                "guards)")
    assert refusal(guarded, 3) is None
    assert refusal(guarded, 2) == refusal(guarded)
    both = removals(3, extra_error=True)
    assert refusal(both, 3) == ("the plan has 1 error(s) (principal_not_found); nothing "
                                "written")
    assert refusal(removals(1)) is None


def test_execute_passes_the_override_to_the_refusal():
    guarded = removals(3)
    clock = FixedClock(NOW)
    writer = ScriptedWriter(clock)
    refused = run(guarded, writer)
    assert refused.refused == refusal(guarded) and refused.exit_code() == 1
    assert writer.sent == []
    report = run(guarded, writer, allow_removals=3)
    assert report.refused is None and [r.outcome for r in report.results] == [Outcome.APPLIED] * 3


# --- permissions ---------------------------------------------------------------------------


def test_missing_write_permission_refuses_before_anything_is_sent():
    seen: list[tuple[frozenset[str], Plan]] = []
    p = creates(1)

    def missing(granted: frozenset[str], plan: Plan) -> list[str]:
        seen.append((granted, plan))
        return ["A.ReadWrite", "B.ReadWrite"]

    writer = ScriptedWriter(FixedClock(NOW), granted=frozenset({"User.Read.All"}))
    report = run(p, writer, missing_permissions=missing)
    assert report.results == () and writer.sent == []
    assert report.refused == ("the token lacks the Graph application permission(s) "
                              "A.ReadWrite, B.ReadWrite; nothing written")
    assert seen == [(frozenset({"User.Read.All"}), p)]


def test_permissions_unknown_or_complete_do_not_refuse():
    for granted, missing in ((None, ["never asked"]), (frozenset({"X"}), [])):
        writer = ScriptedWriter(FixedClock(NOW), granted=granted)
        report = run(creates(1), writer, missing_permissions=lambda g, p, m=missing: m)
        assert report.refused is None and writer.sent == ["user1@contoso.example"]


# --- results of a send ---------------------------------------------------------------------


def test_each_kind_of_answer_becomes_its_result():
    clock = FixedClock(NOW)
    forbidden_not = GraphError(500, "UnknownError", "boom", request_id="r-3")
    answers = {
        user(2).id: WriteResult("applied", request_id="r-2", status=None, verified=False),
        user(3).id: forbidden_not,
        user(4).id: WriteResult("failed", request_id="r-4", status="Failed"),
        user(5).id: WriteResult("failed", error=GraphError(400, "Bad", "no", request_id="r-5")),
    }
    report = run(creates(1, 2, 3, 4, 5), ScriptedWriter(clock, answers))
    got = [(r.outcome, r.message, r.request_id, r.graph_code, r.at) for r in report.results]
    assert got == [
        (Outcome.APPLIED, "verified", "req-user1@contoso.example", None, NOW),
        (Outcome.FAILED, "accepted (status unknown) but not visible with the intended lifetime "
         "within the verification window; the next run re-checks it", "r-2", "NotVerified", NOW),
        (Outcome.FAILED, str(forbidden_not), "r-3", "UnknownError", NOW),
        (Outcome.FAILED, "request status Failed", "r-4", None, NOW),
        (Outcome.FAILED, "400 Bad: no [request-id r-5]", "r-5", "Bad", NOW),
    ]
    assert report.exit_code() == 1  # a 500 is not fatal: every change was tried


def test_a_fatal_answer_stops_the_run_and_skips_the_rest():
    for error, why in ((GraphError(403, "Forbidden", "no"), "Forbidden"),
                       (GraphError(401, None, "no"), "401"),
                       (GraphError(429, "TooManyRequests", "slow"), "TooManyRequests")):
        clock = FixedClock(NOW)
        writer = ScriptedWriter(clock, {user(1).id: error})
        report = run(creates(1, 2, 3), writer, concurrency=1)
        assert writer.sent == ["user1@contoso.example"], why
        assert [(r.outcome, r.message, r.at) for r in report.results[1:]] == [
            (Outcome.SKIPPED, f"not sent: the run stopped ({why})", NOW)] * 2
        assert report.exit_code() == 1


def test_concurrency_bounds_the_writes_in_flight():
    one = ScriptedWriter(FixedClock(NOW))
    run(creates(1, 2, 3, 4), one, concurrency=1)
    assert one.most_in_flight == 1
    many = ScriptedWriter(FixedClock(NOW))
    run(creates(1, 2, 3, 4), many, concurrency=0)  # below one means one
    assert many.most_in_flight == 1
    wide = ScriptedWriter(FixedClock(NOW))
    run(creates(1, 2, 3, 4), wide, concurrency=4)
    assert wide.most_in_flight == 4


def test_progress_and_audit_see_every_result(tmp_path: Path):
    seen: list[ChangeResult] = []
    audit = tmp_path / "audit.jsonl"
    p = replace(creates(1, 2), policy_changes=(policy_change(),))
    report = run(p, ScriptedWriter(FixedClock(NOW), policy_answers=[
        PolicyWriteResult("applied")]), on_result=seen.append, audit=AuditLog(audit))
    assert seen == list(report.results)
    lines = audit.read_text(encoding="utf-8").splitlines()
    expected = [r.to_dict() for r in (*report.policy_results, *report.results)]
    assert [json.loads(line) for line in lines] == expected
    assert lines[0] == json.dumps(expected[0], sort_keys=True)


# --- deferral ------------------------------------------------------------------------------


def _young_removals() -> Plan:
    # user1 made 1 minute ago (not before +4 min), user2 3 minutes ago (not before +2 min)
    resolution, state = live(row(1, end=NOW + D(days=20), created=NOW - D(minutes=1)),
                             row(2, end=NOW + D(days=20), created=NOW - D(minutes=3)),
                             row(3, end=NOW + D(days=20), created=NOW - D(minutes=5)))
    return make_plan(desired(group(managed=MEMBERS), max_removals=5), resolution, state, NOW,
                     allow_removals=3)  # the emptied group's guard, passed


def test_deferred_changes_are_reported_with_when_and_the_rest_is_sent():
    writer = ScriptedWriter(FixedClock(NOW))
    report = run(_young_removals(), writer)
    assert [(r.change.principal, r.outcome, r.message, r.at) for r in report.results] == [
        ("user1@contoso.example", Outcome.DEFERRED, "PIM refuses it until 2026-12-01T12:04:00Z "
         "(five-minute rule); the next run sends it", NOW),
        ("user2@contoso.example", Outcome.DEFERRED, "PIM refuses it until 2026-12-01T12:02:00Z "
         "(five-minute rule); the next run sends it", NOW),
        ("user3@contoso.example", Outcome.APPLIED, "verified", NOW),  # exactly five minutes
    ]
    assert writer.sent == ["user3@contoso.example"] and report.exit_code() == 3


def test_waiting_sends_deferred_changes_in_the_order_they_become_due():
    clock = FixedClock(NOW)
    writer = ScriptedWriter(clock)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(D(seconds=seconds))

    # the deadline falls exactly on the later change's time: both are waited for
    report = run(_young_removals(), writer, wait_deferred=D(minutes=4), sleep=sleep)
    assert writer.sent == ["user3@contoso.example", "user2@contoso.example",
                           "user1@contoso.example"]
    assert slept == [121.0, 120.0]
    assert [r.outcome for r in report.results] == [Outcome.APPLIED] * 3


def test_a_change_still_not_due_when_sent_is_deferred_not_sent():
    writer = ScriptedWriter(FixedClock(NOW))

    async def sleep(_seconds: float) -> None:
        return None  # the clock does not move

    report = run(_young_removals(), writer, wait_deferred=D(minutes=10), sleep=sleep)
    assert [(r.outcome, r.message) for r in report.results[:2]] == [
        (Outcome.DEFERRED, "not before 2026-12-01T12:04:00Z"),
        (Outcome.DEFERRED, "not before 2026-12-01T12:02:00Z")]
    assert all(r.at == NOW for r in report.results)
    assert writer.sent == ["user3@contoso.example"]


# --- policy results ------------------------------------------------------------------------


def test_policy_results_and_the_assignments_that_depend_on_them(tmp_path: Path):
    resolution, state = live()
    owner = entry(3, rolling("P30D"), access=Access.OWNER, line=9)
    p = make_plan(desired(group(entry(1, rolling("P30D")), entry(2, rolling("P30D"), line=7),
                                owner)), resolution, state, NOW)
    changes = (policy_change(), policy_change("Enablement_Admin_Eligibility"),
               policy_change("Expiration_Admin_Assignment"),
               policy_change("Enablement_Admin_Assignment"))
    p = replace(p, policy_changes=changes)
    boom = GraphError(400, "InvalidPolicy", "nope")
    writer = ScriptedWriter(FixedClock(NOW), policy_answers=[
        PolicyWriteResult("failed", error=boom),
        PolicyWriteResult("applied"),
        PolicyWriteResult("failed"),
        PolicyWriteResult("not_applied", mismatched={"maximumDuration": ("P90D", "P180D"),
                                                     "isExpirationRequired": (True, False)}),
    ])
    report = run(p, writer)
    assert [(r.outcome, r.message, r.graph_code, r.at) for r in report.policy_results] == [
        (Outcome.FAILED, "400 InvalidPolicy: nope", "InvalidPolicy", NOW),
        (Outcome.APPLIED, "verified (read back)", None, NOW),
        (Outcome.FAILED, "failed", None, NOW),
        (Outcome.FAILED, "accepted but not applied: the rule reads back different "
         "(isExpirationRequired: sent True, read False, maximumDuration: sent 'P90D', read "
         "'P180D'); the next run re-checks it", str(Code.POLICY_NOT_APPLIED), NOW),
    ]
    # both eligible members need the failed member Expiration_Admin_Eligibility: skipped;
    # the owner entry does not (the failed rules are the member policy's)
    assert [(r.change.principal, r.outcome, r.message) for r in report.results] == [
        ("user1@contoso.example", Outcome.SKIPPED, "not sent: it needs the member policy "
         "change to Expiration_Admin_Eligibility, which failed"),
        ("user2@contoso.example", Outcome.SKIPPED, "not sent: it needs the member policy "
         "change to Expiration_Admin_Eligibility, which failed"),
        ("user3@contoso.example", Outcome.APPLIED, "verified"),
    ]
    assert writer.sent == ["user3@contoso.example"]
    assert all(r.at == NOW for r in report.results)
    summary = report.to_dict()["summary"]
    assert summary == {"applied": 2, "deferred": 0, "failed": 3, "skipped": 2}


def test_a_policy_write_that_raises_is_a_failed_result():
    writer = ScriptedWriter(FixedClock(NOW), policy_answers=[GraphError(None, None, "timeout")])
    report = run(replace(creates(), policy_changes=(policy_change(),)), writer)
    [r] = report.policy_results
    assert (r.outcome, r.message, r.graph_code) == (Outcome.FAILED, "error: timeout", None)


# --- the report ----------------------------------------------------------------------------


def test_report_fields_of_change_and_policy_results():
    writer = ScriptedWriter(FixedClock(NOW), policy_answers=[PolicyWriteResult("applied")])
    report = run(replace(creates(1), policy_changes=(policy_change(),)), writer)
    data = report.to_dict()
    assert data == {
        "refused": None,
        "summary": {"applied": 2, "deferred": 0, "failed": 0, "skipped": 0},
        "policy_results": [{
            "outcome": "applied", "message": "verified (read back)", "graph_code": None,
            "at": "2026-12-01T12:00:00Z", "policy_rule": "Expiration_Admin_Eligibility",
            "group": "grp-app", "group_id": GID, "access": "member",
            "before": {"maximumDuration": "P365D"}, "after": {"maximumDuration": "P90D"},
            "loosens": False}],
        "results": [{
            "outcome": "applied", "message": "verified", "graph_code": None,
            "at": "2026-12-01T12:00:00Z", "request_id": "req-user1@contoso.example",
            "action": "create", "graph_action": "adminAssign", "group": "grp-app",
            "group_id": GID, "access": "member", "kind": "eligible",
            "principal": "user1@contoso.example", "principal_id": user(1).id,
            "not_before": None}],
    }
    assert report.exit_code() == 0


def test_report_counts_and_exit_codes_over_both_kinds_of_result():
    p = creates(1)
    change = p.changes[0]
    pol = policy_change()
    report = ApplyReport(
        (ChangeResult(change, Outcome.APPLIED), ChangeResult(change, Outcome.DEFERRED)),
        policy_results=(PolicyResult(pol, Outcome.APPLIED), PolicyResult(pol, Outcome.APPLIED)))
    assert [report.count(o) for o in Outcome] == [3, 1, 0, 0]
    assert report.exit_code() == 3
    skipped = replace(report, results=(ChangeResult(change, Outcome.SKIPPED),))
    assert skipped.exit_code() == 1
    failed_rule = replace(report, results=(), policy_results=(PolicyResult(pol, Outcome.FAILED),))
    assert failed_rule.exit_code() == 1
    assert replace(report, results=()).exit_code() == 0


def test_deferred_result_reports_its_not_before():
    writer = ScriptedWriter(FixedClock(NOW))
    report = run(_young_removals(), writer)
    assert report.results[0].to_dict()["not_before"] == "2026-12-01T12:04:00Z"
    assert report.results[0].to_dict()["kind"] == "eligible"


def test_a_five_minute_refusal_of_a_removal_is_deferred_not_failed():
    # PIM counts its five minutes from a moment the plan did not see (say, an update by hand
    # after the plan): the removal is deferred to the next run, exit 3, not a failure
    the_plan = removals(1)
    too_soon = GraphError(400, "ActiveDurationTooShort", "The Active duration is too short.",
                          request_id="r-9")
    writer = ScriptedWriter(FixedClock(NOW), {user(1).id: too_soon})
    report = run(the_plan, writer)
    [result] = report.results
    assert (result.outcome, result.graph_code, result.request_id) == (
        Outcome.DEFERRED, "ActiveDurationTooShort", "r-9")
    assert "next run sends it" in result.message
    assert report.exit_code() == 3


def test_a_five_minute_refusal_of_a_create_is_a_failure():
    writer = ScriptedWriter(FixedClock(NOW), {user(1).id: GraphError(
        400, "ActiveDurationTooShort", "too short")})
    report = run(creates(1), writer)
    assert [r.outcome for r in report.results] == [Outcome.FAILED]
    assert report.exit_code() == 1
