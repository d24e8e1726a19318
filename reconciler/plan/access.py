"""The access report: who can become what in each declared group, until when, in which state,
and under which PIM settings. A plan, its inputs and the clock -> `AccessReport`.

Pure: no I/O, no clock reads. Like `reconciler.plan.drift` it only sorts what the plan already
decided, so the page never disagrees with `plan`. One row per live schedule of a declared
group that resolved to one manageable group (lapsed rows left out: PIM removes them), plus
one row per planned create. States:

- `managed`: declared and in sync (a rolling entry due for renewal stays `managed`, with the
  renewal in `detail`);
- `drifted`: declared, and the live lifetime differs (the plan updates it);
- `pending`: declared, not live yet (the plan creates it, now or once PIM's five-minute rule
  allows);
- `unmanaged`: live and not declared: an admin-made row in a section the file does not
  manage, in an additive group, or that the plan removes; and rows inherited through
  membership of another group (never managed);
- `activation`: a principal's own just-in-time activation (information, never managed).

`expiring` flags a live row whose end falls within `expiring_within` of `now`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from reconciler.desired.model import Access, DesiredPolicy, DesiredState, Location, PrincipalType
from reconciler.desired.policy import (
    APPROVAL_ACTIVATION,
    AUTH_CONTEXT_ACTIVATION,
    ENABLEMENT_ACTIVATION,
    ENABLEMENT_ASSIGNMENT,
    ENABLEMENT_ELIGIBILITY,
    EXPIRATION_ACTIVATION,
    EXPIRATION_ASSIGNMENT,
    EXPIRATION_ELIGIBILITY,
    field_to_json,
)
from reconciler.durations import format_duration, format_instant
from reconciler.live.model import (
    AssignmentType,
    LiveGroup,
    LiveSchedule,
    LiveState,
    MemberType,
    Resolution,
)
from reconciler.plan.changes import Action, Change, Plan, json_fields
from reconciler.plan.scope import PlanScope, declared_locations, managed_groups
from reconciler.problems import Problem

REPORT_FORMAT_VERSION = 1
TIMELINE_DAYS = 91
"""The expiry timeline covers 13 weeks from the report's clock."""


class State(StrEnum):
    MANAGED = "managed"
    DRIFTED = "drifted"
    PENDING = "pending"
    UNMANAGED = "unmanaged"
    ACTIVATION = "activation"


@dataclass(frozen=True, slots=True)
class AccessRow:
    """One principal's access to one group: `kind` is `eligible`, `active` (admin-made or
    inherited) or `activation`. `start`/`end` are UTC (`end` None with `permanent` True: no
    expiration); for a `pending` row they are the declared ones. `file`/`line` locate the
    declaration (None for undeclared rows)."""

    group_id: str
    group: str
    access: Access
    kind: str
    principal_id: str
    principal: str
    principal_type: PrincipalType
    upn: str | None
    start: datetime | None
    end: datetime | None
    permanent: bool
    state: State
    expiring: bool
    detail: str
    file: str | None = None
    line: int | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return (self.group.lower(), self.group_id, self.access, self.kind,
                self.principal.lower(), self.principal_id)

    def to_dict(self) -> dict[str, Any]:
        return json_fields(self)


@dataclass(frozen=True, slots=True)
class PolicySummary:
    """One access's live role management policy in the terms a reviewer asks about:
    maxima as ISO 8601 durations (None: no maximum read), `require` values (`mfa`,
    `justification`, `ticket`), approvers by name. `declared` says whether the files manage
    any field of it; `pending_rules` lists the rule ids the plan changes."""

    access: Access
    activation_max: str | None
    activation_require: tuple[str, ...]
    approval_required: bool
    approvers: tuple[str, ...]
    authentication_context: str | None
    eligible_permanent: bool
    eligible_max: str | None
    eligible_require: tuple[str, ...]
    active_permanent: bool
    active_max: str | None
    active_require: tuple[str, ...]
    declared: bool
    template: str | None
    pending_rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return json_fields(self)


@dataclass(frozen=True, slots=True)
class GroupSection:
    """A declared group as found: `rows` sorted by access, kind, principal; `policies` one per
    access read (member first). `file` is the group's file; `problem` why a declared group
    has no rows (not found, ambiguous, not manageable)."""

    group: str
    group_id: str | None
    file: str
    line: int
    mode: str
    rows: tuple[AccessRow, ...]
    policies: tuple[PolicySummary, ...]
    role_assignable: bool = False
    problem: str | None = None


@dataclass(frozen=True)
class AccessReport:
    """The report at `generated_at` (UTC): groups in file order by name, `timeline` the number
    of live ends in each week from `generated_at` (13 weeks). `scope` is the plan's
    (`Plan.scope`): what a `--only` / `--shard` run covers, None for the whole directory."""

    generated_at: datetime
    tenant: str | None
    expiring_within: timedelta
    groups: tuple[GroupSection, ...]
    timeline: tuple[int, ...]
    problems: tuple[Problem, ...]
    scope: PlanScope | None = None

    @property
    def rows(self) -> tuple[AccessRow, ...]:
        return tuple(r for g in self.groups for r in g.rows)

    def counts(self) -> dict[str, int]:
        """groups, principals, eligible, active (live, not activations), activation,
        expiring, and rows per state."""
        rows = self.rows
        live = [r for r in rows if r.state is not State.PENDING]
        out = {
            "groups": len(self.groups),
            "principals": len({r.principal_id for r in rows}),
            "eligible": sum(1 for r in live if r.kind == "eligible"),
            "active": sum(1 for r in live if r.kind == "active"),
            "expiring": sum(1 for r in rows if r.expiring),
        }
        by_state = Counter(r.state for r in rows)
        out.update({str(s): by_state[s] for s in State})
        out["errors"] = sum(1 for p in self.problems if p.is_error)
        return out

    def by_principal(self) -> list[tuple[str, str, tuple[AccessRow, ...]]]:
        """(principal id, name, rows) for every principal, by name: what each can become."""
        seen: dict[str, list[AccessRow]] = {}
        for row in self.rows:
            seen.setdefault(row.principal_id, []).append(row)
        return sorted(((pid, rows[0].principal, tuple(rows)) for pid, rows in seen.items()),
                      key=lambda t: (t[1].lower(), t[0]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; `schemas/access-report.schema.json` describes it. `scope` (the
        plan's form, `PlanScope.to_dict`) only when the run was scoped."""
        scope = {"scope": self.scope.to_dict()} if self.scope else {}
        return {
            "format_version": REPORT_FORMAT_VERSION,
            "generated_at": format_instant(self.generated_at),
            "tenant": self.tenant,
            "expiring_within": format_duration(self.expiring_within),
            "counts": self.counts(),
            "timeline": [{"week_start": format_instant(self.generated_at + timedelta(weeks=i)),
                          "ends": n} for i, n in enumerate(self.timeline)],
            "groups": [{
                "group": g.group, "group_id": g.group_id, "file": g.file, "line": g.line,
                "mode": g.mode, "role_assignable": g.role_assignable, "problem": g.problem,
                "policies": [p.to_dict() for p in g.policies],
            } for g in self.groups],
            "rows": [r.to_dict() for r in self.rows],
            "problems": [p.to_dict() for p in self.problems],
            **scope,
        }


def build_report(desired: DesiredState, resolution: Resolution, live: LiveState, plan: Plan,
                 now: datetime, expiring_within: timedelta) -> AccessReport:
    """Sort `plan` (made from `desired`, `resolution`, `live` at `now`, UTC) and the live rows
    into an `AccessReport`; `expiring_within` is the window of the `expiring` flag. The
    report's `scope` is the plan's."""
    changes = {c.identity: c for c in plan.changes}
    managed = dict((g.group, lg) for g, lg in managed_groups(desired, resolution))
    sections = []
    for group in sorted(desired.groups, key=lambda g: g.group.lower()):
        live_group = managed.get(group.group)
        if live_group is None:
            sections.append(GroupSection(
                group.group, None, group.location.file or "", group.location.line or 1,
                str(group.mode), (), (), problem=_why_missing(group.group, resolution)))
            continue
        declared = declared_locations(group, resolution)
        rows: list[AccessRow] = []
        for row in live.schedules:
            if row.group_id != live_group.id or (row.end is not None and row.end <= now):
                continue
            where = declared.get((row.access, row.kind, row.principal_id))
            change = changes.get((row.group_id, str(row.access), str(row.kind),
                                  row.principal_id)) if row.managed else None
            rows.append(_live_row(row, live_group, live, group.managed, where, change, now,
                                  expiring_within))
        for change in plan.changes:
            if change.group_id == live_group.id and change.action is Action.CREATE:
                rows.append(_pending_row(change, live))
        policies = tuple(
            _summary(live, live_group, access, group.policies, plan)
            for access in Access if (live_group.id, access) in live.policies)
        sections.append(GroupSection(
            group.group, live_group.id, group.location.file or "", group.location.line or 1,
            str(group.mode), tuple(sorted(rows, key=AccessRow.sort_key)), policies,
            role_assignable=live_group.is_assignable_to_role))
    timeline = [0] * (TIMELINE_DAYS // 7)
    for section in sections:
        for row in section.rows:
            if row.state is State.PENDING or row.end is None:
                continue
            week = int((row.end - now) / timedelta(weeks=1))
            if 0 <= week < len(timeline):
                timeline[week] += 1
    return AccessReport(now, desired.settings.tenant, expiring_within, tuple(sections),
                        tuple(timeline), plan.problems, scope=plan.scope)


def _why_missing(name: str, resolution: Resolution) -> str:
    matches = resolution.groups.get(name)
    if matches is None:
        return "not looked up (see problems)"
    if not matches:
        return "no such group in the tenant"
    if len(matches) > 1:
        return f"{len(matches)} groups have this name"
    return f"cannot be managed by PIM for Groups: {matches[0].unmanageable_reason}"


def _principal(live: LiveState, principal_id: str) -> tuple[str, PrincipalType, str | None]:
    obj = live.principals.get(principal_id)
    if obj is None:
        return principal_id, PrincipalType.ID, None
    return obj.name, obj.type, obj.user_principal_name


def _live_row(row: LiveSchedule, live_group: LiveGroup, live: LiveState,
              sections: frozenset, where: Location | None, change: Change | None,
              now: datetime, window: timedelta) -> AccessRow:
    name, ptype, upn = _principal(live, row.principal_id)
    kind = str(row.kind)
    if row.assignment_type is AssignmentType.ACTIVATED:
        state, kind, detail = State.ACTIVATION, "activation", "just-in-time activation"
        where = None
    elif row.member_type is MemberType.GROUP:
        state, detail = State.UNMANAGED, "inherited through membership of another group"
        where = None
    elif (row.access, row.kind) not in sections:
        state, detail = State.UNMANAGED, f"the file does not manage {row.access} {row.kind}"
    elif change is not None and change.action is Action.REMOVE:
        state = State.UNMANAGED
        detail = "not declared; the plan removes it" + _when(change)
    elif where is None:
        state, detail = State.UNMANAGED, "not declared; kept (additive group)"
    elif change is not None and change.action is Action.UPDATE:
        state, detail = State.DRIFTED, change.reason + _when(change)
    elif change is not None and change.action is Action.RENEW:
        state, detail = State.MANAGED, "in sync; renewal due: " + change.reason + _when(change)
    else:
        state, detail = State.MANAGED, "declared and in sync"
    expiring = row.end is not None and now < row.end <= now + window
    return AccessRow(
        live_group.id, live_group.display_name, row.access, kind, row.principal_id, name,
        ptype, upn, row.start, row.end, row.end is None, state, expiring, detail,
        where.file if where else None, where.line if where else None)


def _when(change: Change) -> str:
    if change.not_before is None:
        return ""
    return f" (not before {format_instant(change.not_before)}: PIM's five-minute rule)"


def _pending_row(change: Change, live: LiveState) -> AccessRow:
    _, _, upn = _principal(live, change.principal_id)
    return AccessRow(
        change.group_id, change.group, change.access, str(change.kind), change.principal_id,
        change.principal, change.principal_type, upn, change.start, change.end,
        change.permanent, State.PENDING, False, change.reason + _when(change),
        change.file, change.line)


def _summary(live: LiveState, live_group: LiveGroup, access: Access,
             declared: tuple[DesiredPolicy, ...], plan: Plan) -> PolicySummary:
    settings = live.policies[(live_group.id, access)].settings

    def get(rule: str, name: str) -> Any:
        return field_to_json((settings.get(rule) or {}).get(name))

    own = next((p for p in declared if p.access is access), None)
    approvers = []
    for item in get(APPROVAL_ACTIVATION, "approvers") or []:
        obj = live.principals.get(item["id"])
        approvers.append(f"{obj.name} ({item['type']})" if obj else f"{item['id']} "
                         f"({item['type']})")
    return PolicySummary(
        access=access,
        activation_max=get(EXPIRATION_ACTIVATION, "max_duration"),
        activation_require=tuple(get(ENABLEMENT_ACTIVATION, "require") or ()),
        approval_required=bool(get(APPROVAL_ACTIVATION, "required")),
        approvers=tuple(sorted(approvers, key=str.lower)),
        authentication_context=get(AUTH_CONTEXT_ACTIVATION, "authentication_context"),
        eligible_permanent=bool(get(EXPIRATION_ELIGIBILITY, "permanent")),
        eligible_max=get(EXPIRATION_ELIGIBILITY, "max_duration"),
        eligible_require=tuple(get(ENABLEMENT_ELIGIBILITY, "require") or ()),
        active_permanent=bool(get(EXPIRATION_ASSIGNMENT, "permanent")),
        active_max=get(EXPIRATION_ASSIGNMENT, "max_duration"),
        active_require=tuple(get(ENABLEMENT_ASSIGNMENT, "require") or ()),
        declared=own is not None and bool(own.rules),
        template=own.template if own else None,
        pending_rules=tuple(c.rule for c in plan.policy_changes
                            if c.group_id == live_group.id and c.access is access),
    )


__all__ = ["AccessReport", "AccessRow", "GroupSection", "PolicySummary", "State",
           "build_report"]
