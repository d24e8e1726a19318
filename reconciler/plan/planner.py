"""The planner: desired state + live state + now -> `Plan`. Pure: no I/O, no clock reads.

One fixed sequence (octoDNS style), per declared group:
1. resolve the group and every principal (problems for not found / ambiguous / unmanageable);
2. set algebra on the identity (group id, access, kind, principal id) over admin-made, direct
   live rows of the sections the file manages;
3. per declared entry: create, update in place (lifetime changed), renew (rolling duration in
   its renewal window) or nothing; policy checked for what will be written; an eligible user
   without a P2 / ID Governance licence is a `license_missing` warning;
4. per undeclared live row in an authoritative group: remove (never a protected principal);
5. five-minute deferrals, then the safety guards over the whole plan.

Semantics: ../shared/format.md ("Semantics the planner must honour").
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from reconciler.desired.model import (
    Access,
    DesiredAssignment,
    DesiredGroup,
    DesiredState,
    Kind,
    Mode,
)
from reconciler.desired.select import Shard
from reconciler.durations import format_instant
from reconciler.live.model import DirectoryObject, LiveGroup, LiveSchedule, LiveState, Resolution
from reconciler.plan.changes import Info, Plan
from reconciler.plan.context import PlanContext, principal_name
from reconciler.plan.licences import licence_problem
from reconciler.plan.lifetimes import plan_entry
from reconciler.plan.policies import judge_settings, plan_policies
from reconciler.plan.removals import plan_removal
from reconciler.plan.resolve import (
    collect_principals,
    protected_ids,
    resolve_group,
    resolve_principal,
)
from reconciler.plan.safety import safety_problems
from reconciler.problems import Code, Severity

__all__ = ["collect_principals", "plan"]


def plan(
    desired: DesiredState,
    resolution: Resolution,
    live: LiveState,
    now: datetime,
    *,
    allow_removals: int | None = None,
    shard: Shard | None = None,
) -> Plan:
    """Plan the schedule requests that bring live PIM state in line with `desired`.

    `now` is UTC and is the only clock the planner sees. `allow_removals`, when it equals the
    number of removals in the plan, turns the safety guards (`too_many_removals`,
    `empty_desired_set`) into warnings. Returns a `Plan`; never raises for bad input (every
    problem is in `Plan.problems`). `shard` set: `desired` holds one shard's groups, and the
    run's removal cap is the shard's share of it (`reconciler.plan.safety`).
    """
    ctx = PlanContext(desired, resolution, live, now)
    ctx.problems.extend(resolution.problems)
    protected = protected_ids(ctx)
    by_group: dict[str, list[LiveSchedule]] = defaultdict(list)
    for row in live.schedules:
        by_group[row.group_id].append(row)

    for group in desired.groups:
        live_group = resolve_group(ctx, group)
        if live_group is None:
            continue
        plan_policies(ctx, group, live_group)  # first: entries are judged by the result
        _plan_group(ctx, group, live_group, by_group.get(live_group.id, []), protected)
        judge_settings(ctx, group, live_group)

    ctx.problems.extend(safety_problems(ctx.changes, ctx.managed_counts, ctx.empty_groups,
                                        desired.settings, allow_removals, shard))
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
        policy_changes=tuple(ctx.policy_changes),
    )


# --- one group ----------------------------------------------------------------------------


def _plan_group(
    ctx: PlanContext,
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
        obj = resolve_principal(ctx, entry.principal, where)
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
        if entry.kind is Kind.ELIGIBLE:
            _check_licence(ctx, live_group, obj, where)
        plan_entry(ctx, group, live_group, entry, obj, managed_live.get(key), protected, where)

    ctx.managed_counts[live_group.id] = len(managed_live)
    if (not group.assignments and not group.incomplete and managed_live
            and group.mode is Mode.AUTHORITATIVE):
        ctx.empty_groups.add(live_group.id)
    for key, row in sorted(managed_live.items()):
        if key in declared:
            continue
        section = (row.access, row.kind)
        if section in unresolved_sections or section in group.incomplete:
            why = ("a principal in the {} {} section could not be resolved"
                   if section in unresolved_sections
                   else "an entry of the {} {} section has an error")
            ctx.info.append(
                Info(
                    "removal_withheld",
                    f"not removing {principal_name(ctx, row.principal_id)}: "
                    + why.format(row.access, row.kind),
                    live_group.display_name,
                    principal_name(ctx, row.principal_id),
                )
            )
            continue
        plan_removal(ctx, group, live_group, row, protected)


def _check_licence(ctx: PlanContext, live_group: LiveGroup, obj: DirectoryObject,
                   where: dict[str, object]) -> None:
    """`license_missing` (warning) for an eligible user without an enabled P2 / ID
    Governance plan (`reconciler.plan.licences.licence_problem`)."""
    found = licence_problem(obj, live_group.display_name, **where)
    if found is not None:
        ctx.problems.append(found)


def _report_unmanaged_row(ctx: PlanContext, live_group: LiveGroup, row: LiveSchedule) -> None:
    name = principal_name(ctx, row.principal_id)
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
