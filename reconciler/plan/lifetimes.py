"""Assignment lifetimes: one declared entry against its live row -> create, in-place update,
renewal (`adminExtend` / `adminUpdate`) or nothing, judged against the group's policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from reconciler.desired.model import DesiredAssignment, DesiredGroup, LifetimeType
from reconciler.durations import format_duration, format_instant
from reconciler.live.model import DirectoryObject, LiveGroup, LiveSchedule
from reconciler.plan.changes import Action, Change, GraphAction, Info
from reconciler.plan.context import PlanContext
from reconciler.plan.removals import plan_removal
from reconciler.plan.rules import (
    SAME_INSTANT,
    change_anchor,
    not_before,
    policy_problems,
    time_problems,
)
from reconciler.problems import Code, Severity

EXTEND_WINDOW = timedelta(days=14)
"""PIM offers `adminExtend` for assignments that expire within 14 days; further out a lifetime
change is an `adminUpdate` (Entra docs, "Extend and renew group assignments")."""


def plan_entry(
    ctx: PlanContext,
    group: DesiredGroup,
    live_group: LiveGroup,
    entry: DesiredAssignment,
    obj: DirectoryObject,
    row: LiveSchedule | None,
    protected: set[str],
    where: dict[str, object],
) -> None:
    now = ctx.now
    timing = time_problems(entry, now, group=group.group)
    if timing:
        ctx.problems.extend(timing)
        until = entry.lifetime.until
        if (timing[0].code is Code.UNTIL_IN_PAST and row is not None and until is not None
                and (row.end is None or row.end > until + SAME_INSTANT)):
            plan_removal(ctx, group, live_group, row, protected, lapsed=entry)
        return
    lifetime = entry.lifetime
    policy = ctx.policy_for(live_group.id, entry.access)
    if policy is None:
        ctx.problem(
            Severity.ERROR,
            Code.POLICY_NOT_FOUND,
            f"no {entry.access} role management policy was found for group "
            f"'{live_group.display_name}'",
            **where,
        )
        return

    if (lifetime.type is LifetimeType.DURATION and lifetime.duration is not None
            and lifetime.duration <= ctx.desired.settings.defaults.renew_before):
        ctx.problem(Severity.WARNING, Code.RENEW_BEFORE_TOO_LONG,
                    f"duration {lifetime.duration_text} is not longer than defaults.renew_before "
                    f"({ctx.desired.settings.defaults.renew_before_text}): every run renews it, "
                    "which makes it standing access; declare a longer duration or a shorter "
                    "renew_before if that is not meant", **where)
    start = entry.start if entry.start and entry.start > now else None
    begin = start or now
    permanent = lifetime.type is LifetimeType.PERMANENT
    if lifetime.type is LifetimeType.UNTIL:
        end: datetime | None = lifetime.until
        ctx.expiries.append(lifetime.until)  # type: ignore[arg-type]
    elif lifetime.type is LifetimeType.DURATION:
        assert lifetime.duration is not None
        end = begin + lifetime.duration
    else:
        end = None

    base = {
        "group_id": live_group.id,
        "group": live_group.display_name,
        "access": entry.access,
        "kind": entry.kind,
        "principal_id": obj.id,
        "principal": obj.name,
        "principal_type": obj.type,
        "permanent": permanent,
        "end": end,
        "duration": lifetime.duration_text if lifetime.type is LifetimeType.DURATION else None,
        "start": start,
        "justification": entry.justification,
        "ticket_system": entry.ticket.system if entry.ticket else None,
        "ticket_number": entry.ticket.number if entry.ticket else None,
        "file": entry.location.file,
        "line": entry.location.line,
    }

    def check_policy() -> bool:
        found = policy_problems(
            policy,
            entry.kind,
            permanent=permanent,
            length=(end - begin) if end is not None else None,
            justification=entry.justification,
            ticket=bool(entry.ticket and entry.ticket.number),
            where=where,
        )
        ctx.problems.extend(found)
        return not any(p.is_error for p in found)  # a warning does not hold the write back

    if row is None:
        if check_policy():
            ctx.changes.append(
                Change(
                    action=Action.CREATE,
                    graph_action=GraphAction.ADMIN_ASSIGN,
                    reason=f"declared {lifetime.describe()}; not assigned",
                    **base,
                )
            )  # type: ignore[arg-type]
        return

    action, reason = _compare(ctx, entry, row, end)
    old = {
        "schedule_id": row.id,
        "old_start": row.start,
        "old_end": row.end,
        "old_permanent": row.end is None,
    }
    if action is None:
        _in_sync(ctx, entry, live_group, row, policy, obj, permanent, end, begin, where)
        return
    if obj.id in protected and _shortens(row, permanent, end):
        ctx.problem(
            Severity.WARNING,
            Code.PROTECTED_PRINCIPAL,
            f"{obj.name} is protected: its {entry.kind} {entry.access} assignment is "
            "never shortened, so the declared change is not planned",
            **where,
        )
        return
    if not check_policy():
        return
    graph_action = GraphAction.ADMIN_UPDATE
    if action is Action.RENEW and row.end is not None and row.end - now <= EXTEND_WINDOW:
        graph_action = GraphAction.ADMIN_EXTEND
    deferred = not_before(row, now)
    if deferred:
        ctx.expiries.append(deferred)
    ctx.changes.append(
        Change(
            action=action,
            graph_action=graph_action,
            reason=reason,
            not_before=deferred,
            **base,
            **old,
        )
    )  # type: ignore[arg-type]


def _compare(
    ctx: PlanContext, entry: DesiredAssignment, row: LiveSchedule, end: datetime | None
) -> tuple[Action | None, str]:
    """Is the live row in sync with the entry? Returns (action, reason) or (None, "")."""
    lifetime = entry.lifetime
    if (
        entry.start
        and entry.start > ctx.now
        and (row.start is None or abs(row.start - entry.start) > SAME_INSTANT)
    ):
        return Action.UPDATE, f"start moves to {format_instant(entry.start)}"
    if lifetime.type is LifetimeType.PERMANENT:
        if row.end is None:
            return None, ""
        return Action.UPDATE, "declared permanent; live assignment expires"
    if row.end is None:
        return Action.UPDATE, f"live assignment is permanent; declared {lifetime.describe()}"
    if lifetime.type is LifetimeType.UNTIL:
        assert end is not None
        if abs(row.end - end) <= SAME_INSTANT:
            return None, ""
        return Action.UPDATE, f"end moves from {format_instant(row.end)} to {format_instant(end)}"
    assert lifetime.duration is not None and end is not None
    if row.end > end + SAME_INSTANT:
        return Action.UPDATE, (
            f"live end {format_instant(row.end)} is later than now + "
            f"{lifetime.duration_text} (extended out of band)"
        )
    defaults = ctx.desired.settings.defaults
    if row.end - ctx.now <= defaults.renew_before and end - row.end > SAME_INSTANT:
        reason = (f"expires {format_instant(row.end)}, within the renewal window "
                  f"({defaults.renew_before_text}); renewed for {lifetime.duration_text}")
        if lifetime.duration <= defaults.renew_before:
            reason += (f" (a duration no longer than renew_before {defaults.renew_before_text} "
                       "is renewed on every run)")
        return Action.RENEW, reason
    return None, ""


def _in_sync(
    ctx: PlanContext,
    entry: DesiredAssignment,
    live_group: LiveGroup,
    row: LiveSchedule,
    policy: object,
    obj: DirectoryObject,
    permanent: bool,
    end: datetime | None,
    begin: datetime,
    where: dict[str, object],
) -> None:
    lifetime = entry.lifetime
    if lifetime.type is LifetimeType.DURATION and row.end is not None:
        assert lifetime.duration is not None
        ctx.expiries.append(row.end - ctx.desired.settings.defaults.renew_before)
        live_length = _granted_length(row, ctx.now)
        if live_length is not None and lifetime.duration > live_length + SAME_INSTANT:
            ctx.info.append(
                Info(
                    "next_renewal",
                    f"declared {lifetime.duration_text} but the live assignment was granted for "
                    f"{format_duration(live_length)}; it stays until {format_instant(row.end)} and "
                    f"the next renewal grants {lifetime.duration_text}",
                    live_group.display_name,
                    obj.name,
                )
            )
    if lifetime.type is LifetimeType.DURATION:
        # a rolling entry is written again at its next renewal: judge that write now
        renewal = policy_problems(
            policy, entry.kind, permanent=False, length=lifetime.duration,  # type: ignore[arg-type]
            justification=entry.justification,
            ticket=bool(entry.ticket and entry.ticket.number), where=where)
        for problem in renewal:
            when = ("the next renewal would be refused" if problem.is_error
                    else "at the next renewal")
            ctx.problems.append(replace(problem, message=f"{problem.message} ({when})"))
        return
    # An assignment already in sync is not re-judged against a policy tightened later; a
    # tightening this plan makes is reported as live_exceeds_policy (plan.policies).
    judged = [p for p in policy_problems(
        ctx.live.policies.get((live_group.id, entry.access)) or policy,
        entry.kind,
        permanent=permanent,  # type: ignore[arg-type]
        length=_granted_length(row, ctx.now),
        justification="in sync",
        ticket=True,
        where=where,
    ) if p.is_error]
    if judged:
        ctx.problem(
            Severity.WARNING,
            Code.POLICY_TIGHTENED,
            f"{obj.name}'s {entry.kind} {entry.access} assignment is in sync but the "
            f"current policy would refuse it ({judged[0].message}); it is left as is",
            **where,
        )


def _granted_length(row: LiveSchedule, now: datetime) -> timedelta | None:
    """The lifetime the last write granted: end minus the time it was made or changed."""
    anchor = change_anchor(row, now)
    if row.end is None or anchor is None:
        return None
    return row.end - anchor


def _shortens(row: LiveSchedule, permanent: bool, end: datetime | None) -> bool:
    if permanent:
        return False
    if row.end is None:
        return True
    return end is not None and end < row.end - SAME_INSTANT
