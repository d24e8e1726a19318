"""The removal safety guards (format.md "Safety"), over a whole plan's changes.

- more removals than `safety.max_removals` in one run;
- more than `safety.max_removal_fraction` of a group's managed assignments, counted only when
  more than two would go;
- a group file that declares nothing and would remove all of (more than two) live assignments.

Each is an error (apply refuses the plan) unless the operator names the exact number of
removals (`--allow-removals N`), which turns them into warnings.

Shards (`--shard I/N`): the per-group guards are per group and do not change. The cap
`safety.max_removals` is a total for the whole run, that is for all N shards together; as no
shard sees the others' removals, each gets a fixed share of it (`Shard.removal_share`:
`max_removals // N`, plus one for the first `max_removals % N` shards), so the shares add up
to exactly `max_removals` and all N shards together can never remove more. `--allow-removals
K` in a shard names that shard's own count. `--only` alone is no partition: the selected
groups get the whole cap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from reconciler.desired.model import Settings
from reconciler.desired.select import Shard
from reconciler.plan.changes import Action, Change
from reconciler.problems import Code, Problem, Severity


def safety_problems(
    changes: Iterable[Change],
    managed_counts: Mapping[str, int],
    emptied_groups: set[str],
    settings: Settings,
    allow_removals: int | None,
    shard: Shard | None = None,
) -> list[Problem]:
    """Problems (`too_many_removals`, `empty_desired_set`) for the removals in `changes`.

    `managed_counts` maps group id to its number of managed live assignments (the base of the
    fraction); `emptied_groups` holds ids of groups whose file declares no assignment.
    `shard` set: `changes` are one shard's, capped at its share of `safety.max_removals`
    (module docstring); `allow_removals` then counts this shard's removals.
    """
    removals = [c for c in changes if c.action is Action.REMOVE]
    total = len(removals)
    if not total:
        return []
    out: list[Problem] = []
    overridden = allow_removals is not None and allow_removals == total
    severity = Severity.WARNING if overridden else Severity.ERROR
    whose = "this shard" if shard else "this run"
    hint = (f"passed with --allow-removals {total}" if overridden
            else f"pass --allow-removals {total} ({whose}'s total removals) to apply it anyway")
    if allow_removals is not None and not overridden:  # a count that is not this run's
        hint = (f"--allow-removals {allow_removals} does not match {whose}'s {total} "
                f"removals: pass --allow-removals {total} to apply it anyway")
    safety = settings.safety
    if shard is not None:
        share = shard.removal_share(safety.max_removals)
        if total > share:
            out.append(Problem(
                severity, Code.TOO_MANY_REMOVALS,
                f"{total} removals exceed this shard's share of the run's total: shard {shard} "
                f"may remove {share} of safety.max_removals {safety.max_removals} (shared by "
                f"{shard.count} shards); {hint}",
                file=settings.location.file if settings.location else None))
    elif total > safety.max_removals:
        out.append(Problem(
            severity, Code.TOO_MANY_REMOVALS,
            f"{total} removals exceed safety.max_removals ({safety.max_removals}); {hint}",
            file=settings.location.file if settings.location else None))
    per_group: dict[str, list[Change]] = defaultdict(list)
    for change in removals:
        per_group[change.group_id].append(change)
    for group_id, gone in sorted(per_group.items()):
        managed = managed_counts.get(group_id, 0)
        first = gone[0]
        if len(gone) <= 2 or not managed:
            continue
        where = {"file": first.file, "line": first.line, "group": first.group}
        if group_id in emptied_groups:
            out.append(Problem(
                severity, Code.EMPTY_DESIRED_SET,
                f"the file declares no assignments for '{first.group}', which would remove all "
                f"{len(gone)} of its live assignments; {hint}", **where))
        elif len(gone) / managed > safety.max_removal_fraction:
            out.append(Problem(
                severity, Code.TOO_MANY_REMOVALS,
                f"{len(gone)} of {managed} managed assignments of '{first.group}' would be "
                f"removed, more than safety.max_removal_fraction "
                f"({safety.max_removal_fraction:g}); {hint}", **where))
    return out
