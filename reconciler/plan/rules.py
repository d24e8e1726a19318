"""PIM's rules as the planner predicts them: lifetimes, the five-minute floor, policy limits.

Pure functions; `now` is always a parameter. Graph facts (graph-pim-reference.md):
- no assignment shorter than five minutes, no removal or change within five minutes of an
  assignment being made (section 3.1, `ActiveDurationTooShort`; Entra docs, groups-assign);
- permanence only where the right expiration rule allows it: `Expiration_Admin_Eligibility`
  for eligible, `Expiration_Admin_Assignment` for active, of the policy for that `accessId`
  (section 4.4);
- `maximumDuration` enforced when expiration is required (section 4.4; whether Graph also
  enforces it when expiration is optional is unconfirmed, so we do not);
- `Enablement_Admin_Assignment` / `Enablement_Admin_Eligibility` may require `Justification`
  or `Ticketing` (section 4.2).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from reconciler.desired.model import DesiredAssignment, Kind, LifetimeType
from reconciler.durations import MINIMUM_ASSIGNMENT, format_duration, format_instant
from reconciler.live.model import GroupPolicy, LiveSchedule
from reconciler.problems import Code, Problem, Severity

SAME_INSTANT = timedelta(minutes=1)
"""Two ends within a minute of each other are the same end (format.md, `until`)."""


def rule_id(kind: Kind, what: str = "Expiration") -> str:
    """`Expiration_Admin_Eligibility` / `Expiration_Admin_Assignment` (or Enablement_...)."""
    return f"{what}_Admin_{'Eligibility' if kind is Kind.ELIGIBLE else 'Assignment'}"


def time_problems(
    assignment: DesiredAssignment, now: datetime, *, group: str, file: str | None = None
) -> list[Problem]:
    """Problems of an entry's lifetime against the clock: `until_in_past` (warning) and
    `until_too_soon` (error: the schedule would last under five minutes from now, or from its
    future `start`)."""
    lifetime = assignment.lifetime
    where = {
        "file": file or assignment.location.file,
        "line": assignment.location.line,
        "group": group,
        "principal": assignment.principal.value,
    }
    if lifetime.type is not LifetimeType.UNTIL:
        return []
    assert lifetime.until is not None
    if lifetime.until <= now:
        return [
            Problem(
                Severity.WARNING,
                Code.UNTIL_IN_PAST,
                f"until {format_instant(lifetime.until)} has passed; the entry has "
                "lapsed and PIM removes it by itself, so nothing is planned for it",
                **where,
            )
        ]
    begin = max(now, assignment.start) if assignment.start else now
    if lifetime.until - begin < MINIMUM_ASSIGNMENT:
        return [
            Problem(
                Severity.ERROR,
                Code.UNTIL_TOO_SOON,
                f"until {format_instant(lifetime.until)} leaves less than five minutes "
                f"from {format_instant(begin)}; PIM refuses assignments shorter than "
                "PT5M",
                **where,
            )
        ]
    return []


def policy_problems(
    policy: GroupPolicy,
    kind: Kind,
    *,
    permanent: bool,
    length: timedelta | None,
    justification: str | None,
    ticket: bool,
    where: dict[str, object],
) -> list[Problem]:
    """What the group's policy would refuse in a schedule request with this lifetime.

    `length` is the requested lifetime (end minus start), None when permanent.
    Codes: `permanent_not_allowed`, `duration_exceeds_policy`, `justification_required`,
    `ticket_required`; warning `maximum_may_apply` (a lifetime above the maximum of a rule that
    allows permanence: whether Graph still enforces the maximum is unconfirmed,
    graph-pim-reference.md 4.4, so the request may be refused).
    """
    rule = policy.expiration(kind)
    out: list[Problem] = []
    access = policy.access
    if permanent and rule.is_expiration_required:
        out.append(
            Problem(
                Severity.ERROR,
                Code.PERMANENT_NOT_ALLOWED,
                f"the {access} policy's {rule_id(kind)} rule requires an expiration, "
                f"so a permanent {kind} assignment is refused",
                **where,
            )
        )  # type: ignore[arg-type]
    if (
        not permanent
        and length is not None
        and rule.is_expiration_required
        and rule.maximum_duration is not None
        and length > rule.maximum_duration + SAME_INSTANT
    ):
        cap = rule.maximum_duration_text or format_duration(rule.maximum_duration)
        out.append(
            Problem(
                Severity.ERROR,
                Code.DURATION_EXCEEDS_POLICY,
                f"{_length_text(length)} is longer than the {access} policy's "
                f"{rule_id(kind)} maximum of {cap}",
                **where,
            )
        )  # type: ignore[arg-type]
    if (
        not permanent
        and length is not None
        and not rule.is_expiration_required
        and rule.maximum_duration is not None
        and length > rule.maximum_duration + SAME_INSTANT
    ):
        cap = rule.maximum_duration_text or format_duration(rule.maximum_duration)
        out.append(
            Problem(
                Severity.WARNING,
                Code.MAXIMUM_MAY_APPLY,
                f"{_length_text(length)} is longer than the {access} policy's "
                f"{rule_id(kind)} maximum of {cap}; the rule allows permanence, and whether "
                "PIM then still enforces the maximum is unconfirmed: if the request is "
                "refused (RoleAssignmentRequestPolicyValidationFailed), shorten it or declare "
                "it permanent",
                **where,
            )
        )  # type: ignore[arg-type]
    enabled = policy.enablement(kind)
    if "Justification" in enabled and not justification:
        out.append(
            Problem(
                Severity.ERROR,
                Code.JUSTIFICATION_REQUIRED,
                f"the {access} policy's {rule_id(kind, 'Enablement')} rule requires a "
                "justification; add `justification:` or set defaults.justification",
                **where,
            )
        )  # type: ignore[arg-type]
    if "Ticketing" in enabled and not ticket:
        out.append(
            Problem(
                Severity.ERROR,
                Code.TICKET_REQUIRED,
                f"the {access} policy's {rule_id(kind, 'Enablement')} rule requires "
                "ticket information; add `ticket: {system, number}`",
                **where,
            )
        )  # type: ignore[arg-type]
    return out


def _length_text(length: timedelta) -> str:
    """`P400D`, or for an odd length (an `until` measured from now) `about 364 days
    (P364DT11H10M)`, which a reader can weigh against a cap in days."""
    text = format_duration(length)
    if length.seconds == 0:
        return text
    return f"about {round(length.total_seconds() / 86400)} days ({text})"


def change_anchor(row: LiveSchedule, now: datetime) -> datetime | None:
    """When the live assignment was last made or changed: the latest of its creation,
    modification and (past) start. PIM refuses a removal or change until five minutes after."""
    times = [t for t in (row.created, row.modified, row.start) if t is not None and t <= now]
    return max(times) if times else None


def not_before(row: LiveSchedule, now: datetime) -> datetime | None:
    """The time a removal or change of `row` may be sent, or None if it may be sent now."""
    anchor = change_anchor(row, now)
    if anchor is None:
        return None
    due = anchor + MINIMUM_ASSIGNMENT
    if due.microsecond:  # whole seconds for a reader, rounded up so it is never early
        due = due.replace(microsecond=0) + timedelta(seconds=1)
    return due if due > now else None
