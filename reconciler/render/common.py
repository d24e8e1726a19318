"""Wording shared by the renderers: lifetimes, relative times, change flags."""

from __future__ import annotations

from datetime import datetime

from reconciler.desired.model import Access, Kind
from reconciler.durations import format_shown_instant, relative
from reconciler.plan.changes import Action, Change

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
