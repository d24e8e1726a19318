"""The planner: desired state + live state + now -> `Plan`. Pure: no I/O, no clock reads.

One fixed sequence (octoDNS style), per declared group:
1. resolve the group and every principal (problems for not found / ambiguous / unmanageable);
2. set algebra on the identity (group id, access, kind, principal id) over admin-made, direct
   live rows of the sections the file manages;
3. per declared entry: create, update in place (lifetime changed), renew (rolling duration in
   its renewal window) or nothing; policy checked for what will be written;
4. per undeclared live row in an authoritative group: remove (never a protected principal);
5. five-minute deferrals, then the safety guards over the whole plan.

Semantics: ../shared/format.md ("Semantics the planner must honour").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from reconciler.desired.model import (
    Access,
    DesiredAssignment,
    DesiredGroup,
    DesiredState,
    Kind,
    LifetimeType,
    Mode,
    PrincipalRef,
    PrincipalType,
)
from reconciler.durations import format_duration, format_instant
from reconciler.live.model import DirectoryObject, LiveGroup, LiveSchedule, LiveState, Resolution
from reconciler.plan.changes import Action, Change, GraphAction, Info, Plan
from reconciler.plan.rules import (
    SAME_INSTANT,
    change_anchor,
    not_before,
    policy_problems,
    time_problems,
)
from reconciler.plan.safety import safety_problems
from reconciler.problems import Code, Problem, Severity

EXTEND_WINDOW = timedelta(days=14)
"""PIM offers `adminExtend` for assignments that expire within 14 days; further out a lifetime
change is an `adminUpdate` (Entra docs, "Extend and renew group assignments")."""

REMOVAL_JUSTIFICATION = "Removed by pim-reconciler: not declared in the desired state"
REMOVAL_LAPSED = "Removed by pim-reconciler: its declared end has passed"


@dataclass
class _Context:
    desired: DesiredState
    resolution: Resolution
    live: LiveState
    now: datetime
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    info: list[Info] = field(default_factory=list)
    expiries: list[datetime] = field(default_factory=list)  # times the plan stops being true
    managed_counts: dict[str, int] = field(default_factory=dict)
    empty_groups: set[str] = field(default_factory=set)

    def problem(self, severity: Severity, code: Code, message: str, **where: object) -> None:
        self.problems.append(Problem(severity, code, message, **where))  # type: ignore[arg-type]


def plan(
    desired: DesiredState,
    resolution: Resolution,
    live: LiveState,
    now: datetime,
    *,
    allow_removals: int | None = None,
) -> Plan:
    """Plan the schedule requests that bring live PIM state in line with `desired`.

    `now` is UTC and is the only clock the planner sees. `allow_removals`, when it equals the
    number of removals in the plan, turns the safety guards (`too_many_removals`,
    `empty_desired_set`) into warnings. Returns a `Plan`; never raises for bad input (every
    problem is in `Plan.problems`).
    """
    ctx = _Context(desired, resolution, live, now)
    ctx.problems.extend(resolution.problems)
    protected = _protected_ids(ctx)
    by_group: dict[str, list[LiveSchedule]] = defaultdict(list)
    for row in live.schedules:
        by_group[row.group_id].append(row)

    for group in desired.groups:
        live_group = _resolve_group(ctx, group)
        if live_group is None:
            continue
        _plan_group(ctx, group, live_group, by_group.get(live_group.id, []), protected)

    ctx.problems.extend(safety_problems(ctx.changes, ctx.managed_counts, ctx.empty_groups,
                                        desired.settings, allow_removals))
    future = [t for t in ctx.expiries if t > now]
    return Plan(
        changes=tuple(ctx.changes),
        problems=tuple(ctx.problems),
        info=tuple(ctx.info),
        generated_at=now,
        valid_until=min(future) if future else None,
        live_fingerprint=live.fingerprint,
        desired_digest=desired.digest,
        removal_counts=ctx.managed_counts,
    )


# --- resolution ---------------------------------------------------------------------------


def _resolve_group(ctx: _Context, group: DesiredGroup) -> LiveGroup | None:
    where = {"file": group.location.file, "line": group.location.line, "group": group.group}
    if group.group not in ctx.resolution.groups:
        return None  # lookup refused (permission_denied is already among the problems)
    matches = ctx.resolution.groups[group.group]
    if not matches:
        ctx.problem(
            Severity.ERROR,
            Code.GROUP_NOT_FOUND,
            f"no group named or with id '{group.group}' exists in the tenant",
            **where,
        )
        return None
    if len(matches) > 1:
        ids = ", ".join(sorted(g.id for g in matches))
        ctx.problem(
            Severity.ERROR,
            Code.GROUP_AMBIGUOUS,
            f"{len(matches)} groups are named '{group.group}' ({ids}); write the object id instead",
            **where,
        )
        return None
    live_group = matches[0]
    reason = live_group.unmanageable_reason
    if reason:
        ctx.problem(
            Severity.ERROR,
            Code.GROUP_NOT_MANAGEABLE,
            f"group '{group.group}' cannot be managed by PIM for Groups: {reason}",
            **where,
        )
        return None
    return live_group


def _resolve_principal(
    ctx: _Context, ref: PrincipalRef, where: dict[str, object]
) -> DirectoryObject | None:
    if ref not in ctx.resolution.principals:
        return None  # lookup refused (permission_denied is already among the problems)
    matches = ctx.resolution.principals[ref]
    if not matches:
        what = {
            PrincipalType.USER: "user",
            PrincipalType.GROUP: "group",
            PrincipalType.SERVICE_PRINCIPAL: "service principal",
            PrincipalType.ID: "object",
        }[ref.type]
        ctx.problem(
            Severity.ERROR,
            Code.PRINCIPAL_NOT_FOUND,
            f"no {what} '{ref.value}' exists in the tenant",
            **where,
        )
        return None
    if len(matches) > 1:
        ids = ", ".join(sorted(m.id for m in matches))
        ctx.problem(
            Severity.ERROR,
            Code.PRINCIPAL_AMBIGUOUS,
            f"'{ref.value}' matches {len(matches)} objects ({ids}); write the object id instead",
            **where,
        )
        return None
    return matches[0]


def _protected_ids(ctx: _Context) -> set[str]:
    """Ids of the protected principals. One that resolves to nothing is a warning: a typo in
    the break-glass list must not pass silently. An ambiguous name protects every match."""
    ids: set[str] = set()
    settings = ctx.desired.settings
    for ref in settings.protected:
        matches = ctx.resolution.principals.get(ref)
        if matches is None:
            continue  # lookup refused: permission_denied is already reported
        if not matches:
            ctx.problem(Severity.WARNING, Code.PRINCIPAL_NOT_FOUND,
                        f"protected principal '{ref.value}' does not exist in the tenant, so "
                        "it protects nothing; check the spelling",
                        file=settings.location.file if settings.location else None,
                        line=settings.location.line if settings.location else None,
                        principal=ref.value)
        ids.update(obj.id for obj in matches)
    return ids


# --- one group ----------------------------------------------------------------------------


def _plan_group(
    ctx: _Context,
    group: DesiredGroup,
    live_group: LiveGroup,
    rows: list[LiveSchedule],
    protected: set[str],
) -> None:
    managed_live: dict[tuple[Access, Kind, str], LiveSchedule] = {}
    for row in rows:
        if not row.managed:
            _report_unmanaged_row(ctx, live_group, row)
            continue
        if (row.access, row.kind) not in group.managed:
            continue
        if row.end is not None and row.end <= ctx.now:
            continue  # lapsed; PIM removes it by itself
        managed_live.setdefault((row.access, row.kind, row.principal_id), row)

    declared: dict[tuple[Access, Kind, str], DesiredAssignment] = {}
    unresolved_sections: set[tuple[Access, Kind]] = set()
    for entry in group.assignments:
        where = {
            "file": entry.location.file,
            "line": entry.location.line,
            "group": group.group,
            "principal": entry.principal.value,
        }
        obj = _resolve_principal(ctx, entry.principal, where)
        if obj is None:
            unresolved_sections.add((entry.access, entry.kind))
            continue
        key = (entry.access, entry.kind, obj.id)
        if key in declared:
            first = declared[key]
            ctx.problem(
                Severity.ERROR,
                Code.DUPLICATE_ASSIGNMENT,
                f"{entry.principal.value} is declared {entry.kind} {entry.access} twice "
                f"(also at {first.location})",
                **where,
            )
            continue
        declared[key] = entry
        _plan_entry(ctx, group, live_group, entry, obj, managed_live.get(key), protected, where)

    ctx.managed_counts[live_group.id] = len(managed_live)
    if not group.assignments and managed_live and group.mode is Mode.AUTHORITATIVE:
        ctx.empty_groups.add(live_group.id)
    for key, row in sorted(managed_live.items()):
        if key in declared:
            continue
        if (row.access, row.kind) in unresolved_sections:
            ctx.info.append(
                Info(
                    "removal_withheld",
                    f"not removing {_name(ctx, row.principal_id)}: a principal in "
                    f"the {row.access} {row.kind} section could not be resolved",
                    live_group.display_name,
                    _name(ctx, row.principal_id),
                )
            )
            continue
        _plan_removal(ctx, group, live_group, row, protected)


def _report_unmanaged_row(ctx: _Context, live_group: LiveGroup, row: LiveSchedule) -> None:
    name = _name(ctx, row.principal_id)
    until = f" until {format_instant(row.end)}" if row.end else ""
    if row.assignment_type == "activated":
        ctx.info.append(
            Info(
                "activation",
                f"{name} has activated {row.access}ship{until} "
                "(just-in-time activation; never managed)",
                live_group.display_name,
                name,
            )
        )
    else:
        ctx.info.append(
            Info(
                "inherited",
                f"{name} holds {row.kind} {row.access} through "
                "membership of another group (inherited; never managed)",
                live_group.display_name,
                name,
            )
        )


def _plan_entry(
    ctx: _Context,
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
            _plan_removal(ctx, group, live_group, row, protected, lapsed=entry)
        return
    lifetime = entry.lifetime
    policy = ctx.live.policies.get((live_group.id, entry.access))
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
        return not found

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
    ctx: _Context, entry: DesiredAssignment, row: LiveSchedule, end: datetime | None
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
    ctx: _Context,
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
            ctx.problems.append(replace(
                problem, message=f"{problem.message} (the next renewal would be refused)"))
        return
    # An assignment already in sync is not re-judged against a policy tightened later.
    judged = policy_problems(
        policy,
        entry.kind,
        permanent=permanent,  # type: ignore[arg-type]
        length=_granted_length(row, ctx.now),
        justification="in sync",
        ticket=True,
        where=where,
    )
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


def _plan_removal(
    ctx: _Context,
    group: DesiredGroup,
    live_group: LiveGroup,
    row: LiveSchedule,
    protected: set[str],
    *,
    lapsed: DesiredAssignment | None = None,
) -> None:
    """Remove `row`: undeclared in an authoritative group, or (`lapsed`) declared with an
    `until` that has passed while the live assignment runs on."""
    name = _name(ctx, row.principal_id)
    obj = ctx.live.principals.get(row.principal_id)
    what = "undeclared" if lapsed is None else "lapsed"
    location = lapsed.location if lapsed else group.location
    if group.mode is Mode.ADDITIVE:
        detail = ("without a declaration" if lapsed is None
                  else "past its declared until")
        ctx.info.append(Info(what, f"{name} holds {row.kind} {row.access} {detail}; kept "
                             "(additive group: never removes)", live_group.display_name, name))
        return
    if row.principal_id in protected:
        ctx.problem(
            Severity.WARNING,
            Code.PROTECTED_PRINCIPAL,
            f"{name} is protected: its {what} {row.kind} {row.access} assignment is kept",
            file=location.file,
            line=location.line,
            group=group.group,
            principal=name,
        )
        return
    deferred = not_before(row, ctx.now)
    if deferred:
        ctx.expiries.append(deferred)
    ctx.changes.append(
        Change(
            action=Action.REMOVE,
            graph_action=GraphAction.ADMIN_REMOVE,
            group_id=live_group.id,
            group=live_group.display_name,
            access=row.access,
            kind=row.kind,
            principal_id=row.principal_id,
            principal=name,
            principal_type=obj.type if obj else PrincipalType.ID,
            reason=(f"not declared in {group.location.file}" if lapsed is None else
                    f"declared until {format_instant(lapsed.lifetime.until)} has passed, "  # type: ignore[arg-type]
                    "but the live assignment runs on"),
            permanent=False,
            end=None,
            schedule_id=row.id,
            old_start=row.start,
            old_end=row.end,
            old_permanent=row.end is None,
            justification=REMOVAL_JUSTIFICATION if lapsed is None else REMOVAL_LAPSED,
            not_before=deferred,
            file=location.file,
            line=location.line,
        )
    )
    if row.end is not None:
        ctx.expiries.append(row.end)


def _name(ctx: _Context, principal_id: str) -> str:
    obj = ctx.live.principals.get(principal_id)
    return obj.name if obj else principal_id


def collect_principals(desired: DesiredState) -> list[PrincipalRef]:
    """Every principal reference the desired state names (entries and protected), deduplicated
    in first-seen order: what the Graph adapter must resolve."""
    seen: dict[PrincipalRef, None] = {}
    refs: Iterable[PrincipalRef] = (
        *(a.principal for g in desired.groups for a in g.assignments),
        *desired.settings.protected,
    )
    for ref in refs:
        seen.setdefault(ref, None)
    return list(seen)
