"""Wording shared by the renderers: lifetimes, relative times, change flags, policy values."""

from __future__ import annotations

from datetime import datetime

from reconciler.desired.model import Access, Kind
from reconciler.durations import format_shown_instant, relative
from reconciler.plan.changes import Action, Change, PolicyChange

SYMBOLS = {Action.CREATE: "+", Action.RENEW: "↻", Action.UPDATE: "~", Action.REMOVE: "-"}


def plural(n: int, word: str) -> str:
    """`1 error`, `2 errors`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def end_text(permanent: bool, end: datetime | None, now: datetime) -> str:
    """`permanent`, or `until <UTC instant> (in N days)`."""
    if permanent or end is None:
        return "permanent"
    return f"until {format_shown_instant(end)} ({relative(end, now)})"


def lifetime_text(change: Change, now: datetime) -> str:
    """`old -> new` for updates and renewals; the new lifetime for creates; for removals the
    lifetime the assignment has now (what the removal cuts short)."""
    old = end_text(change.old_permanent, change.old_end, now)
    new = end_text(change.permanent, change.end, now)
    if change.duration:
        new += f" [rolling {change.duration}]"
    if change.action is Action.CREATE:
        if change.start:
            return f"from {format_shown_instant(change.start)} {new}"
        return new
    if change.action is Action.REMOVE:
        return "held permanently" if change.old_permanent else f"held {old}"
    return f"{old} -> {new}"


def flags(change: Change) -> list[str]:
    """Review flags: owner grant, permanent grant, active grant, removal, deferral."""
    out: list[str] = []
    granting = change.action is not Action.REMOVE
    if granting and change.access is Access.OWNER:
        out.append("owner")
    if granting and change.permanent:
        out.append("permanent")
    if granting and change.kind is Kind.ACTIVE:
        out.append("active")
    if change.action is Action.REMOVE:
        out.append("removal")
    if change.not_before:
        out.append("deferred")
    return out


# PIM settings (policy rule changes): the fields of reconciler.desired.policy, in the order the
# files write them; values arrive in the plan's JSON form (`field_to_json`).
POLICY_FIELDS = (
    "permanent",
    "max_duration",
    "require",
    "required",
    "approvers",
    "authentication_context",
    "default_recipients",
    "recipients",
    "level",
)
LOOSENS = "LOOSENS"


def policy_value_text(name: str, value: object, names: dict[str, str] | None = None) -> str:
    """A policy field value for a reviewer: sets as comma lists (`none` when empty), approvers
    by display name with their type, no authentication context as `off`, None as `none`."""
    if value is None:
        return "off" if name == "authentication_context" else "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        items = []
        for item in value:
            if isinstance(item, dict) and "id" in item:
                shown = (names or {}).get(str(item["id"])) or str(item["id"])
                items.append(f"{shown} ({item.get('type', '?')})")
            else:
                items.append(str(item))
        return ", ".join(items)
    return str(value)


def policy_fields(change: PolicyChange) -> list[tuple[str, str, str]]:
    """`(field, before, after)` texts for each field the rule change touches, in file order."""
    keys = set(change.before) | set(change.after)
    ordered = [k for k in POLICY_FIELDS if k in keys] + sorted(keys - set(POLICY_FIELDS))
    return [(k, policy_value_text(k, change.before.get(k), change.names),
             policy_value_text(k, change.after.get(k), change.names)) for k in ordered]


def policy_summary(n: int, loosening: int) -> str:
    """`3 policy rules to change (1 loosens control)`; empty when there are none."""
    if not n:
        return ""
    text = f"{plural(n, 'policy rule')} to change"
    if loosening:
        text += f" ({loosening} {'loosens' if loosening == 1 else 'loosen'} control)"
    return text


DEFERRED_NOTE = ("deferred: PIM refuses to change or remove an assignment within five minutes "
                 "of it being made; a later run sends the deferred changes "
                 "(`apply --wait-deferred 6m` waits for them)")
"""One line a plan shows when it holds a deferred change, saying why and what happens to it."""
