"""The read side of every command: desired state + a Graph backend + now -> `Plan`.

config -> desired model -> (resolution, live state) -> plan. The only place that sequences the
Graph adapter's reads for planning; the CLI stays thin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from reconciler.clock import Clock, FixedClock
from reconciler.desired.model import DesiredState
from reconciler.graph.backend import GraphBackend
from reconciler.live.model import LiveGroup, LiveState, Resolution
from reconciler.plan.access import AccessReport, build_report
from reconciler.plan.changes import Plan
from reconciler.plan.drift import DriftReport, classify
from reconciler.plan.planner import collect_principals, plan
from reconciler.problems import Problem
from reconciler.targets import Target, open_backend


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
        group_ids = sorted({matches[0].id for matches in groups.values() if len(matches) == 1})
        live = await backend.read(group_ids, after=resolving)
        resolution = await resolving
    finally:
        if not resolving.done():
            resolving.cancel()
        groups_known.cancel()
    return resolution, live


async def make_plan(
    desired: DesiredState,
    backend: GraphBackend,
    now: datetime,
    *,
    allow_removals: int | None = None,
) -> Plan:
    """Read live state through `backend` and plan against it at `now` (UTC, truncated to whole
    seconds: fractions would only add noise to every end time a reviewer reads)."""
    now = now.replace(microsecond=0)
    resolution, live = await read_state(desired, backend)
    return plan(desired, resolution, live, now, allow_removals=allow_removals)


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
) -> Plan:
    """Open the target, read, plan at the target's clock; the config problems (file order)
    come first in the plan's problems."""
    async with open_backend(target, clock=clock_for(now)) as backend:
        at = backend.clock.now()
        the_plan = await make_plan(desired, backend, at, allow_removals=allow_removals)
    if config_problems:
        the_plan = replace(the_plan, problems=tuple(config_problems) + the_plan.problems)
    return the_plan


async def build_drift(desired: DesiredState, config_problems: list[Problem], target: Target,
                      now: datetime | None, expiring_within: timedelta) -> DriftReport:
    """Open the target, read, plan and classify at the target's clock (`now` pins it);
    config warnings are added to the report's problems. Raises `GraphError`."""
    async with open_backend(target, clock=clock_for(now)) as backend:
        at = backend.clock.now().replace(microsecond=0)
        resolution, live = await read_state(desired, backend)
    the_plan = plan(desired, resolution, live, at)
    report = classify(desired, resolution, live, the_plan, at, expiring_within)
    if config_problems:
        report = replace(report, problems=report.problems + tuple(config_problems))
    return report


async def build_access_report(desired: DesiredState, config_problems: list[Problem],
                              target: Target, now: datetime | None,
                              expiring_within: timedelta | None = None) -> AccessReport:
    """Open the target, read (the same reads as a plan), plan and sort into the access report
    at the target's clock (`now` pins it); `expiring_within` defaults to the settings'
    `report.expiring_within`. Config problems come first. Raises `GraphError`."""
    async with open_backend(target, clock=clock_for(now)) as backend:
        at = backend.clock.now().replace(microsecond=0)
        resolution, live = await read_state(desired, backend)
    the_plan = plan(desired, resolution, live, at)
    if config_problems:
        the_plan = replace(the_plan, problems=tuple(config_problems) + the_plan.problems)
    window = expiring_within or desired.settings.report_expiring_within
    return build_report(desired, resolution, live, the_plan, at, window)
