"""Which declared groups and entries a report covers: the groups that resolved to exactly one
manageable group, and where each resolved entry is declared (as the planner has them). Shared
by the drift and access reports. Pure."""

from __future__ import annotations

from reconciler.desired.model import Access, DesiredGroup, DesiredState, Kind, Location
from reconciler.live.model import LiveGroup, Resolution


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
