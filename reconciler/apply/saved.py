"""Whether a saved (reviewed) plan may still be applied, and if not, why in words a reviewer
can act on: which files, or which live assignments and policy rules, moved since review."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from reconciler.desired.model import FilesDigest
from reconciler.durations import format_instant
from reconciler.live import snapshot
from reconciler.plan.changes import Change, Plan


def stale_reason(
    saved: Plan, fresh: Plan, desired_digest: str, now: datetime, max_age: timedelta
) -> str | None:
    """Why a saved (reviewed) plan may no longer be applied, or None.

    Refused when the desired files changed since it was made (naming them); when a scoped
    plan's `--only` / `--shard` now selects other groups than it planned; when live state
    moved (the fingerprint of the rows and rules read differs: naming what moved, per group,
    from the two snapshots) or the saved changes are not what a plan made now would write (an
    edited plan file); when it is past its `valid_until`; or when it is older than `max_age`.
    """
    if saved.desired_digest != desired_digest:
        before = getattr(saved.desired_digest, "files", None)
        now_files = desired_digest.changed(before) if (
            before is not None and isinstance(desired_digest, FilesDigest)) else []
        return ("the desired files changed since the plan was made"
                + (f": {', '.join(now_files)}" if now_files else "") + "; plan again")
    if saved.scope is not None and fresh.scope is not None and \
            saved.scope.groups != fresh.scope.groups:
        return (f"the plan holds the groups {', '.join(saved.scope.groups) or 'none'} but its "
                f"scope ({saved.scope.describe()}) now selects "
                f"{', '.join(fresh.scope.groups) or 'none'}: its scope was edited, or a group "
                "was made again with a new id; plan again")
    if saved.live_fingerprint != fresh.live_fingerprint:
        what = "; ".join(_live_moves(saved, fresh)) or "its fingerprint differs"
        moved = _moved(saved, fresh)
        return (
            f"live PIM state changed since the plan was made: {what}"
            + (f" (a plan made now differs: {moved})" if moved else "")
            + "; plan again"
        )
    if _substance(saved) != _substance(fresh):
        return (
            "the plan file's changes are not what a plan made now would write"
            + (f" ({_moved(saved, fresh)})" if _moved(saved, fresh) else "")
            + ": it was edited, or what the files' names resolve to moved; plan again"
        )
    if now < saved.generated_at - timedelta(minutes=1):
        return (f"the clock ({format_instant(now)}) is behind the plan's "
                f"{format_instant(saved.generated_at)}: the runners' clocks disagree; plan again")
    if saved.valid_until is not None and now >= saved.valid_until:
        return f"the plan stopped being valid at {format_instant(saved.valid_until)}; plan again"
    if now - saved.generated_at > max_age:
        return (
            f"the plan was made at {format_instant(saved.generated_at)}, more than "
            f"{max_age} ago; plan again"
        )
    return None


def _live_moves(saved: Plan, fresh: Plan) -> list[str]:
    """What moved live between the two plans' snapshots (`reconciler.live.snapshot`), one
    line per assignment or policy rule; empty when either plan has no snapshot."""
    before = getattr(saved.live_fingerprint, "snapshot", None)
    after = getattr(fresh.live_fingerprint, "snapshot", None)
    if before is None or after is None:
        return []
    return snapshot.moved(before, after)


def _key(c: Change) -> tuple[object, ...]:
    return (c.action, c.identity, c.permanent, c.duration, None if c.duration else c.end)


def _substance(plan: Plan) -> set[tuple[object, ...]]:
    """What each change writes, leaving out what only time moves (a rolling end, a deferral)."""
    out: set[tuple[object, ...]] = {
        (*_key(c), c.graph_action, c.principal, c.start, c.schedule_id) for c in plan.changes}
    out.update(("policy", *p.identity, json.dumps(p.after, sort_keys=True))
               for p in plan.policy_changes)
    return out


def _moved(saved: Plan, fresh: Plan) -> str:
    """Name what differs between the reviewed changes and what a plan now would do."""

    def name(c: Change) -> str:
        life = "permanent" if c.permanent else c.duration or (
            format_instant(c.end) if c.end else "")
        return f"{c.action} {c.kind} {c.access} {c.principal} in {c.group} {life}".rstrip()

    before = {_key(c): name(c) for c in saved.changes}
    after = {_key(c): name(c) for c in fresh.changes}
    parts = [f"no longer: {before[k]}" for k in sorted(before.keys() - after.keys(), key=str)]
    parts += [f"now also: {after[k]}" for k in sorted(after.keys() - before.keys(), key=str)]
    more = f"; and {len(parts) - 5} more" if len(parts) > 5 else ""
    return "; ".join(parts[:5]) + more
