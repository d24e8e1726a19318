"""A group's `policy:` and the settings' `policy_templates` / `defaults.policy` ->
`DesiredPolicy` values (format.md, "The group's PIM settings: `policy:`").

Per access (member, owner) the file's sections map onto rules of `reconciler.desired.policy`:
`eligible` / `active` -> Expiration_Admin_* (`permanent`, `max_duration`) and
Enablement_Admin_* (`require`); `activation` -> Expiration_EndUser_Assignment
(`max_duration`), Enablement_EndUser_Assignment (`require`),
AuthenticationContext_EndUser_Assignment (`authentication_context`) and
Approval_EndUser_Assignment (`approval.required`, `approval.approvers`);
`notifications.<event>.<recipient>` -> `Notification_<Recipient>_<Event>`.

A template is merged *under* the group's own fields, field by field (a list the group writes
replaces the template's). `defaults.policy` applies its template to a group that has no
`policy.<access>` of its own (`policy.member: {}` is one: it opts out, managing nothing).

Offline checks (no tenant needed), each at `file:line`: durations as for assignments
(`duration_unit_unsupported`, `duration_too_short`), `activation_too_long` (above PT24H),
`approval_without_approvers` (required with an explicitly empty list; approvers not given at
all are left to the planner, which knows the live ones), `policy_conflict` (`mfa` in
`activation.require` with an `authentication_context`), `approver_invalid` (a service
principal), `principal_ambiguous` (a bare name), `template_not_found`. A check over two fields
is reported in the file that wrote at least one of them: a template's own combination once,
in the settings file, not in every group using it.

Like `reconciler.config.groups`, runs after the schema pass: a value of the wrong shape is
skipped here (the schema pass reported it).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from reconciler.config.fields import GUID, principal_text, read_duration, read_principal
from reconciler.config.report import FileReport, path_text
from reconciler.config.yamlsafe import Path_
from reconciler.desired.model import (
    Access,
    DesiredPolicy,
    DesiredRule,
    Location,
    PolicyTemplate,
    PrincipalRef,
    PrincipalType,
    Settings,
)
from reconciler.desired.policy import (
    ACTIVATION_MAXIMUM,
    APPROVAL_ACTIVATION,
    AUTH_CONTEXT_ACTIVATION,
    ENABLEMENT_ACTIVATION,
    ENABLEMENT_ASSIGNMENT,
    ENABLEMENT_ELIGIBILITY,
    EVENTS,
    EXPIRATION_ACTIVATION,
    EXPIRATION_ASSIGNMENT,
    EXPIRATION_ELIGIBILITY,
    RECIPIENTS,
    RULE_IDS,
    FieldValue,
    NotificationLevel,
    Requirement,
    notification_rule,
)
from reconciler.problems import Code

TEMPLATES_KEY = "policy_templates"
_ADMIN_SECTIONS = {
    "eligible": (EXPIRATION_ELIGIBILITY, ENABLEMENT_ELIGIBILITY),
    "active": (EXPIRATION_ASSIGNMENT, ENABLEMENT_ASSIGNMENT),
}
_REQUIREMENTS = {r.value: r for r in Requirement}
_LEVELS = {lv.value: lv for lv in NotificationLevel}


@dataclass(slots=True)
class _Field:
    value: FieldValue
    line: int | None
    path: Path_


@dataclass(slots=True)
class _Read:
    """The fields one mapping (a group's `policy.<access>` or a template) declares."""

    rules: dict[str, dict[str, _Field]] = field(default_factory=dict)
    sections: dict[str, int | None] = field(default_factory=dict)  # rule id -> section line
    approvers: tuple[PrincipalRef, ...] = ()

    def put(self, report: FileReport, rule: str, name: str, value: FieldValue,
            path: Path_) -> None:
        self.rules.setdefault(rule, {})[name] = _Field(value, report.line(path, key=True), path)
        self.sections.setdefault(rule, report.line(path[:-1], key=True))


# --- reading one mapping --------------------------------------------------------------------


def _requirements(value: Any) -> frozenset[Requirement] | None:
    if not isinstance(value, list) or not all(
            isinstance(v, str) and v in _REQUIREMENTS for v in value):
        return None  # the schema pass reports it
    return frozenset(_REQUIREMENTS[v] for v in value)


def read_approver(report: FileReport, value: Any, path: Path_) -> PrincipalRef | None:
    """An approver reference, read like a principal: a UPN -> user, a GUID or `{id: GUID}` ->
    object id, `{user: X}` / `{group: X}` -> that type. A bare name is `principal_ambiguous`,
    `{servicePrincipal: X}` is `approver_invalid` (approvers are users or groups)."""
    text = principal_text(value)
    if isinstance(value, str) and value and "@" not in value and not GUID.match(value):
        report.add(Code.PRINCIPAL_AMBIGUOUS,
                   f"ambiguous approver '{value}'; write {{group: {value}}} or "
                   f"{{user: {value}}}", path, principal=value)
        return None
    if isinstance(value, dict) and len(value) == 1:
        ((kind, name),) = value.items()
        if kind == "servicePrincipal":
            report.add(Code.APPROVER_INVALID,
                       f"approver '{text}' is a service principal; approvers are users or "
                       "groups (an application cannot approve an activation)",
                       path, principal=text)
            return None
        if kind == "id":
            if isinstance(name, str) and GUID.match(name):
                return PrincipalRef(PrincipalType.ID, name.lower())
            return None  # the schema pass reports it
    return read_principal(report, value, path)


def _approvers(report: FileReport, value: Any, path: Path_) -> tuple[PrincipalRef, ...] | None:
    if not isinstance(value, list):
        return None
    refs = [read_approver(report, item, (*path, i)) for i, item in enumerate(value)]
    if any(r is None for r in refs):
        return None
    return tuple(dict.fromkeys(r for r in refs if r is not None))


def _recipients(value: Any) -> frozenset[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and "@" in v for v in value):
        return None
    return frozenset(value)


def _read_access(report: FileReport, raw: Mapping[str, Any], base: Path_) -> _Read:
    """The fields of a `policy.<access>` mapping or of a template, with per-field checks."""
    out = _Read()
    for section, (expiration, enablement) in _ADMIN_SECTIONS.items():
        body = raw.get(section)
        if not isinstance(body, dict):
            continue
        path = (*base, section)
        if isinstance(body.get("permanent"), bool):
            out.put(report, expiration, "permanent", body["permanent"], (*path, "permanent"))
        if "max_duration" in body:
            delta = read_duration(report, body["max_duration"], (*path, "max_duration"))
            if delta is not None:
                out.put(report, expiration, "max_duration", delta, (*path, "max_duration"))
        required = _requirements(body.get("require"))
        if required is not None:
            out.put(report, enablement, "require", required, (*path, "require"))

    activation = raw.get("activation")
    if isinstance(activation, dict):
        path = (*base, "activation")
        if "max_duration" in activation:
            p = (*path, "max_duration")
            delta = read_duration(report, activation["max_duration"], p)
            if delta is not None and delta > ACTIVATION_MAXIMUM:
                report.add(Code.ACTIVATION_TOO_LONG,
                           f"{path_text(p)}: {activation['max_duration']} is longer than "
                           f"PT{ACTIVATION_MAXIMUM // timedelta(hours=1)}H, the longest "
                           "activation PIM allows", p)
            elif delta is not None:
                out.put(report, EXPIRATION_ACTIVATION, "max_duration", delta, p)
        required = _requirements(activation.get("require"))
        if required is not None:
            out.put(report, ENABLEMENT_ACTIVATION, "require", required, (*path, "require"))
        if "authentication_context" in activation:
            claim = activation["authentication_context"]
            p = (*path, "authentication_context")
            if claim is None or claim is False:
                out.put(report, AUTH_CONTEXT_ACTIVATION, "authentication_context", None, p)
            elif isinstance(claim, str) and claim:
                out.put(report, AUTH_CONTEXT_ACTIVATION, "authentication_context", claim, p)
        approval = activation.get("approval")
        if isinstance(approval, dict):
            p = (*path, "approval")
            if isinstance(approval.get("required"), bool):
                out.put(report, APPROVAL_ACTIVATION, "required", approval["required"],
                        (*p, "required"))
            if "approvers" in approval:
                refs = _approvers(report, approval["approvers"], (*p, "approvers"))
                if refs is not None:
                    out.put(report, APPROVAL_ACTIVATION, "approvers", frozenset(refs),
                            (*p, "approvers"))
                    out.approvers = refs

    notifications = raw.get("notifications")
    if isinstance(notifications, dict):
        for event in EVENTS:
            by_recipient = notifications.get(event)
            if not isinstance(by_recipient, dict):
                continue
            for recipient in RECIPIENTS:
                body = by_recipient.get(recipient)
                if not isinstance(body, dict):
                    continue
                rule = notification_rule(event, recipient)
                path = (*base, "notifications", event, recipient)
                if isinstance(body.get("default_recipients"), bool):
                    out.put(report, rule, "default_recipients", body["default_recipients"],
                            (*path, "default_recipients"))
                mails = _recipients(body.get("recipients"))
                if mails is not None:
                    out.put(report, rule, "recipients", mails, (*path, "recipients"))
                level = body.get("level")
                if isinstance(level, str) and level in _LEVELS:
                    out.put(report, rule, "level", _LEVELS[level], (*path, "level"))
    return out


# --- checks over two fields -----------------------------------------------------------------


def _check_combined(
    report: FileReport,
    merged: Mapping[str, Mapping[str, FieldValue]],
    own: Mapping[str, Mapping[str, _Field]],
    what: str,
    template: str | None,
) -> None:
    """`approval_without_approvers` and `policy_conflict` over the merged fields, reported
    only when `own` (this file) wrote at least one of the two fields, at that field."""

    def where(*fields: tuple[str, str]) -> _Field | None:
        return next((own[r][f] for r, f in fields if f in own.get(r, {})), None)

    def origin(rule: str, name: str) -> str:
        return "" if name in own.get(rule, {}) or not template else (
            f" ({name} comes from template '{template}')")

    approval = merged.get(APPROVAL_ACTIVATION) or {}
    if approval.get("required") is True and approval.get("approvers") == frozenset():
        at = where((APPROVAL_ACTIVATION, "approvers"), (APPROVAL_ACTIVATION, "required"))
        if at is not None:
            report.add(Code.APPROVAL_WITHOUT_APPROVERS,
                       f"{what} requires approval of activations but approval.approvers is "
                       "empty; name at least one user or group, or set required: false"
                       + origin(APPROVAL_ACTIVATION, "required")
                       + origin(APPROVAL_ACTIVATION, "approvers"), at.path)

    require = (merged.get(ENABLEMENT_ACTIVATION) or {}).get("require") or frozenset()
    claim = (merged.get(AUTH_CONTEXT_ACTIVATION) or {}).get("authentication_context")
    if Requirement.MFA in require and isinstance(claim, str) and claim:  # type: ignore[operator]
        at = where((AUTH_CONTEXT_ACTIVATION, "authentication_context"),
                   (ENABLEMENT_ACTIVATION, "require"))
        if at is not None:
            report.add(Code.POLICY_CONFLICT,
                       f"{what} requires mfa on activation and authentication context "
                       f"'{claim}' at once, which PIM refuses (the context's Conditional "
                       "Access policy decides on MFA); remove mfa from activation.require or "
                       "set authentication_context: false"
                       + origin(ENABLEMENT_ACTIVATION, "require")
                       + origin(AUTH_CONTEXT_ACTIVATION, "authentication_context"), at.path)


# --- the settings file ----------------------------------------------------------------------


def read_templates(report: FileReport, raw: Any) -> dict[str, PolicyTemplate]:
    """`policy_templates` of the settings file -> name -> `PolicyTemplate`. A template with an
    error anywhere below it (schema pass included) is kept with `usable=False`, so the groups
    using it are not told `template_not_found` as well."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, PolicyTemplate] = {}
    for name, body in raw.items():
        if not isinstance(name, str) or not name:
            continue
        base: Path_ = (TEMPLATES_KEY, name)
        read = _read_access(report, body, base) if isinstance(body, dict) else _Read()
        rules = {rule: {k: f.value for k, f in fields.items()}
                 for rule, fields in read.rules.items()}
        _check_combined(report, rules, read.rules, f"template '{name}'", None)
        usable = isinstance(body, dict) and not any(
            p[:2] == base for p in report.error_paths)
        out[name] = PolicyTemplate(
            name=name,
            rules=rules,
            location=Location(report.file, report.line(base, key=True)),
            approvers=read.approvers,
            usable=usable,
        )
    return out


def _template_not_found(report: FileReport, name: str, known: Mapping[str, PolicyTemplate],
                        path: Path_) -> None:
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        hint = f"; did you mean '{close[0]}'?"
    elif known:
        hint = f"; known templates: {', '.join(sorted(known))}"
    else:
        hint = "; pim-reconciler.yaml defines no policy_templates"
    report.add(Code.TEMPLATE_NOT_FOUND,
               f"{path_text(path)}: no policy template '{name}' in policy_templates of "
               f"pim-reconciler.yaml{hint}", path)


def read_default_policy(report: FileReport, raw: Any,
                        templates: Mapping[str, PolicyTemplate]) -> dict[Access, str]:
    """`defaults.policy` -> access -> template name; an unknown name is `template_not_found`
    (and is not applied)."""
    if not isinstance(raw, dict):
        return {}
    out: dict[Access, str] = {}
    for access in Access:
        name = raw.get(access.value)
        if not isinstance(name, str) or not name:
            continue
        if name not in templates:
            _template_not_found(report, name, templates, ("defaults", "policy", access.value))
            continue
        out[access] = name
    return out


# --- a group file ---------------------------------------------------------------------------


def read_policies(
    report: FileReport, data: Mapping[str, Any], settings: Settings
) -> tuple[tuple[DesiredPolicy, ...], bool]:
    """The declared policies of one group file (top level a mapping), per access: its own
    `policy.<access>` merged over its template, or else the `defaults.policy` template.

    Returns (policies, templates_usable): `templates_usable` is False when a template used
    has an error of its own (reported in the settings file). Errors in this file are in
    `report` under the `policy` path; the caller drops the policies when there are any.
    A policy that declares no field is left out."""
    raw = data.get("policy")
    own = raw if isinstance(raw, dict) else {}
    group_line = report.line(("group",), key=True)
    usable = True
    policies: list[DesiredPolicy] = []
    for access in Access:
        template: PolicyTemplate | None = None
        if access.value in own:
            body = own[access.value]
            if not isinstance(body, dict):
                continue  # the schema pass reports it
            base: Path_ = ("policy", access.value)
            name = body.get("template")
            if isinstance(name, str) and name:
                template = settings.policy_templates.get(name)
                if template is None:
                    _template_not_found(report, name, settings.policy_templates,
                                        (*base, "template"))
            read = _read_access(report, body, base)
            line = report.line(base, key=True)
            template_line = report.line((*base, "template"), key=True)
        else:
            name = settings.defaults.policy.get(access)
            template = settings.policy_templates.get(name) if name else None
            if template is None:
                continue
            read, line, template_line = _Read(), group_line, group_line
        if template is not None and not template.usable:
            usable = False
        policy = _merge(report, access, read, template, line, template_line)
        merged = {r.rule: r.fields for r in policy.rules}
        _check_combined(report, merged, read.rules, f"the {access} policy",
                        template.name if template else None)
        if policy.rules:
            policies.append(policy)
    return tuple(policies), usable


def _merge(report: FileReport, access: Access, read: _Read, template: PolicyTemplate | None,
           line: int | None, template_line: int | None) -> DesiredPolicy:
    rules: list[DesiredRule] = []
    approvers: tuple[PrincipalRef, ...] = ()
    for rule_id in RULE_IDS:
        fields: dict[str, FieldValue] = {}
        lines: dict[str, int | None] = {}
        for name, value in ((template.rules.get(rule_id) or {}) if template else {}).items():
            fields[name], lines[name] = value, template_line
        for name, own in (read.rules.get(rule_id) or {}).items():
            fields[name], lines[name] = own.value, own.line
        if not fields:
            continue
        if rule_id == APPROVAL_ACTIVATION and "approvers" in fields:
            own_approvers = "approvers" in (read.rules.get(rule_id) or {})
            approvers = read.approvers if own_approvers or template is None else (
                template.approvers)
        section_line = read.sections.get(rule_id) or template_line
        rules.append(DesiredRule(rule_id, fields, Location(report.file, section_line), lines))
    return DesiredPolicy(
        access=access,
        rules=tuple(rules),
        location=Location(report.file, line),
        template=template.name if template else None,
        approvers=approvers,
    )
