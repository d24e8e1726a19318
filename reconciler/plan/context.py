"""The planner's working state for one run: inputs, and the changes, problems and
information collected so far (a mutable accumulator local to one `plan()` call)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from reconciler.desired.model import Access, DesiredState
from reconciler.live.model import GroupPolicy, LiveState, Resolution
from reconciler.plan.changes import Change, Info, PolicyChange
from reconciler.problems import Code, Problem, Severity


@dataclass
class PlanContext:
    """Inputs of one planning run and what it has found so far."""

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
    policy_changes: list[PolicyChange] = field(default_factory=list)
    effective: dict[tuple[str, Access], GroupPolicy] = field(default_factory=dict)
    """(group id, access) -> the policy as it will be after this plan's policy changes."""

    def policy_for(self, group_id: str, access: Access) -> GroupPolicy | None:
        """The policy assignments are judged against: as it will be after the plan."""
        return self.effective.get((group_id, access)) or self.live.policies.get(
            (group_id, access))

    def problem(self, severity: Severity, code: Code, message: str, **where: object) -> None:
        self.problems.append(Problem(severity, code, message, **where))  # type: ignore[arg-type]



def principal_name(ctx: PlanContext, principal_id: str) -> str:
    """Display name of a live principal, or its id when the tenant did not name it."""
    obj = ctx.live.principals.get(principal_id)
    return obj.name if obj else principal_id
