"""Which declared groups and entries a report covers: the groups that resolved to exactly one
manageable group, and where each resolved entry is declared (as the planner has them). Shared
by the drift and access reports. And the part of the files one run covers (`--only`,
`--shard`, see `reconciler.desired.select`): the shard's groups once resolved, and
`PlanScope`, what a plan records of it. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.desired.model import Access, DesiredGroup, DesiredState, Kind, Location
from reconciler.desired.select import Scope, Shard
from reconciler.live.model import LiveGroup, Resolution
from reconciler.problems import Problem


def managed_groups(
    desired: DesiredState, resolution: Resolution
) -> list[tuple[DesiredGroup, LiveGroup]]:
    """Declared groups that resolved to exactly one manageable group (as the planner has it)."""
    out = []
    for group in desired.groups:
        matches = resolution.groups.get(group.group, ())
        if len(matches) == 1 and matches[0].unmanageable_reason is None:
            out.append((group, matches[0]))
    return out


def declared_locations(
    group: DesiredGroup, resolution: Resolution
) -> dict[tuple[Access, Kind, str], Location]:
    """(access, kind, principal id) -> location of every entry whose principal resolved
    uniquely (the first one, as in the planner)."""
    out: dict[tuple[Access, Kind, str], Location] = {}
    for entry in group.assignments:
        matches = resolution.principals.get(entry.principal, ())
        if len(matches) == 1:
            out.setdefault((entry.access, entry.kind, matches[0].id), entry.location)
    return out


# --- the part of the files one run covers (--only / --shard) -------------------------------


def shard_key(ref: str, matches: tuple[LiveGroup, ...] | None) -> str:
    """What places a declared group in a shard: the object id of the one group `ref`
    resolves to, else (not found, ambiguous, lookup refused) `ref` itself, so that its
    problem appears in exactly one shard."""
    return matches[0].id if matches is not None and len(matches) == 1 else ref


def shard_groups(
    desired: DesiredState, groups: Mapping[str, tuple[LiveGroup, ...]], shard: Shard | None
) -> DesiredState:
    """`desired` with only the groups of `shard` (all of them when None); `groups` maps each
    declared reference to its matches (`Resolution.groups`)."""
    if shard is None:
        return desired
    kept = tuple(g for g in desired.groups if shard.holds(shard_key(g.group, groups.get(g.group))))
    return replace(desired, groups=kept)


def scoped_problems(
    problems: Sequence[Problem], whole: DesiredState, scoped: DesiredState
) -> list[Problem]:
    """The config problems a scoped run reports: all but those of the files of declared groups
    it leaves out (each appears in the run that covers its group). Problems of a file that
    declares no usable group cannot be placed and stay in every run."""
    left_out = ({g.location.file for g in whole.groups}
                - {g.location.file for g in scoped.groups})
    return [p for p in problems if p.file not in left_out]


@dataclass(frozen=True, slots=True)
class PlanScope:
    """What a plan covers when it is not the whole directory: the `--only` globs, the shard
    (`I/N`), the declared references of the groups it planned (file order) and how many groups
    the directory declares. Recorded in the plan (JSON `scope`, and one line in markdown and
    text) so a reviewer of one shard's comment sees "shard 1/2: 4 of 8 groups"."""

    only: tuple[str, ...]
    shard: Shard | None
    groups: tuple[str, ...]
    declared: int

    @classmethod
    def of(cls, scope: Scope, whole: DesiredState, scoped: DesiredState) -> PlanScope:
        """The record of planning `scoped` (the groups in `scope`) out of `whole`."""
        return cls(scope.only, scope.shard, tuple(g.group for g in scoped.groups),
                   len(whole.groups))

    @property
    def request(self) -> Scope:
        """The scope to plan again with (`apply --plan` of a saved scoped plan)."""
        return Scope(self.only, self.shard)

    def describe(self) -> str:
        """`shard 1/2, --only 'groups/platform-*': 4 of 8 groups`."""
        parts = [f"shard {self.shard}"] if self.shard else []
        parts += [f"--only {' '.join(repr(g) for g in self.only)}"] if self.only else []
        return f"{', '.join(parts)}: {len(self.groups)} of {self.declared} groups"

    def to_dict(self) -> dict[str, Any]:
        return {
            "only": list(self.only),
            "shard": ({"index": self.shard.index, "count": self.shard.count}
                      if self.shard else None),
            "groups": list(self.groups),
            "declared": self.declared,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanScope:
        """Raises `ValueError` (`SelectError`) for a shard out of range."""
        shard = data.get("shard")
        return cls(
            only=tuple(data.get("only") or ()),
            shard=Shard(int(shard["index"]), int(shard["count"])) if shard else None,
            groups=tuple(data.get("groups") or ()),
            declared=int(data.get("declared") or 0),
        )
