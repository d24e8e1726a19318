"""Name resolution as the planner judges it: a declared group or principal that matches
nothing, several objects, or a group PIM cannot manage becomes a problem; protected principals
become a set of ids."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.desired.model import DesiredGroup, DesiredState, PrincipalRef, PrincipalType
from reconciler.live.model import DirectoryObject, LiveGroup
from reconciler.plan.context import PlanContext
from reconciler.problems import Code, Severity


def resolve_group(ctx: PlanContext, group: DesiredGroup) -> LiveGroup | None:
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


def resolve_principal(
    ctx: PlanContext, ref: PrincipalRef, where: dict[str, object]
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


def protected_ids(ctx: PlanContext) -> set[str]:
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


def collect_principals(desired: DesiredState) -> list[PrincipalRef]:
    """Every principal reference the desired state names (entries and protected), deduplicated
    in first-seen order: what the Graph adapter must resolve."""
    seen: dict[PrincipalRef, None] = {}
    refs: Iterable[PrincipalRef] = (
        *(a.principal for g in desired.groups for a in g.assignments),
        *desired.settings.protected,
        *(ref for g in desired.groups for p in g.policies for ref in p.approvers),
    )
    for ref in refs:
        seen.setdefault(ref, None)
    return list(seen)
