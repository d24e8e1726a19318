"""Drift: a plan, classified for a report of how live PIM state departs from the files.

Pure: no I/O, no clock reads (`now` is a parameter). Input is what `plan` already had (the
desired state, the resolution and the live state) plus the `Plan` made from them; the report
never disagrees with the plan, it only sorts it for a reader.

Classes (each plan change appears in exactly one of the first five; each plan policy change
in `policy_changed`):

- `out_of_band`: admin-made direct assignments nobody declared, in the managed sections of
  authoritative groups: the plan's removals. An additive group's file says undeclared rows
  are acceptable, so they are information (`undeclared`), not drift: a drift issue must not
  be reopened on every run for what the files allow;
- `missing`: declared, not live: the plan's creates;
- `lifetime_changed`: live lifetime differs from the declared one: the plan's updates;
- `renewal_due`: rolling (`duration`) entries inside the renewal window: the plan's renewals;
- `pending_deferrals`: changes PIM's five-minute rule holds back (`not_before` set), whatever
  their action (a deferred removal is listed here, not under `out_of_band`);
- `policy_changed`: managed policy fields (those the files declare) whose live value differs:
  the plan's policy changes, one per (group, access, rule id), `live` -> `declared` field by
  field; `live_looser` when the live value is weaker than the file (someone relaxed control by
  hand: the change that would restore the file tightens). Fields the files do not declare
  are never drift (format.md "Only what is written is managed");
- `expiring_soon`: managed live rows (direct, admin-made, in a managed section, not lapsed,
  not removed by the plan) whose end *once the plan is applied* falls within the window: the
  declared `until` where the plan updates to it, the live end where the plan leaves the row
  alone. A rolling entry the plan renews is not expiring. Reported, but **not drift**: an
  assignment running out as declared is the files working as intended;
- `information`: the plan's information rows (activations in progress, inherited rows, an
  additive group's undeclared rows, next renewal lengths, withheld removals).

Exit code (format.md "Exit codes"): 1 when the plan has errors; 2 when any of out_of_band,
missing, lifetime_changed, renewal_due, pending_deferrals or policy_changed is non-empty; 0
otherwise (expiring_soon and information alone exit 0). The safety guards (`too_many_removals`,
`empty_desired_set`) stop `apply`, not a read-only report: in a drift report they are
warnings, and many out-of-band assignments are drift (2), not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from reconciler.desired.model import (
    Access,
    DesiredGroup,
    DesiredState,
    Kind,
    Location,
    PrincipalType,
)
from reconciler.desired.policy import field_from_json
from reconciler.durations import format_duration, format_instant, relative
from reconciler.live.model import LiveGroup, LiveSchedule, LiveState, Resolution
from reconciler.plan.changes import Action, Change, Info, Plan, PolicyChange, json_fields
from reconciler.plan.policies import loosens
from reconciler.plan.scope import PlanScope, declared_locations, managed_groups
from reconciler.problems import Problem, Severity

DRIFT_FORMAT_VERSION = 1
EXIT_NO_DRIFT, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2


class DriftClass(StrEnum):
    OUT_OF_BAND = "out_of_band"
    MISSING = "missing"
    LIFETIME_CHANGED = "lifetime_changed"
    RENEWAL_DUE = "renewal_due"
    PENDING_DEFERRALS = "pending_deferrals"
    POLICY_CHANGED = "policy_changed"
    EXPIRING_SOON = "expiring_soon"


DRIFT_CLASSES = (
    DriftClass.OUT_OF_BAND,
    DriftClass.MISSING,
    DriftClass.LIFETIME_CHANGED,
    DriftClass.RENEWAL_DUE,
    DriftClass.PENDING_DEFERRALS,
    DriftClass.POLICY_CHANGED,
)
"""The classes that make the exit code 2; `expiring_soon` is reported but is not drift."""


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One assignment that departs from the files (or expires soon).

    `live` says whether a live schedule exists; `live_end` is its end (UTC, None with
    `live_permanent` True for no expiration). `action` is the plan's change for it (None when
    the plan changes nothing, e.g. an additive group's undeclared row), `end`/`permanent` the
    lifetime after that change (for rows the plan leaves alone: the live lifetime).
    `not_before` is when a deferred change may be sent (UTC). `file`/`line` locate the
    declaration (or the group file for undeclared rows).
    """

    group_id: str
    group: str
    access: Access
    kind: Kind
    principal_id: str
    principal: str
    principal_type: PrincipalType
    detail: str
    action: Action | None = None
    live: bool = True
    live_end: datetime | None = None
    live_permanent: bool = False
    end: datetime | None = None
    permanent: bool = False
    duration: str | None = None
    not_before: datetime | None = None
    file: str | None = None
    line: int | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.group.lower(),
            self.group_id,
            self.access,
            self.kind,
            self.principal.lower(),
            self.principal_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return json_fields(self)


@dataclass(frozen=True, slots=True)
class PolicyDriftItem:
    """One rule of a group's role management policy whose managed fields differ from the files.

    `live` / `declared` hold the differing fields only, in the plan's JSON form
    (`reconciler.desired.policy.field_to_json`: durations ISO 8601, sets as sorted lists,
    approvers `{"type", "id"}`); `names` gives approver display names by id. `live_looser` is
    True when a live value is weaker than the declared one (format.md's loosening, seen from
    the file). `file`/`line` locate the declaration.
    """

    group_id: str
    group: str
    access: Access
    rule: str
    live: dict[str, Any]
    declared: dict[str, Any]
    live_looser: bool
    detail: str
    names: dict[str, str]
    file: str | None = None
    line: int | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return self.source.sort_key()

    @property
    def source(self) -> PolicyChange:
        """The plan's policy change that would restore the file (live -> declared)."""
        return PolicyChange(self.group_id, self.group, self.access, self.rule, self.live,
                            self.declared, loosens=False, reason=self.detail,
                            names=self.names, file=self.file, line=self.line)

    def to_dict(self) -> dict[str, Any]:
        return json_fields(self)

    @classmethod
    def from_change(cls, change: PolicyChange) -> PolicyDriftItem:
        """The drift item of a plan's policy change (its `before` is live, `after` declared)."""
        live_looser = any(
            loosens(name, field_from_json(name, change.after.get(name)),
                    field_from_json(name, change.before.get(name)))
            for name in change.after
        )
        return cls(change.group_id, change.group, change.access, change.rule,
                   dict(change.before), dict(change.after), live_looser, change.reason,
                   dict(change.names), change.file, change.line)


@dataclass(frozen=True)
class DriftReport:
    """A drift report at `generated_at` (UTC) with an `expiring_within` window.

    Every tuple of items is sorted by group, access, kind, principal. `scope` is the plan's
    (`Plan.scope`): what a `--only` / `--shard` run covers, None for the whole directory.
    """

    generated_at: datetime
    expiring_within: timedelta
    out_of_band: tuple[DriftItem, ...]
    missing: tuple[DriftItem, ...]
    lifetime_changed: tuple[DriftItem, ...]
    renewal_due: tuple[DriftItem, ...]
    pending_deferrals: tuple[DriftItem, ...]
    policy_changed: tuple[PolicyDriftItem, ...]
    expiring_soon: tuple[DriftItem, ...]
    information: tuple[Info, ...]
    problems: tuple[Problem, ...]
    live_fingerprint: str = ""
    desired_digest: str = ""
    scope: PlanScope | None = None

    def items(self, cls: DriftClass) -> tuple[DriftItem, ...] | tuple[PolicyDriftItem, ...]:
        return getattr(self, str(cls))

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def has_drift(self) -> bool:
        return any(self.items(c) for c in DRIFT_CLASSES)

    def counts(self) -> dict[str, int]:
        """Items per class, plus `information`, `errors` and `warnings`."""
        out = {str(c): len(self.items(c)) for c in DriftClass}
        out["information"] = len(self.information)
        out["errors"] = len(self.errors)
        out["warnings"] = sum(1 for p in self.problems if p.severity is Severity.WARNING)
        return out

    def exit_code(self) -> int:
        """1 errors; 2 drift (not counting expiring_soon); 0 otherwise."""
        if self.errors:
            return EXIT_ERROR
        return EXIT_DRIFT if self.has_drift else EXIT_NO_DRIFT

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; `schemas/drift.schema.json` describes it. `scope` (the plan's
        form, `PlanScope.to_dict`) only when the run was scoped."""
        scope = {"scope": self.scope.to_dict()} if self.scope else {}
        return {
            "format_version": DRIFT_FORMAT_VERSION,
            "generated_at": format_instant(self.generated_at),
            "expiring_within": format_duration(self.expiring_within),
            "exit_code": self.exit_code(),
            "drift": self.has_drift,
            "live_fingerprint": self.live_fingerprint,
            "desired_digest": self.desired_digest,
            "counts": self.counts(),
            **{str(c): [i.to_dict() for i in self.items(c)] for c in DriftClass},
            "information": [i.to_dict() for i in self.information],
            "problems": [p.to_dict() for p in self.problems],
            **scope,
        }


def classify(
    desired: DesiredState,
    resolution: Resolution,
    live: LiveState,
    plan: Plan,
    now: datetime,
    expiring_within: timedelta,
) -> DriftReport:
    """Sort `plan` (made from `desired`, `resolution`, `live` at `now`, UTC) into drift
    classes; `expiring_within` is the window for `expiring_soon` (e.g. 14 days). The
    report's `scope` is the plan's.

    Never raises for bad input: a plan with errors gives a report whose `exit_code()` is 1.
    """
    buckets: dict[DriftClass, list[Any]] = {c: [] for c in DriftClass}
    buckets[DriftClass.POLICY_CHANGED] = [PolicyDriftItem.from_change(c)
                                          for c in plan.policy_changes]
    by_action = {
        Action.REMOVE: DriftClass.OUT_OF_BAND,
        Action.CREATE: DriftClass.MISSING,
        Action.UPDATE: DriftClass.LIFETIME_CHANGED,
        Action.RENEW: DriftClass.RENEWAL_DUE,
    }
    changes: dict[tuple[str, str, str, str], Change] = {}
    for change in plan.changes:
        changes[change.identity] = change
        cls = DriftClass.PENDING_DEFERRALS if change.deferred else by_action[change.action]
        buckets[cls].append(_from_change(change))

    horizon = now + expiring_within
    for group, live_group in managed_groups(desired, resolution):
        declared = declared_locations(group, resolution)
        for row in _managed_rows(group, live_group, live, now):
            change = changes.get((row.group_id, str(row.access), str(row.kind), row.principal_id))
            if change is not None and change.action is Action.REMOVE:
                continue
            end = row.end if change is None else (None if change.permanent else change.end)
            if end is not None and now < end <= horizon:
                where = declared.get((row.access, row.kind, row.principal_id), group.location)
                buckets[DriftClass.EXPIRING_SOON].append(
                    _expiring(row, live_group, live, end, change, now, where)
                )

    problems = tuple(
        replace(p, severity=Severity.WARNING) if p in plan.safety_errors else p
        for p in plan.problems
    )
    return DriftReport(
        generated_at=now,
        expiring_within=expiring_within,
        **{str(c): tuple(sorted(items, key=lambda i: i.sort_key()))
           for c, items in buckets.items()},
        information=plan.info,
        problems=problems,
        live_fingerprint=plan.live_fingerprint,
        desired_digest=plan.desired_digest,
        scope=plan.scope,
    )


def _from_change(change: Change) -> DriftItem:
    return DriftItem(
        group_id=change.group_id,
        group=change.group,
        access=change.access,
        kind=change.kind,
        principal_id=change.principal_id,
        principal=change.principal,
        principal_type=change.principal_type,
        detail=change.reason,
        action=change.action,
        live=change.action is not Action.CREATE,
        live_end=change.old_end,
        live_permanent=change.old_permanent,
        end=change.end,
        permanent=change.permanent,
        duration=change.duration,
        not_before=change.not_before,
        file=change.file,
        line=change.line,
    )


def _managed_rows(
    group: DesiredGroup, live_group: LiveGroup, live: LiveState, now: datetime
) -> list[LiveSchedule]:
    """Admin-made direct rows of the group, in its managed sections, not lapsed."""
    return [
        row
        for row in live.schedules
        if row.group_id == live_group.id
        and row.managed
        and (row.access, row.kind) in group.managed
        and (row.end is None or row.end > now)
    ]


def _principal(live: LiveState, principal_id: str) -> tuple[str, PrincipalType]:
    obj = live.principals.get(principal_id)
    return (obj.name, obj.type) if obj else (principal_id, PrincipalType.ID)


def _expiring(
    row: LiveSchedule,
    live_group: LiveGroup,
    live: LiveState,
    end: datetime,
    change: Change | None,
    now: datetime,
    where: Location,
) -> DriftItem:
    name, ptype = _principal(live, row.principal_id)
    left = relative(end, now)
    if change is None:
        detail = f"ends {format_instant(end)} ({left}); nothing renews it"
    else:
        detail = (
            f"ends {format_instant(end)} ({left}) once the planned {change.action} is applied"
        )
    return DriftItem(
        group_id=live_group.id,
        group=live_group.display_name,
        access=row.access,
        kind=row.kind,
        principal_id=row.principal_id,
        principal=name,
        principal_type=ptype,
        detail=detail,
        action=change.action if change else None,
        live=True,
        live_end=row.end,
        live_permanent=row.end is None,
        end=end,
        permanent=False,
        duration=change.duration if change else None,
        not_before=change.not_before if change else None,
        file=where.file,
        line=where.line,
    )


__all__ = ["DRIFT_CLASSES", "DriftClass", "DriftItem", "DriftReport", "PolicyDriftItem",
           "classify"]
