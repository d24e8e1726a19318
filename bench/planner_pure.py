"""Benchmark the pure planner: N groups x M assignments, no I/O (issue: planner < 1 s for 20k).

Prints one JSON object: groups, assignments, changes, wall_s, cpu_s, peak_rss_mb.
Run: python bench/planner_pure.py --groups 1000 --assignments-per-group 20
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
import uuid
from datetime import UTC, datetime, timedelta

from reconciler.desired.model import (
    Access,
    DesiredAssignment,
    DesiredGroup,
    DesiredState,
    Kind,
    Lifetime,
    Location,
    Mode,
    PrincipalRef,
    PrincipalType,
    Settings,
)
from reconciler.live.model import (
    DirectoryObject,
    ExpirationRule,
    GroupPolicy,
    LiveGroup,
    LiveSchedule,
    LiveState,
    Resolution,
)
from reconciler.plan.planner import plan

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def build(groups: int, per_group: int, drift: float, seed: int):
    rng = random.Random(seed)
    principals = [DirectoryObject(str(uuid.UUID(int=rng.getrandbits(128))), PrincipalType.USER,
                                  f"User {i}", f"user{i}@contoso.example")
                  for i in range(max(per_group * 2, 2000))]
    refs = {p.id: PrincipalRef(PrincipalType.USER, p.user_principal_name or "") for p in principals}
    desired_groups, live_groups, rows, policies = [], {}, [], {}
    for g in range(groups):
        gid = str(uuid.UUID(int=rng.getrandbits(128)))
        name = f"grp-{g:05d}"
        live_groups[name] = (LiveGroup(gid, name),)
        for access in Access:
            policies[(gid, access)] = GroupPolicy(
                gid, access, f"Group_{gid}_{access}",
                ExpirationRule(True, timedelta(days=365), "P365D"),
                ExpirationRule(True, timedelta(days=180), "P180D"), frozenset(), frozenset())
        members = rng.sample(principals, per_group)
        entries = []
        for i, p in enumerate(members):
            kind = Kind.ELIGIBLE if i % 4 else Kind.ACTIVE
            access = Access.MEMBER if i % 5 else Access.OWNER
            until = NOW + timedelta(days=90 + i)
            entries.append(DesiredAssignment(access, kind, refs[p.id], Lifetime.fixed(until),
                                             Location(f"groups/{name}.yaml", 5 + i),
                                             justification="bench"))
            if rng.random() >= drift:  # in sync
                rows.append(LiveSchedule(f"{gid}_{access}_{i}", gid, access, kind, p.id,
                                         NOW - timedelta(days=3), until, NOW - timedelta(days=3)))
            elif rng.random() < 0.5:  # lifetime drift
                rows.append(LiveSchedule(f"{gid}_{access}_{i}", gid, access, kind, p.id,
                                         NOW - timedelta(days=3), until + timedelta(days=7),
                                         NOW - timedelta(days=3)))
        desired_groups.append(DesiredGroup(
            name, Mode.AUTHORITATIVE, frozenset((a, k) for a in Access for k in Kind),
            tuple(entries), Location(f"groups/{name}.yaml", 1)))
    desired = DesiredState("bench", Settings(), tuple(desired_groups), "digest")
    resolution = Resolution(live_groups, {refs[p.id]: (p,) for p in principals})
    live = LiveState(tuple(rows), policies, {p.id: p for p in principals}, "fp")
    return desired, resolution, live


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--assignments-per-group", type=int, default=20)
    parser.add_argument("--drift", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    desired, resolution, live = build(args.groups, args.assignments_per_group, args.drift,
                                      args.seed)
    wall, cpu = time.perf_counter(), time.process_time()
    result = plan(desired, resolution, live, NOW, allow_removals=None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({
        "benchmark": "planner_pure",
        "groups": args.groups,
        "assignments": args.groups * args.assignments_per_group,
        "live_rows": len(live.schedules),
        "changes": len(result.changes),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
