"""Scale benchmark for `load_desired`: 2,000 group files x 20 assignments each.

Run: `.venv/bin/python bench/validate_scale.py [--groups N] [--per-group M]`.
Prints one JSON object: files, assignments, wall_s, cpu_s, peak_rss_mb. Target: wall_s < 5
on the project's CI machine (issue 2).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.config import load_desired

SETTINGS = """\
tenant: contoso.onmicrosoft.com
protected: [bg-01@contoso.example]
defaults:
  renew_before: P14D
  justification: Managed by pim-reconciler
  active: { duration: P30D }
"""


def group_file(index: int, per_group: int) -> str:
    """One realistic group file: a mix of every lifetime form, principal form and section."""
    lines = [
        "# yaml-language-server: $schema=../../schemas/assignments.schema.json",
        f"group: PIM-Bench-{index:05d}",
        f"description: Benchmark group {index}",
        "mode: authoritative",
        "members:",
        "  eligible:",
    ]
    owners: list[str] = []
    for n in range(per_group):
        target = owners if n % 5 == 4 else lines
        forms = (
            f"    - principal: user{index}-{n}@contoso.example\n      duration: P180D",
            f"    - principal: {{ group: Team-{index}-{n} }}\n      until: 2027-06-30T00:00:00Z",
            f"    - principal: {{ servicePrincipal: app-{index}-{n} }}\n      permanent: true",
            f"    - principal: 00000000-0000-4000-8000-{index:06d}{n:06d}\n      duration: PT8H\n"
            "      justification: On-call cover\n"
            "      ticket: { system: ServiceNow, number: CHG-1234 }",
        )
        target.append(forms[n % 4])
    if owners:
        lines += ["owners:", "  eligible:", *owners]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--per-group", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "groups").mkdir()
        (root / "pim-reconciler.yaml").write_text(SETTINGS)
        for i in range(args.groups):
            (root / "groups" / f"g{i:05d}.yaml").write_text(group_file(i, args.per_group))
        wall0, cpu0 = time.perf_counter(), time.process_time()
        state, problems = load_desired(root)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if state is None:
        raise SystemExit(f"benchmark input did not validate: {problems[:3]}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "files": args.groups + 1,
                "assignments": sum(len(g.assignments) for g in state.groups),
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "peak_rss_mb": round(peak_kb / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
