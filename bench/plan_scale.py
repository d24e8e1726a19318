"""Plan at tenant scale against the emulator served over loopback HTTP (issue 8).

Generates a synthetic tenant (bench/synth.py, deterministic seed), starts
`python -m reconciler emulator serve --state tenant.json --latency-ms N` as a separate process on
127.0.0.1, waits until it answers, then plans in this process through the real code path:
`load_desired` -> `open_backend(Target(kind="url"))` (msgraph-sdk adapter, httpx, real HTTP)
-> `reconciler.pipeline.make_plan`. The emulator is always stopped (SIGINT, then SIGKILL).

Prints one JSON object:
- groups, assignments, principals (distinct principal references), live_rows, changes
  (and expected_changes from the generator: they must agree);
- http_round_trips: HTTP requests the backend sent (`GraphBackend.request_count`; a `$batch`
  envelope counts once), emulator_requests: the same seen in the emulator's request log;
- lower_bound = reads + resolution + naming, the true bound (issue 15). Reads: ceil(3*G/20):
  three lists per group (eligibilitySchedules, assignmentSchedules, policy assignments with
  both member and owner policies inlined), 20 per `$batch`, each list one page (page size
  100 > rows per list). Resolution: names go 15 to an `in (…)` clause (reference 1.7): one
  sub-request per ceil(distinct UPNs/15), ceil(distinct group names, groups and `group:`
  principals together/15), ceil(service principal names/15); plus one per group or
  principal given by object id (two for a service principal GUID: by id and by appId) and
  ceil(bare ids/1000) `getByIds`; all 20 to a `$batch`. Reads need the resolved group ids,
  so reads and group resolution cannot share envelopes. Naming: live rows may name
  principals the files do not (e.g. an assignment to remove); their names come only from a
  `getByIds` after the reads: ceil(ceil(unresolved ids/1000)/20) more round trips;
- lower_bound_one_lookup_per_name: the old bound (one lookup sub-request per name), printed
  next to it for comparison;
- ratio = http_round_trips / lower_bound (and ratio_one_lookup_per_name);
- per_assignment_refresh_round_trips = assignments + groups: what a Terraform-style refresh
  sends (one GET per assignment resource and one per group; principal lookups not counted);
- wall_s, cpu_s (user + system of this planning process), peak_rss_mb (this process), and the
  phases (load_s: reading the desired files, read_s: resolution + live reads, plan_s;
  peak_rss_mb_after_load / _after_plan: the peak so far at those points).

Run: `.venv/bin/python bench/plan_scale.py --groups 1000 --assignments-per-group 20
--latency-ms 100`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from served import generate, measure, peak_rss_mb, serve_emulator

from reconciler import aio
from reconciler.clock import OffsetClock
from reconciler.config import load_desired
from reconciler.desired.model import DesiredState, PrincipalType
from reconciler.graph.batch import MAX_BATCH
from reconciler.graph.reader import GET_BY_IDS_MAX
from reconciler.graph.resolver import is_object_id
from reconciler.graph.urls import MAX_IN_VALUES
from reconciler.live.model import LiveState, Resolution
from reconciler.pipeline import read_state
from reconciler.plan.planner import collect_principals, plan
from reconciler.targets import Target, open_backend

LISTS_PER_GROUP = 3


def lower_bound(desired: DesiredState, unresolved_live_principals: int = 0) -> dict[str, int]:
    """The fewest `$batch` round trips a plan of `desired` can take (see the module doc):
    {"reads": ceil(3*G/20), "resolution": ceil(lookups/20) with names 15 to an `in` clause,
    "naming": round trips to name `unresolved_live_principals`, "total": their sum, and
    "resolution_one_per_name": the old bound's resolution, one lookup per name}."""
    group_refs = {g.group for g in desired.groups}
    refs = collect_principals(desired)
    bare_ids = sum(1 for r in refs if r.type is PrincipalType.ID and is_object_id(r.value))
    named = sum(1 for r in refs if r.type is not PrincipalType.ID)
    by_id = sum(1 for g in group_refs if is_object_id(g)) + sum(
        1
        for r in refs
        if r.type in (PrincipalType.GROUP, PrincipalType.SERVICE_PRINCIPAL)
        and is_object_id(r.value)
    )
    names: dict[str, set[str]] = {"user": set(), "group": set(), "sp": set(), "app": set()}
    names["group"].update(g.lower() for g in group_refs if not is_object_id(g))
    for r in refs:
        value = r.value.strip().lower()
        if r.type is PrincipalType.USER:
            names["user"].add(value)
        elif r.type is PrincipalType.GROUP and not is_object_id(value):
            names["group"].add(value)
        elif r.type is PrincipalType.SERVICE_PRINCIPAL:
            names["app" if is_object_id(value) else "sp"].add(value)
    clauses = sum(math.ceil(len(v) / MAX_IN_VALUES) for v in names.values())
    lookups = clauses + by_id + math.ceil(bare_ids / GET_BY_IDS_MAX)
    one_per_name = len(group_refs) + named + math.ceil(bare_ids / GET_BY_IDS_MAX)
    reads = math.ceil(LISTS_PER_GROUP * len(group_refs) / MAX_BATCH)
    resolution = math.ceil(lookups / MAX_BATCH)
    naming = math.ceil(math.ceil(unresolved_live_principals / GET_BY_IDS_MAX) / MAX_BATCH)
    return {"reads": reads, "resolution": resolution, "naming": naming,
            "total": reads + resolution + naming,
            "resolution_one_per_name": math.ceil(one_per_name / MAX_BATCH)}


def unresolved_principals(resolution: Resolution, live: LiveState) -> int:
    """Distinct principal ids on live rows that the resolution of the files did not name."""
    known = {o.id for objs in resolution.principals.values() for o in objs}
    return len({s.principal_id for s in live.schedules} - known)


async def _plan(desired_dir: Path, base_url: str, now: Any, concurrency: int | None,
                phases: dict[str, float]) -> tuple[DesiredState, Any, int]:
    """Load, read and plan; returns (desired, (plan, resolution, live), request count)."""
    t0 = time.perf_counter()
    state, problems = load_desired(desired_dir)
    if state is None:
        raise SystemExit(f"generated desired state did not validate: {problems[:3]}")
    phases["load_s"] = round(time.perf_counter() - t0, 3)
    phases["peak_rss_mb_after_load"] = peak_rss_mb()
    options = {"concurrency": concurrency} if concurrency else {}
    async with open_backend(Target(kind="url", graph_url=base_url), clock=OffsetClock(now),
                            **options) as backend:
        t1 = time.perf_counter()
        resolution, live = await read_state(state, backend)
        t2 = time.perf_counter()
        the_plan = plan(state, resolution, live, backend.clock.now())
        t3 = time.perf_counter()
        count = backend.request_count
    phases["read_s"] = round(t2 - t1, 3)
    phases["peak_rss_mb_after_plan"] = peak_rss_mb()
    phases["plan_s"] = round(t3 - t2, 3)
    return state, (the_plan, resolution, live), count


def run(groups: int, per_group: int, principals: int, latency_ms: int, drift: float, seed: int,
        concurrency: int | None, workdir: Path) -> dict[str, Any]:
    """Generate, serve, plan; return the JSON-ready result (see the module doc)."""
    expected = generate(workdir, groups, per_group, principals, drift, seed)
    tenant_file = workdir / "tenant.json"
    now = _fixture_now(tenant_file)
    phases: dict[str, float] = {}
    with serve_emulator(tenant_file, latency_ms, workdir) as served, measure() as timing:
        state, (the_plan, resolution, live), sent = aio.run(
            _plan(workdir / "desired", served.base_url, now, concurrency, phases))
    bound = lower_bound(state, unresolved_principals(resolution, live))
    old_bound = bound["reads"] + bound["resolution_one_per_name"] + bound["naming"]
    assignments = sum(len(g.assignments) for g in state.groups)
    group_count = len(state.groups)
    return {
        "benchmark": "plan_scale",
        "groups": group_count,
        "assignments": assignments,
        "principals": len(collect_principals(state)),
        "live_rows": len(live.schedules),
        "changes": len(the_plan.changes),
        "expected_changes": expected["creates"] + expected["updates"] + expected["removes"],
        "plan_errors": len(the_plan.errors),
        "latency_ms": latency_ms,
        "http_round_trips": sent,
        "emulator_requests": served.top_level_requests(),
        "lower_bound": bound["total"],
        "lower_bound_reads": bound["reads"],
        "lower_bound_resolution": bound["resolution"],
        "lower_bound_naming": bound["naming"],
        "ratio": round(sent / bound["total"], 3),
        "lower_bound_one_lookup_per_name": old_bound,
        "ratio_one_lookup_per_name": round(sent / old_bound, 3),
        "per_assignment_refresh_round_trips": assignments + group_count,
        "wall_s": timing.wall_s,
        "cpu_s": timing.cpu_s,
        "peak_rss_mb": timing.peak_rss_mb,
        "phases": phases,
    }


def _fixture_now(tenant_file: Path) -> Any:
    """The generated tenant's `now` (bench/synth.py writes `synth.NOW`): the tenant file is not
    parsed here, so its size never counts in this process's peak RSS."""
    from synth import NOW

    return NOW


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--assignments-per-group", type=int, default=20)
    parser.add_argument("--principals", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--drift", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="$batch envelopes in flight (default: the backend's own)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="generate into this directory and keep it (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pim-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        result = run(args.groups, args.assignments_per_group, args.principals, args.latency_ms,
                     args.drift, args.seed, args.concurrency, workdir)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
