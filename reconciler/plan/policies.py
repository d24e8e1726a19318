"""PIM settings as code: a group's declared policy rules against the live ones -> one
`PolicyChange` per (group, access, rule id), field by field, and the policy as it will be
after the plan (what the group's assignments are judged against).

Semantics: format.md "The group's PIM settings: `policy:`". Only declared fields are
compared; `require` and `approvers` compare as sets. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from reconciler.desired.model import (
    Access,
    DesiredGroup,
    DesiredPolicy,
    DesiredRule,
    Kind,
    PrincipalRef,
    PrincipalType,
)
from reconciler.desired.policy import (
    APPROVAL_ACTIVATION,
    AUTH_CONTEXT_ACTIVATION,
    ENABLEMENT_ACTIVATION,
    ENABLEMENT_ASSIGNMENT,
    ENABLEMENT_ELIGIBILITY,
    EXPIRATION_ASSIGNMENT,
    EXPIRATION_ELIGIBILITY,
    Approver,
    ApproverType,
    FieldValue,
    NotificationLevel,
    Requirement,
    field_to_json,
    same_value,
)
from reconciler.live.model import ExpirationRule, GroupPolicy, LiveGroup
from reconciler.plan.changes import PolicyChange
from reconciler.plan.context import PlanContext, principal_name
from reconciler.problems import Code, Severity

_WIRE_REQUIREMENT = {  # GroupPolicy.enablement holds Graph's enabledRules values
    Requirement.MFA: "MultiFactorAuthentication",
    Requirement.JUSTIFICATION: "Justification",
    Requirement.TICKET: "Ticketing",
}
_LEVEL_RANK = {NotificationLevel.NONE: 0, NotificationLevel.CRITICAL: 1, NotificationLevel.ALL: 2}
ADMIN_RULES = {  # the rules an admin schedule request of this kind is judged by
    Kind.ELIGIBLE: (EXPIRATION_ELIGIBILITY, ENABLEMENT_ELIGIBILITY),
    Kind.ACTIVE: (EXPIRATION_ASSIGNMENT, ENABLEMENT_ASSIGNMENT),
}


def plan_policies(ctx: PlanContext, group: DesiredGroup, live_group: LiveGroup) -> None:
    """Plan the declared policies of `group`: policy changes and problems into `ctx`, and
    the policy after the plan into `ctx.effective[(group id, access)]`."""
    for declared in group.policies:
        live = ctx.live.policies.get((live_group.id, declared.access))
        where = {"file": declared.location.file, "line": declared.location.line,
                 "group": group.group}
        if live is None:
            ctx.problem(Severity.ERROR, Code.POLICY_NOT_FOUND,
                        f"no {declared.access} role management policy was found for group "
                        f"'{live_group.display_name}' (a group just onboarded to PIM may not "
                        "have one yet; plan again in a few minutes)", **where)
            continue
        after = dict(live.settings)
        pending: list[PolicyChange] = []
        for rule in declared.rules:
            fields = _desired_fields(ctx, group, rule)
            current = dict(live.settings.get(rule.rule) or {})
            changed = {k: v for k, v in fields.items() if not same_value(current.get(k), v)}
            after[rule.rule] = {**current, **fields}
            if changed:
                pending.append(_change(ctx, live_group, declared, rule, current, changed))
        effective = _with_settings(live, after)
        refused = _check_policy(ctx, group, declared, effective)
        # a refused rule is not planned: the live rule stays what assignments are judged by
        for rule_id in refused:
            after[rule_id] = dict(live.settings.get(rule_id) or {})
        ctx.policy_changes.extend(c for c in pending if c.rule not in refused)
        ctx.effective[(live_group.id, declared.access)] = (
            _with_settings(live, after) if refused else effective)


def _desired_fields(ctx: PlanContext, group: DesiredGroup, rule: DesiredRule
                    ) -> dict[str, FieldValue]:
    """The rule's declared fields, approvers resolved to ids (an approver that does not
    resolve is a problem, and the `approvers` field is then left out)."""
    out = dict(rule.fields)
    refs = out.pop("approvers", None)
    if refs is None:
        return out
    approvers: set[Approver] = set()
    complete = True
    for ref in refs:  # type: ignore[union-attr]
        where = {"file": rule.location.file, "line": rule.lines.get("approvers"),
                 "group": group.group, "principal": ref.value}
        approver = _resolve_approver(ctx, ref, where)
        if approver is None:
            complete = False
        else:
            approvers.add(approver)
    if complete:
        out["approvers"] = frozenset(approvers)
    return out


def _resolve_approver(ctx: PlanContext, ref: PrincipalRef, where: dict[str, object]
                      ) -> Approver | None:
    matches = ctx.resolution.principals.get(ref)
    if matches is None:
        return None  # lookup refused (permission_denied is already reported)
    if not matches:
        ctx.problem(Severity.ERROR, Code.PRINCIPAL_NOT_FOUND,
                    f"approver '{ref.value}' does not exist in the tenant", **where)
        return None
    if len(matches) > 1:
        ids = ", ".join(sorted(m.id for m in matches))
        ctx.problem(Severity.ERROR, Code.PRINCIPAL_AMBIGUOUS,
                    f"approver '{ref.value}' matches {len(matches)} objects ({ids}); write "
                    "the object id instead", **where)
        return None
    obj = matches[0]
    if obj.type is PrincipalType.USER:
        return Approver(ApproverType.USER, obj.id)
    if obj.type is PrincipalType.GROUP:
        return Approver(ApproverType.GROUP, obj.id)
    ctx.problem(Severity.ERROR, Code.APPROVER_INVALID,
                f"approver '{ref.value}' is a {obj.type}; approvers are users or groups",
                **where)
    return None


def _change(ctx: PlanContext, live_group: LiveGroup, declared: DesiredPolicy,
            rule: DesiredRule, current: dict[str, FieldValue],
            changed: dict[str, FieldValue]) -> PolicyChange:
    names: dict[str, str] = {}
    for value in (current.get("approvers"), changed.get("approvers")):
        for approver in value or ():  # type: ignore[union-attr]
            names[approver.id] = _approver_name(ctx, approver)
    first_line = min((line for f, line in rule.lines.items() if f in changed and line),
                     default=rule.location.line)
    fields = ", ".join(sorted(changed))
    return PolicyChange(
        group_id=live_group.id,
        group=live_group.display_name,
        access=declared.access,
        rule=rule.rule,
        before={k: field_to_json(current.get(k)) for k in sorted(changed)},
        after={k: field_to_json(v) for k, v in sorted(changed.items())},
        loosens=any(loosens(k, current.get(k), v) for k, v in changed.items()),
        reason=f"the live {declared.access} policy differs from the file in {fields}"
        + (f" (template {declared.template})" if declared.template else ""),
        names=names,
        file=rule.location.file,
        line=first_line,
    )


def _approver_name(ctx: PlanContext, approver: Approver) -> str:
    for objects in ctx.resolution.principals.values():
        for obj in objects:
            if obj.id == approver.id:
                return obj.name
    return principal_name(ctx, approver.id)


def loosens(name: str, before: FieldValue, after: FieldValue) -> bool:
    """True when field `name` going from `before` to `after` (normalised values of
    `reconciler.desired.policy`) weakens control (format.md: permanence allowed, a longer or
    no maximum, a requirement, approval, a recipient or a notification removed)."""
    if name == "permanent":
        return bool(after) and not before
    if name == "max_duration":
        if after is None:
            return before is not None
        return before is not None and after > before  # type: ignore[operator]
    if name in ("require", "recipients"):
        return bool(set(before or ()) - set(after or ()))  # type: ignore[arg-type]
    if name in ("required", "default_recipients"):
        return bool(before) and not after
    if name == "authentication_context":
        return before is not None and after is None
    if name == "level":
        return _LEVEL_RANK.get(after, 2) < _LEVEL_RANK.get(before, 2)  # type: ignore[arg-type]
    return False  # approvers: a different set of people, not less control


def _with_settings(live: GroupPolicy, after: dict[str, dict[str, FieldValue]]) -> GroupPolicy:
    """`live` as it will be once the plan's policy changes are written."""

    def expiration(rule_id: str, old: ExpirationRule) -> ExpirationRule:
        fields = after.get(rule_id) or {}
        maximum = fields.get("max_duration", old.maximum_duration)
        text = None if maximum is None else _duration_text(maximum)  # type: ignore[arg-type]
        return ExpirationRule(
            is_expiration_required=not fields.get("permanent", not old.is_expiration_required),
            maximum_duration=maximum,  # type: ignore[arg-type]
            maximum_duration_text=text,
        )

    def enablement(rule_id: str, old: frozenset[str]) -> frozenset[str]:
        required = (after.get(rule_id) or {}).get("require")
        if required is None:
            return old
        return frozenset(_WIRE_REQUIREMENT[Requirement(r)] for r in required)  # type: ignore[union-attr]

    return replace(
        live,
        eligibility_expiration=expiration(EXPIRATION_ELIGIBILITY, live.eligibility_expiration),
        assignment_expiration=expiration(EXPIRATION_ASSIGNMENT, live.assignment_expiration),
        eligibility_enablement=enablement(ENABLEMENT_ELIGIBILITY, live.eligibility_enablement),
        assignment_enablement=enablement(ENABLEMENT_ASSIGNMENT, live.assignment_enablement),
        settings=after,
    )


def _duration_text(value: timedelta) -> str:
    return str(field_to_json(value))


def _check_policy(ctx: PlanContext, group: DesiredGroup, declared: DesiredPolicy,
                  effective: GroupPolicy) -> set[str]:
    """Refusals that need the live policy too (the offline ones are the loader's). Returns
    the declared rule ids refused."""
    refused: set[str] = set()
    where = {"file": declared.location.file, "line": declared.location.line,
             "group": group.group}
    approval = effective.settings.get(APPROVAL_ACTIVATION) or {}
    if approval.get("required") and not approval.get("approvers"):
        ctx.problem(Severity.ERROR, Code.APPROVAL_WITHOUT_APPROVERS,
                    f"the {declared.access} policy would require approval of activations "
                    "but names no approver (approval.approvers)", **where)
        refused.add(APPROVAL_ACTIVATION)
    declared_rules = {r.rule: r for r in declared.rules}
    require = (effective.settings.get(ENABLEMENT_ACTIVATION) or {}).get("require") or ()
    context = (effective.settings.get(AUTH_CONTEXT_ACTIVATION) or {}).get(
        "authentication_context")
    both_declared = ("require" in getattr(declared_rules.get(ENABLEMENT_ACTIVATION), "fields", {})
                     and "authentication_context" in getattr(
                         declared_rules.get(AUTH_CONTEXT_ACTIVATION), "fields", {}))
    if Requirement.MFA in require and context and not both_declared:  # type: ignore[operator]
        ctx.problem(Severity.ERROR, Code.POLICY_CONFLICT,
                    f"the {declared.access} policy would require both mfa on activation and "
                    f"authentication context '{context}'; they are mutually exclusive",
                    **where)
        refused.update(r for r in (ENABLEMENT_ACTIVATION, AUTH_CONTEXT_ACTIVATION)
                       if r in declared_rules)
    return refused


def judge_settings(ctx: PlanContext, group: DesiredGroup, live_group: LiveGroup) -> None:
    """Checks over the group's policies as they will be, after its assignment changes are
    planned: `admin_mfa_blocks_automation`, `live_exceeds_policy`, `approval_recommended`."""
    where = {"file": group.location.file, "line": group.location.line, "group": group.group}
    for access in Access:
        live = ctx.live.policies.get((live_group.id, access))
        if live is None:
            continue
        effective = ctx.effective.get((live_group.id, access), live)
        for kind in Kind:
            _, enablement_rule = ADMIN_RULES[kind]
            require = (effective.settings.get(enablement_rule) or {}).get("require") or ()
            if Requirement.MFA in require:  # type: ignore[operator]
                writes = any(c.group_id == live_group.id and c.access is access
                             and c.kind is kind for c in ctx.changes)
                ctx.problem(Severity.ERROR if writes else Severity.WARNING,
                            Code.ADMIN_MFA_BLOCKS_AUTOMATION,
                            f"the {access} policy's {enablement_rule} rule requires mfa of "
                            f"whoever makes a {kind} assignment; an app-only identity (this "
                            "tool in CI) cannot satisfy it"
                            + (", so this plan's writes would be refused" if writes else ""),
                            **where)
            if effective is not live:
                _live_exceeds(ctx, group, live_group, access, kind, live, effective)
        if access is Access.MEMBER and live_group.is_assignable_to_role:
            approval = effective.settings.get(APPROVAL_ACTIVATION) or {}
            if not approval.get("required"):
                ctx.problem(Severity.WARNING, Code.APPROVAL_RECOMMENDED,
                            f"'{live_group.display_name}' is role-assignable and its member "
                            "policy lets eligible members activate without approval; "
                            "Microsoft recommends approval for groups that elevate into Entra "
                            "roles (policy.member.activation.approval)", **where)


def _live_exceeds(ctx: PlanContext, group: DesiredGroup, live_group: LiveGroup,
                  access: Access, kind: Kind, live: GroupPolicy, effective: GroupPolicy) -> None:
    before, after = live.expiration(kind), effective.expiration(kind)
    if before == after:
        return
    for row in ctx.live.schedules:
        if (row.group_id != live_group.id or row.access is not access or row.kind is not kind
                or not row.managed):
            continue
        if row.end is None and after.is_expiration_required:
            excess = "is permanent, which the policy will no longer allow"
        elif (row.end is not None and after.is_expiration_required
              and after.maximum_duration is not None and row.start is not None
              and row.end - row.start > after.maximum_duration + timedelta(minutes=1)):
            excess = (f"lasts longer than the new maximum of "
                      f"{after.maximum_duration_text or after.maximum_duration}")
        else:
            continue
        name = principal_name(ctx, row.principal_id)
        ctx.problem(Severity.WARNING, Code.LIVE_EXCEEDS_POLICY,
                    f"{name}'s live {kind} {access} assignment {excess}; PIM keeps it until "
                    "it is changed", file=group.location.file, line=group.location.line,
                    group=group.group, principal=name)
