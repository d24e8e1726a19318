"""Apply at scale: N creates against the emulator served over loopback HTTP (issue 8).

Generates a tenant whose desired files name N assignments (20 per group) of which none exist
live (bench/synth.py with drift 1 and only creates), starts `python -m reconciler emulator serve
--latency-ms N` as a separate process on 127.0.0.1, then in this process does what `apply` does
(`reconciler.apply.runs.run_apply` sequences the same calls): `make_plan` through
`open_backend(Target(kind="url"))`, then `reconciler.apply.executor.execute` (writes in `$batch`
envelopes of 20, every write verified by re-reading the schedule, the reads batched too).
Afterwards a fresh plan must show no changes. The emulator is always stopped (SIGINT, then SIGKILL).

Prints one JSON object: changes (planned), applied, verified (applied and seen by a re-read),
failed, replan_changes (0 when converged), http_round_trips (GraphBackend.request_count, plan +
apply; plan_round_trips / apply_round_trips split it), emulator_requests (the same from the
emulator's request log), apply_lower_bound = 2 * ceil(N/20) (one envelope of 20 POSTs and one
of 20 verifying reads per 20 creates; retries come on top) and apply_ratio,
emulator_accepted_writes (schedule-request POSTs it answered 201),
wall_s / cpu_s / peak_rss_mb of this process for plan + apply.

Run: `.venv/bin/python bench/apply_scale.py --creates 1000 --latency-ms 100`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from served import generate, measure, serve_emulator
from synth import NOW as synth_now

from reconciler import aio
from reconciler.apply.executor import ApplyReport, Outcome, execute
from reconciler.apply.runs import missing_write_permissions
from reconciler.clock import OffsetClock
from reconciler.config import load_desired
from reconciler.desired.model import DesiredState
from reconciler.graph.batch import MAX_BATCH
from reconciler.pipeline import make_plan
from reconciler.targets import Target, open_backend


def backend_concurrency() -> int:
    """The backend's default bound on `$batch` envelopes in flight."""
    import inspect

    from reconciler.graph.backend import GraphBackend

    return int(inspect.signature(GraphBackend.__init__).parameters["concurrency"].default)


async def _apply(desired: DesiredState, base_url: str, now: Any) -> dict[str, Any]:
    async with open_backend(Target(kind="url", graph_url=base_url),
                            clock=OffsetClock(now)) as backend:
        the_plan = await make_plan(desired, backend, backend.clock.now())
        planned = backend.request_count
        report: ApplyReport = await execute(the_plan, backend, backend.clock,
                                            missing_permissions=missing_write_permissions)
        total = backend.request_count
    return {"plan": the_plan, "report": report, "plan_round_trips": planned,
            "round_trips": total}


async def _replan(desired: DesiredState, base_url: str, now: Any) -> tuple[int, int]:
    """(changes a fresh plan shows, round trips it took)."""
    async with open_backend(Target(kind="url", graph_url=base_url),
                            clock=OffsetClock(now)) as backend:
        changes = len((await make_plan(desired, backend, backend.clock.now())).changes)
        return changes, backend.request_count


def run(creates: int, per_group: int, latency_ms: int, seed: int, workdir: Path
        ) -> dict[str, Any]:
    """Generate, serve, apply, re-plan; return the JSON-ready result (see the module doc)."""
    groups = math.ceil(creates / per_group)
    principals = max(per_group * 2, groups * per_group // 5)
    expected = generate(workdir, groups, per_group, principals, 1.0, seed, mix="1,0,0")
    tenant_file = workdir / "tenant.json"
    now = synth_now  # not parsed from the tenant file: its size would count in the peak RSS
    desired, problems = load_desired(workdir / "desired")
    if desired is None:
        raise SystemExit(f"generated desired state did not validate: {problems[:3]}")
    with serve_emulator(tenant_file, latency_ms, workdir) as served:
        with measure() as timing:
            done = aio.run(_apply(desired, served.base_url, now))
        replan, replan_trips = aio.run(_replan(desired, served.base_url, now))
    report: ApplyReport = done["report"]
    applied = [r for r in report.results if r.outcome is Outcome.APPLIED]
    accepted = sum(1 for e in served.log if e.get("method") == "POST"
                   and str(e.get("path", "")).endswith("ScheduleRequests")
                   and e.get("status") == 201)
    return {
        "benchmark": "apply_scale",
        "changes": len(done["plan"].changes),
        "expected_creates": expected["creates"],
        "applied": len(applied),
        "verified": sum(1 for r in applied if r.message == "verified"),
        "failed": report.count(Outcome.FAILED),
        "refused": report.refused,
        "replan_changes": replan,
        "latency_ms": latency_ms,
        "envelopes_in_flight_max": backend_concurrency(),
        "http_round_trips": done["round_trips"],
        "plan_round_trips": done["plan_round_trips"],
        "apply_round_trips": done["round_trips"] - done["plan_round_trips"],
        "apply_lower_bound": 2 * math.ceil(len(done["plan"].changes) / MAX_BATCH),
        "apply_ratio": round((done["round_trips"] - done["plan_round_trips"])
                             / max(1, 2 * math.ceil(len(done["plan"].changes) / MAX_BATCH)), 3),
        "emulator_requests": served.top_level_requests() - replan_trips,  # apply run's share
        "emulator_accepted_writes": accepted,
        "wall_s": timing.wall_s,
        "cpu_s": timing.cpu_s,
        "peak_rss_mb": timing.peak_rss_mb,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--assignments-per-group", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", type=Path, default=None,
                        help="generate into this directory and keep it (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pim-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        result = run(args.creates, args.assignments_per_group, args.latency_ms, args.seed,
                     workdir)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
