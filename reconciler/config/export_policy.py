"""Export of PIM settings: a group's live role management policies -> the `policy:` block of its
group file, with every managed field that differs from the defaults of a new group.

The block is format.md's "The group's PIM settings: `policy:`" written backwards (see
`reconciler.config.policy` for the forward direction): per access (`member`, `owner`),
`eligible` / `active` (Expiration_Admin_* `permanent`, `max_duration`; Enablement_Admin_*
`require`), `activation` (Expiration_EndUser_Assignment `max_duration`,
Enablement_EndUser_Assignment `require`, AuthenticationContext_EndUser_Assignment
`authentication_context`, Approval_EndUser_Assignment `approval.required` /
`approval.approvers`) and `notifications.<event>.<recipient>` (the nine Notification_* rules).

A field equal to its default is left out, and so is not managed by the exported file (format.md
"Only what is written is managed"): a plan right after the export plans no policy change. The
defaults are `reconciler.desired.policy.NEW_GROUP_DEFAULTS` (graph-pim-reference.md 4.4).

Pure: approvers are written through the `approver_text` callback the caller gives (it knows
which names are unique in the tenant).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from reconciler.desired.model import Access
from reconciler.desired.policy import (
    APPROVAL_ACTIVATION,
    AUTH_CONTEXT_ACTIVATION,
    ENABLEMENT_ACTIVATION,
    ENABLEMENT_ASSIGNMENT,
    ENABLEMENT_ELIGIBILITY,
    EVENTS,
    EXPIRATION_ACTIVATION,
    EXPIRATION_ASSIGNMENT,
    EXPIRATION_ELIGIBILITY,
    NEW_GROUP_DEFAULTS,
    RECIPIENTS,
    Approver,
    FieldValue,
    RuleFields,
    notification_rule,
    same_value,
)
from reconciler.durations import format_duration

ApproverText = Callable[[Approver], "str | tuple[str, str]"]
"""How an approver is written: a UPN or object id, or `(type, display name)` for
`{group: NAME}`."""

_SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (rule id, file section, fields in file order)
    (EXPIRATION_ELIGIBILITY, "eligible", ("permanent", "max_duration")),
    (ENABLEMENT_ELIGIBILITY, "eligible", ("require",)),
    (EXPIRATION_ASSIGNMENT, "active", ("permanent", "max_duration")),
    (ENABLEMENT_ASSIGNMENT, "active", ("require",)),
    (EXPIRATION_ACTIVATION, "activation", ("max_duration",)),
    (ENABLEMENT_ACTIVATION, "activation", ("require",)),
    (AUTH_CONTEXT_ACTIVATION, "activation", ("authentication_context",)),
)
_NOTIFICATION_FIELDS = ("default_recipients", "recipients", "level")


def differing(rule_id: str, fields: RuleFields) -> dict[str, FieldValue]:
    """The fields of one live rule that differ from `NEW_GROUP_DEFAULTS` (a field without a
    known default is kept; a field read as None where the file cannot say None is dropped)."""
    defaults = NEW_GROUP_DEFAULTS.get(rule_id, {})
    out: dict[str, FieldValue] = {}
    for name, value in fields.items():
        if name in defaults and same_value(value, defaults[name]):
            continue
        if value is None and name != "authentication_context":
            continue  # e.g. an expiration rule without maximumDuration: nothing to write
        out[name] = value
    return out


def policy_block(settings: Mapping[str, RuleFields], approver_text: ApproverText
                 ) -> dict[str, Any]:
    """One access's `policy.<access>` mapping (YAML-ready: durations ISO 8601 text, sets as
    sorted lists) from its live `settings` (rule id -> field -> value, as
    `reconciler.live.model.GroupPolicy.settings`); `{}` when everything is the default."""
    block: dict[str, Any] = {}
    for rule_id, section, names in _SECTIONS:
        fields = differing(rule_id, settings.get(rule_id) or {})
        for name in names:
            if name in fields:
                block.setdefault(section, {})[name] = _value(fields[name])
    approval = differing(APPROVAL_ACTIVATION, settings.get(APPROVAL_ACTIVATION) or {})
    if approval:
        out: dict[str, Any] = {}
        if "required" in approval:
            out["required"] = bool(approval["required"])
        if "approvers" in approval:
            out["approvers"] = sorted((approver_text(a) for a in approval["approvers"] or ()),
                                      key=_approver_order)
        block.setdefault("activation", {})["approval"] = out
    for event in EVENTS:
        for recipient in RECIPIENTS:
            fields = differing(notification_rule(event, recipient),
                               settings.get(notification_rule(event, recipient)) or {})
            chosen = {n: _value(fields[n]) for n in _NOTIFICATION_FIELDS if n in fields}
            if chosen:
                block.setdefault("notifications", {}).setdefault(event, {})[recipient] = chosen
    return block


def _approver_order(text: str | tuple[str, str]) -> tuple[str, str]:
    """By name as written, case-insensitively (then the type)."""
    return (text[1].casefold(), text[0]) if isinstance(text, tuple) else (text.casefold(), "")


def _value(value: FieldValue) -> Any:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, frozenset):
        return sorted(str(v) for v in value)
    if value is None or isinstance(value, bool):
        return value
    return str(value)


# --- YAML text ------------------------------------------------------------------------------


def render_policy(blocks: Mapping[Access, Mapping[str, Any]], scalar: Callable[[str], str]
                  ) -> list[str]:
    """The `policy:` lines of a group file for the non-empty `blocks` (member, then owner);
    `[]` when both are empty. `scalar` quotes a string for YAML."""
    shown = [(access, block) for access, block in sorted(blocks.items()) if block]
    if not shown:
        return []
    lines = ["policy:"]
    for access, block in shown:
        lines.append(f"  {access}:")
        lines += _mapping(block, 4, scalar)
    return lines


def _mapping(data: Mapping[str, Any], indent: int, scalar: Callable[[str], str]) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            lines.append(f"{pad}{key}:")
            lines += _mapping(value, indent + 2, scalar)
        else:
            lines.append(f"{pad}{key}: {_flow(value, scalar)}")
    return lines


def _flow(value: Any, scalar: Callable[[str], str]) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v, scalar) for v in value) + "]"
    if isinstance(value, tuple):  # an approver {type: name}
        return f"{{ {value[0]}: {scalar(value[1])} }}"
    return scalar(str(value))
