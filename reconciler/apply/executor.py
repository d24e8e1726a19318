"""Apply: carry out a plan's changes through the Graph adapter, safely, and report each one.

Never does more than the plan says: a plan with errors is refused whole; each change re-checks
PIM's five-minute rule against the clock just before it is sent; deferred changes are reported
(or waited for, within a bound); each write is verified by the adapter before it counts; a
failed change does not stop independent ones; a fatal error (authorisation, throttling
deadline) stops the run cleanly and reports the rest as skipped. Changes run in the plan's
phases (creates and renewals, then updates, then removals), each phase with bounded
concurrency, and are reported in plan order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from reconciler.clock import Clock
from reconciler.durations import format_instant
from reconciler.graph.errors import GraphError
from reconciler.graph.policy_writer import PolicyWriteResult
from reconciler.graph.writer import WriteResult
from reconciler.plan.changes import Action, Change, Plan, PolicyChange
from reconciler.plan.policies import ADMIN_RULES
from reconciler.problems import Code

FATAL_STATUSES = frozenset({401, 403})
DEFAULT_CONCURRENCY = 8


class Outcome(StrEnum):
    APPLIED = "applied"
    DEFERRED = "deferred"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What happened to one change. `graph_code` / `request_id` come from Graph on failure."""

    change: Change
    outcome: Outcome
    message: str = ""
    request_id: str | None = None
    graph_code: str | None = None
    at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.change
        return {
            **_outcome_fields(self),
            "request_id": self.request_id,
            "action": str(c.action),
            "graph_action": str(c.graph_action),
            "group": c.group,
            "group_id": c.group_id,
            "access": str(c.access),
            "kind": str(c.kind),
            "principal": c.principal,
            "principal_id": c.principal_id,
            "not_before": format_instant(c.not_before) if c.not_before else None,
        }


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """What happened to one policy rule change. `graph_code` is Graph's error code, or
    `policy_not_applied` when the PATCH was accepted but the rule reads back different."""

    change: PolicyChange
    outcome: Outcome
    message: str = ""
    graph_code: str | None = None
    at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.change
        return {
            **_outcome_fields(self),
            "policy_rule": c.rule,
            "group": c.group,
            "group_id": c.group_id,
            "access": str(c.access),
            "before": c.before,
            "after": c.after,
            "loosens": c.loosens,
        }


def _outcome_fields(result: ChangeResult | PolicyResult) -> dict[str, Any]:
    return {"outcome": str(result.outcome), "message": result.message,
            "graph_code": result.graph_code,
            "at": format_instant(result.at) if result.at else None}


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """Per-change results in plan order (policy rules first, then assignments), or `refused`
    with the reason nothing was written."""

    results: tuple[ChangeResult, ...]
    refused: str | None = None
    policy_results: tuple[PolicyResult, ...] = ()

    def count(self, outcome: Outcome) -> int:
        return (sum(1 for r in self.results if r.outcome is outcome)
                + sum(1 for r in self.policy_results if r.outcome is outcome))

    def exit_code(self) -> int:
        """format.md: 0 converged, 1 a change failed or the run was refused, 3 converged
        except deferred changes."""
        if self.refused or self.count(Outcome.FAILED) or self.count(Outcome.SKIPPED):
            return 1
        return 3 if self.count(Outcome.DEFERRED) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "refused": self.refused,
            "summary": {str(o): self.count(o) for o in Outcome},
            "policy_results": [r.to_dict() for r in self.policy_results],
            "results": [r.to_dict() for r in self.results],
        }


class Writer(Protocol):
    """The narrow part of `GraphBackend` that apply needs. A writer that also has
    `submit_many(changes) -> list[WriteResult]` (`GraphBackend` does: `$batch` envelopes)
    gets each phase's changes at once; otherwise they go one by one, `concurrency` at a time."""

    async def submit(self, change: Change) -> WriteResult: ...

    async def update_policy(self, change: PolicyChange) -> PolicyWriteResult: ...

    async def granted_permissions(self) -> frozenset[str] | None: ...


Sleep = Callable[[float], Awaitable[None]]
Progress = Callable[[ChangeResult], None]


class AuditLog:
    """Append-only JSONL: one line per change outcome (time, change, request id, outcome)."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)

    def write(self, result: ChangeResult | PolicyResult) -> None:
        with self._path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(result.to_dict(), sort_keys=True) + "\n")
            handle.flush()


def refusal(plan: Plan, allow_removals: int | None = None) -> str | None:
    """Why a plan must not be applied at all, or None. Errors refuse the plan whole; the safety
    guards alone are passed when `allow_removals` names the exact number of removals."""
    errors = list(plan.errors)
    if allow_removals is not None and allow_removals == len(plan.removals):
        errors = [p for p in errors if p not in plan.safety_errors]
    if errors:
        codes = sorted({str(p.code) for p in errors})
        hint = ""
        if any(p in plan.safety_errors for p in errors):
            hint = f" (pass --allow-removals {len(plan.removals)} to pass the safety guards)"
        return f"the plan has {len(errors)} error(s) ({', '.join(codes)}); nothing written{hint}"
    return None


async def execute(
    plan: Plan,
    writer: Writer,
    clock: Clock,
    *,
    wait_deferred: timedelta | None = None,
    sleep: Sleep = asyncio.sleep,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_result: Progress | None = None,
    audit: AuditLog | None = None,
    missing_permissions: Callable[[frozenset[str], Plan], list[str]] | None = None,
    allow_removals: int | None = None,
) -> ApplyReport:
    """Apply `plan`'s changes through `writer`.

    `wait_deferred` bounds how long to wait for deferred changes (None: report them as
    deferred). `sleep` is injected so tests drive a fake clock. Never raises for Graph
    failures: they are results.
    """
    reason = refusal(plan, allow_removals)
    if reason:
        return ApplyReport((), refused=reason)
    if missing_permissions is not None:
        granted = await writer.granted_permissions()
        if granted is not None:
            missing = missing_permissions(granted, plan)
            if missing:
                return ApplyReport(
                    (),
                    refused="the token lacks the Graph application "
                    f"permission(s) {', '.join(missing)}; nothing written",
                )

    started = clock.now()
    deadline = started + wait_deferred if wait_deferred else None
    results: dict[int, ChangeResult] = {}
    stop: list[str] = []
    semaphore = asyncio.Semaphore(max(1, concurrency))

    def record(index: int, result: ChangeResult) -> None:
        results[index] = result
        if audit:
            audit.write(result)
        if on_result:
            on_result(result)

    async def run_one(index: int, change: Change) -> None:
        async with semaphore:
            if stop:
                record(
                    index,
                    ChangeResult(
                        change,
                        Outcome.SKIPPED,
                        f"not sent: the run stopped ({stop[0]})",
                        at=clock.now(),
                    ),
                )
                return
            record(index, await _send(writer, change, clock, stop))

    # policy rules first: the assignments were judged against the policy as it will be
    policy_results = await _apply_policies(plan, writer, clock, audit)
    failed_rules = {(r.change.group_id, r.change.access, r.change.rule)
                    for r in policy_results if r.outcome is not Outcome.APPLIED}

    indexed = list(enumerate(plan.changes))
    due: list[tuple[int, Change]] = []
    waiting: list[tuple[int, Change]] = []
    for index, change in indexed:
        blocked = [rule for rule in ADMIN_RULES[change.kind]
                   if (change.group_id, change.access, rule) in failed_rules]
        if blocked:
            record(index, ChangeResult(
                change, Outcome.SKIPPED, f"not sent: it needs the {change.access} policy "
                f"change to {blocked[0]}, which failed", at=clock.now()))
            continue
        if change.not_before and change.not_before > clock.now():
            if deadline and change.not_before <= deadline:
                waiting.append((index, change))
            else:
                record(
                    index,
                    ChangeResult(
                        change,
                        Outcome.DEFERRED,
                        f"PIM refuses it until {format_instant(change.not_before)} (five-minute "
                        "rule); the next run sends it",
                        at=clock.now(),
                    ),
                )
        else:
            due.append((index, change))

    submit_many = getattr(writer, "submit_many", None)

    async def run_batched(batch: list[tuple[int, Change]]) -> None:
        if stop:
            for index, change in batch:
                record(index, ChangeResult(change, Outcome.SKIPPED,
                                           f"not sent: the run stopped ({stop[0]})",
                                           at=clock.now()))
            return
        ready = []
        for index, change in batch:  # re-check just before sending
            if change.not_before and change.not_before > clock.now():
                record(index, ChangeResult(change, Outcome.DEFERRED,
                                           f"not before {format_instant(change.not_before)}",
                                           at=clock.now()))
            else:
                ready.append((index, change))
        if not ready:
            return
        assert submit_many is not None
        try:
            written = list(await submit_many([c for _, c in ready]))
        except GraphError as exc:
            written = [WriteResult("failed", error=exc)] * len(ready)
        for (index, change), result in zip(ready, written, strict=True):
            record(index, _result_of(change, result, clock, stop))

    for phase in (Action.CREATE, Action.UPDATE, Action.REMOVE):
        batch = [
            (i, c)
            for i, c in due
            if c.action is phase or (phase is Action.CREATE and c.action is Action.RENEW)
        ]
        if submit_many is not None and batch:
            await run_batched(batch)
        else:
            await asyncio.gather(*(run_one(i, c) for i, c in batch))

    for index, change in sorted(waiting, key=lambda item: item[1].not_before or started):
        assert change.not_before is not None
        remaining = (change.not_before - clock.now()).total_seconds()
        if remaining > 0 and not stop:
            await sleep(remaining + 1)
        await run_one(index, change)

    return ApplyReport(tuple(results[i] for i in sorted(results)),
                       policy_results=policy_results)


async def _apply_policies(plan: Plan, writer: Writer, clock: Clock, audit: AuditLog | None
                          ) -> tuple[PolicyResult, ...]:
    """Write the plan's policy rule changes one by one (in plan order), each read back."""
    out: list[PolicyResult] = []
    for change in plan.policy_changes:
        try:
            written = await writer.update_policy(change)
        except GraphError as exc:
            written = PolicyWriteResult("failed", error=exc)
        if written.outcome == "applied":
            result = PolicyResult(change, Outcome.APPLIED, "verified (read back)", at=clock.now())
        elif written.outcome == "not_applied":
            fields = ", ".join(f"{k}: sent {sent!r}, read {read!r}"
                               for k, (sent, read) in sorted(written.mismatched.items()))
            result = PolicyResult(change, Outcome.FAILED,
                                  f"accepted but not applied: the rule reads back different "
                                  f"({fields}); the next run re-checks it",
                                  graph_code=str(Code.POLICY_NOT_APPLIED), at=clock.now())
        else:
            error = written.error
            result = PolicyResult(change, Outcome.FAILED, str(error) if error else "failed",
                                  graph_code=error.code if error else None, at=clock.now())
        if audit:
            audit.write(result)
        out.append(result)
    return tuple(out)


async def _send(writer: Writer, change: Change, clock: Clock, stop: list[str]) -> ChangeResult:
    """Send one change; Graph failures become results. A fatal failure (authorisation,
    throttling past the writer's deadline) is recorded in `stop` so the rest is skipped."""
    if change.not_before and change.not_before > clock.now():  # re-check just before sending
        return ChangeResult(change, Outcome.DEFERRED,
                            f"not before {format_instant(change.not_before)}", at=clock.now())
    try:
        result: WriteResult = await writer.submit(change)
    except GraphError as exc:
        result = WriteResult("failed", error=exc)
    return _result_of(change, result, clock, stop)


def _result_of(change: Change, result: WriteResult, clock: Clock, stop: list[str]
               ) -> ChangeResult:
    """The outcome of a written change; a fatal failure (authorisation, throttling past the
    writer's deadline) is recorded in `stop` so the rest is skipped."""
    if result.outcome == "applied" and result.verified:
        return ChangeResult(change, Outcome.APPLIED, "verified", request_id=result.request_id,
                            at=clock.now())
    if result.outcome == "applied":
        # Graph accepted it, but the schedule never showed the intended lifetime within the
        # verification window: it does not count as done; the next run plans from what is live.
        return ChangeResult(
            change, Outcome.FAILED,
            f"accepted (status {result.status or 'unknown'}) but not visible with the intended "
            "lifetime within the verification window; the next run re-checks it",
            request_id=result.request_id, graph_code="NotVerified", at=clock.now())
    error = result.error
    if (error is not None and error.code == "ActiveDurationTooShort"
            and change.action is not Action.CREATE):
        # PIM's five-minute floor counted from a moment the plan did not see (e.g. an update
        # just made by hand, if Graph counts from updates: reference 3.1 leaves it open): not a
        # failure of the change; the next run sends it.
        return ChangeResult(
            change, Outcome.DEFERRED,
            "PIM refused it within five minutes of the assignment being made or changed "
            "(ActiveDurationTooShort); the next run sends it",
            request_id=result.request_id or error.request_id,
            graph_code=error.code, at=clock.now())
    if error is not None and (error.status in FATAL_STATUSES or error.status == 429):
        stop.append(f"{error.code or error.status}")
    return ChangeResult(
        change, Outcome.FAILED,
        str(error) if error else f"request status {result.status}",
        request_id=result.request_id or (error.request_id if error else None),
        graph_code=error.code if error else None, at=clock.now())
