"""Smoke tests of the scale benchmarks at tiny scale: generator, served plan, served apply.

Each served test starts the emulator as a separate process on 127.0.0.1 (about a second).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import apply_scale
import plan_scale
import synth

from reconciler.config import load_desired

PLAN_FIELDS = {
    "groups", "assignments", "principals", "http_round_trips", "emulator_requests",
    "lower_bound", "ratio", "per_assignment_refresh_round_trips", "wall_s", "cpu_s",
    "peak_rss_mb", "changes", "expected_changes",
}


def test_generator_is_deterministic_and_counts_its_drift(tmp_path: Path) -> None:
    a = synth.generate(5, 20, 60, 0.3, seed=3)
    b = synth.generate(5, 20, 60, 0.3, seed=3)
    c = synth.generate(5, 20, 60, 0.3, seed=4)
    assert a == b and a.tenant != c.tenant
    e = a.expected
    assert (e.groups, e.assignments, e.principals) == (5, 100, 60)
    assert e.live_rows == e.assignments - e.creates + e.removes
    assert e.changes > 0
    tenant_file, desired_dir = synth.write(a, tmp_path)
    assert json.loads(tenant_file.read_text())["now"] == "2026-12-01T12:00:00Z"
    state, problems = load_desired(desired_dir)
    assert state is not None, problems
    assert sum(len(g.assignments) for g in state.groups) == 100


def test_no_drift_means_every_entry_is_live() -> None:
    e = synth.generate(3, 10, 40, 0.0, seed=1).expected
    assert (e.creates, e.updates, e.removes, e.live_rows) == (0, 0, 0, 30)


def test_plan_scale_meets_the_lower_bound_at_tiny_scale(tmp_path: Path) -> None:
    result = plan_scale.run(groups=5, per_group=20, principals=60, latency_ms=0, drift=0.3,
                            seed=7, concurrency=None, workdir=tmp_path)
    assert set(result) >= PLAN_FIELDS
    assert (result["groups"], result["assignments"], result["principals"]) == (5, 100, 60)
    assert result["changes"] == result["expected_changes"] > 0
    assert result["plan_errors"] == 0
    # the bound computed the same way as the script: 3 lists x 5 groups in one envelope;
    # names 15 to an `in` clause: 5 group names + the principals' UPNs, group names and
    # service principal names, a few clauses in one envelope
    assert result["lower_bound"] == math.ceil(3 * 5 / 20) + 1 == 2
    assert result["lower_bound_one_lookup_per_name"] == 1 + math.ceil((5 + 60) / 20) == 5
    assert result["http_round_trips"] == result["lower_bound"] == result["emulator_requests"]
    assert result["ratio"] == 1.0
    assert result["per_assignment_refresh_round_trips"] == 100 + 5
    assert result["wall_s"] > 0 and result["cpu_s"] > 0 and result["peak_rss_mb"] > 0


def test_apply_scale_applies_and_verifies_every_create(tmp_path: Path) -> None:
    result = apply_scale.run(creates=20, per_group=10, latency_ms=0, seed=5, workdir=tmp_path)
    assert result["changes"] == result["expected_creates"] == 20
    assert result["applied"] == result["verified"] == result["emulator_accepted_writes"] == 20
    assert result["failed"] == 0 and result["refused"] is None
    assert result["replan_changes"] == 0
    # the 20 POSTs share one envelope, the 20 verifying reads another
    assert result["apply_round_trips"] == result["apply_lower_bound"] == 2
    assert result["http_round_trips"] == result["emulator_requests"]
