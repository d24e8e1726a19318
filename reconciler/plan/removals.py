"""Removals: an undeclared live row in an authoritative group, or a declared `until` that has
passed while the live assignment runs on -> `adminRemove` (never a protected principal; an
additive group only reports). The run-wide caps are in `reconciler.plan.safety`."""

from __future__ import annotations

from reconciler.desired.model import DesiredAssignment, DesiredGroup, Mode, PrincipalType
from reconciler.durations import format_instant
from reconciler.live.model import LiveGroup, LiveSchedule
from reconciler.plan.changes import Action, Change, GraphAction, Info
from reconciler.plan.context import PlanContext, principal_name
from reconciler.plan.rules import not_before
from reconciler.problems import Code, Severity

REMOVAL_JUSTIFICATION = "Removed by pim-reconciler: not declared in the desired state"
REMOVAL_LAPSED = "Removed by pim-reconciler: its declared end has passed"


def plan_removal(
    ctx: PlanContext,
    group: DesiredGroup,
    live_group: LiveGroup,
    row: LiveSchedule,
    protected: set[str],
    *,
    lapsed: DesiredAssignment | None = None,
) -> None:
    """Remove `row`: undeclared in an authoritative group, or (`lapsed`) declared with an
    `until` that has passed while the live assignment runs on."""
    name = principal_name(ctx, row.principal_id)
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
