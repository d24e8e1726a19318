"""Sequences of the commands that write or report: apply (one-run or from a saved plan).

The CLI stays thin: it parses options and prints; this module opens the target, plans,
checks a saved plan, executes, and returns values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from reconciler.apply.executor import (
    ApplyReport,
    AuditLog,
    ChangeResult,
    execute,
)
from reconciler.apply.saved import stale_reason
from reconciler.clock import FixedClock
from reconciler.desired.model import DesiredState
from reconciler.desired.select import Scope
from reconciler.pipeline import clock_for, make_plan
from reconciler.plan.changes import Plan
from reconciler.targets import Target, open_backend


class Observer(Protocol):
    """Watches an apply run (the CLI's progress display)."""

    def started(self, plan: Plan) -> None: ...

    def result(self, result: ChangeResult) -> None: ...

    async def wait(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class ApplyRun:
    """What an apply run did: the plan it executed and the report (or a refusal)."""

    plan: Plan
    report: ApplyReport


def missing_write_permissions(granted: frozenset[str], plan: Plan) -> list[str]:
    """The ReadWrite application permissions the plan's writes need that `granted` lacks
    (graph-pim-reference.md section 5)."""
    from reconciler.graph.permissions import missing_policy_permission
    from reconciler.graph.permissions import missing_write_permissions as needed

    kinds = {c.kind for c in plan.changes}
    missing = list(needed(granted, kinds)) if kinds else []
    if plan.policy_changes:
        missing += missing_policy_permission(granted)
    return missing


async def run_apply(
    desired: DesiredState,
    target: Target,
    now_option: datetime | None,
    *,
    saved: Plan | None,
    allow_removals: int | None,
    wait_deferred: timedelta | None,
    max_plan_age: timedelta,
    confirm: Callable[[Plan], Awaitable[bool] | bool] | None,
    audit: AuditLog | None,
    observer: Observer | None = None,
    scope: Scope | None = None,
) -> ApplyRun:
    """Plan (or re-check a saved plan), confirm, execute, and save emulator state.

    `confirm`, when given, is asked with the plan before anything is written; a False answer
    refuses the run. `scope` (`--only` / `--shard`, or a saved plan's own) narrows the plan
    to those groups. Raises `GraphError` when the tenant cannot be read, `SelectError` for an
    `--only` glob that matches nothing.
    """
    async with open_backend(target, clock=clock_for(now_option), save_state=True) as backend:
        clock = backend.clock
        fresh = await make_plan(desired, backend, clock.now(), allow_removals=allow_removals,
                                scope=scope)
        the_plan = fresh
        if saved is not None:
            reason = stale_reason(saved, fresh, desired.digest, clock.now(), max_plan_age)
            if reason:
                return ApplyRun(saved, ApplyReport((), refused=reason))
            the_plan = saved
        if not the_plan.changes and not the_plan.policy_changes and not the_plan.errors:
            return ApplyRun(the_plan, ApplyReport(()))
        if confirm is not None and not the_plan.errors:
            answer = confirm(the_plan)
            if not isinstance(answer, bool):
                answer = await answer
            if not answer:
                return ApplyRun(the_plan, ApplyReport((), refused="not confirmed"))

        async def sleep(seconds: float) -> None:
            if isinstance(clock, FixedClock):  # a pinned clock: waiting means moving it
                clock.advance(timedelta(seconds=seconds))
            elif observer is not None:
                await observer.wait(seconds)
            else:
                await asyncio.sleep(seconds)

        if observer is not None:
            observer.started(the_plan)

        report = await execute(
            the_plan,
            backend,
            clock,
            wait_deferred=wait_deferred,
            sleep=sleep,
            on_result=observer.result if observer else None,
            audit=audit,
            allow_removals=allow_removals,
            missing_permissions=missing_write_permissions,
        )
        return ApplyRun(the_plan, report)

