"""The read side of every command: desired state + a Graph backend + now -> `Plan`.

config -> desired model -> (resolution, live state) -> plan. The only place that sequences the
Graph adapter's reads for planning; the CLI stays thin.

A `Scope` narrows a run: `--only` globs select groups before anything is read
(`reconciler.desired.select`); `--shard I/N` keeps, once the groups are resolved, the groups of
the shard (`reconciler.plan.scope`): only their schedules and policies are read, only their
entries' principals resolved, only they planned, and the removal cap is the shard's share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from reconciler.clock import Clock, FixedClock
from reconciler.desired.model import DesiredState
from reconciler.desired.select import Scope, select_only
from reconciler.graph.backend import GraphBackend
from reconciler.live.model import LiveGroup, LiveState, Resolution
from reconciler.plan.access import AccessReport, build_report
from reconciler.plan.changes import Plan
from reconciler.plan.drift import DriftReport, classify
from reconciler.plan.planner import collect_principals, plan
from reconciler.plan.scope import PlanScope, scoped_problems, shard_groups
from reconciler.problems import Problem
from reconciler.targets import Target, open_backend


def _single_ids(groups: Mapping[str, tuple[LiveGroup, ...]]) -> list[str]:
    """The sorted ids of the groups that resolved to exactly one group: the ones read."""
    return sorted({matches[0].id for matches in groups.values() if len(matches) == 1})


async def read_state(desired: DesiredState, backend: GraphBackend) -> tuple[Resolution, LiveState]:
    """Resolve every group and principal the files name and read the live PIM state
    (schedules and member/owner policies) of the groups that resolved to exactly one group.

    The reads start as soon as the groups are resolved, while the principals still are; the
    principals on the rows are named once both are done.

    Raises `reconciler.graph.errors.GraphError` when the tenant cannot be read completely.
    """
    group_refs = list(dict.fromkeys(g.group for g in desired.groups))
    groups_known: asyncio.Future[Mapping[str, tuple[LiveGroup, ...]]] = (
        asyncio.get_running_loop().create_future())

    def on_groups(groups: Mapping[str, tuple[LiveGroup, ...]]) -> None:
        if not groups_known.done():
            groups_known.set_result(groups)

    resolving = asyncio.ensure_future(
        backend.resolve(group_refs, collect_principals(desired), on_groups=on_groups))
    try:
        await asyncio.wait({groups_known, resolving}, return_when=asyncio.FIRST_COMPLETED)
        # the groups as soon as known; else resolution ended (or failed) first
        groups = groups_known.result() if groups_known.done() else (await resolving).groups
        live = await backend.read(_single_ids(groups), after=resolving)
        resolution = await resolving
    finally:
        if not resolving.done():
            resolving.cancel()
        groups_known.cancel()
    return resolution, live


async def read_scope(
    desired: DesiredState, backend: GraphBackend, scope: Scope | None
) -> tuple[DesiredState, Resolution, LiveState]:
    """`read_state` of the groups in `scope` (None: all): `(the desired state in scope,
    resolution, live)`.

    `--only` selects before anything is read (`select_only`). Without `--shard` this is
    `read_state`; with one, every selected group is resolved first (one cheap round of
    lookups: a shard's principals are known only once its groups are), then only the shard's
    groups are kept (`reconciler.plan.scope.shard_groups`): their schedules and policies are
    read while the principals of their entries (and the protected ones, and their policies'
    approvers) resolve. Raises `SelectError` for an `--only` glob that matches nothing,
    `GraphError`.
    """
    scope = scope or Scope()
    selected = select_only(desired, scope.only)
    if scope.shard is None:
        resolution, live = await read_state(selected, backend)
        return selected, resolution, live
    found = await backend.resolve(list(dict.fromkeys(g.group for g in selected.groups)), [])
    mine = shard_groups(selected, found.groups, scope.shard)
    refs = {g.group for g in mine.groups}
    groups = {ref: matches for ref, matches in found.groups.items() if ref in refs}
    resolving = asyncio.ensure_future(backend.resolve([], collect_principals(mine)))
    try:
        live = await backend.read(_single_ids(groups), after=resolving)
        principals = await resolving
    finally:
        if not resolving.done():
            resolving.cancel()
    resolution = Resolution(groups=groups, principals=principals.principals,
                            problems=found.problems + principals.problems)
    return mine, resolution, live


async def _plan_scope(
    desired: DesiredState,
    backend: GraphBackend,
    now: datetime,
    scope: Scope | None,
    allow_removals: int | None = None,
) -> tuple[DesiredState, Resolution, LiveState, Plan]:
    """`read_scope`, then the plan of the groups in scope at `now` (truncated to whole
    seconds) with the shard's removal cap, carrying its `PlanScope` when the run was scoped
    (the drift and access reports carry the plan's): `(desired in scope, resolution, live,
    plan)`."""
    now = now.replace(microsecond=0)
    mine, resolution, live = await read_scope(desired, backend, scope)
    shard = scope.shard if scope else None
    the_plan = plan(mine, resolution, live, now, allow_removals=allow_removals, shard=shard)
    if scope is not None and not scope.whole:
        the_plan = replace(the_plan, scope=PlanScope.of(scope, desired, mine))
    return mine, resolution, live, the_plan


async def make_plan(
    desired: DesiredState,
    backend: GraphBackend,
    now: datetime,
    *,
    allow_removals: int | None = None,
    scope: Scope | None = None,
) -> Plan:
    """Read live state through `backend` and plan against it at `now` (UTC, truncated to whole
    seconds: fractions would only add noise to every end time a reviewer reads). `scope`
    (None: everything) narrows it to `--only` / `--shard` and is recorded in `Plan.scope`.
    Raises `SelectError` (an `--only` glob matching nothing) and `GraphError`."""
    return (await _plan_scope(desired, backend, now, scope, allow_removals))[3]


def clock_for(now: datetime | None) -> Clock | None:
    """`--now` pins the clock; without it the emulator keeps its tenant file's own clock
    (None here) and real Graph gets the system clock (chosen in `open_backend`)."""
    return FixedClock(now) if now else None


async def build_plan(
    desired: DesiredState,
    config_problems: list[Problem],
    target: Target,
    now: datetime | None,
    allow_removals: int | None = None,
    scope: Scope | None = None,
) -> Plan:
    """Open the target, read, plan at the target's clock; the config problems (file order)
    come first in the plan's problems (in a scoped run, those of the files it covers and of
    files that declare no usable group, `scoped_problems`)."""
    async with open_backend(target, clock=clock_for(now)) as backend:
        at = backend.clock.now()
        mine, _, _, the_plan = await _plan_scope(desired, backend, at, scope,
                                                 allow_removals)
    config_problems = scoped_problems(config_problems, desired, mine)
    if config_problems:
        the_plan = replace(the_plan, problems=tuple(config_problems) + the_plan.problems)
    return the_plan


async def build_drift(desired: DesiredState, config_problems: list[Problem], target: Target,
                      now: datetime | None, expiring_within: timedelta,
                      scope: Scope | None = None) -> DriftReport:
    """Open the target, read, plan and classify at the target's clock (`now` pins it) the
    groups in `scope` (None: all; the report records a narrower one, `DriftReport.scope`);
    config warnings (of the files in scope) are added to the report's problems. Raises
    `SelectError`, `GraphError`."""
    async with open_backend(target, clock=clock_for(now)) as backend:
        at = backend.clock.now().replace(microsecond=0)
        mine, resolution, live, the_plan = await _plan_scope(desired, backend, at, scope)
    report = classify(mine, resolution, live, the_plan, at, expiring_within)
    config_problems = scoped_problems(config_problems, desired, mine)
    if config_problems:
        report = replace(report, problems=report.problems + tuple(config_problems))
    return report


async def build_access_report(desired: DesiredState, config_problems: list[Problem],
                              target: Target, now: datetime | None,
                              expiring_within: timedelta | None = None,
                              scope: Scope | None = None) -> AccessReport:
    """Open the target, read (the same reads as a plan), plan and sort into the access report
    at the target's clock (`now` pins it) the groups in `scope` (None: all; the report records
    a narrower one, `AccessReport.scope`); `expiring_within` defaults to the settings'
    `report.expiring_within`. Config problems (of the files in scope) come first. Raises
    `SelectError`, `GraphError`."""
    async with open_backend(target, clock=clock_for(now)) as backend:
        at = backend.clock.now().replace(microsecond=0)
        mine, resolution, live, the_plan = await _plan_scope(desired, backend, at, scope)
    config_problems = scoped_problems(config_problems, desired, mine)
    if config_problems:
        the_plan = replace(the_plan, problems=tuple(config_problems) + the_plan.problems)
    window = expiring_within or desired.settings.report_expiring_within
    return build_report(mine, resolution, live, the_plan, at, window)
